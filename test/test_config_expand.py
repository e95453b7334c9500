"""Expansion rules: config-time `$NAME`, runtime `%name%`/`?name?` templates, build_argv.

Property tests (hypothesis) check that any input gives a value or a clear error,
that escapes round-trip, that no placeholder is left over and that limits hold.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbspawn.config import model
from afbspawn.config.argv import MAX_ARGV, MAX_VALUE, ArgumentError, build_argv
from afbspawn.config.templates import TemplateError, escape, parse_template
from afbspawn.config.variables import Expander, ExpansionError

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True)
SAFE_VALUES = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: not s.startswith("-"))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10)


def command(*args: str, schema: dict[str, Any] | None = None) -> model.Command:
    return model.Command(uid="cmd", verb="cmd", cmdpath="/bin/echo",
                         args=tuple(parse_template(a) for a in args), args_schema=schema)


# -- config-time $NAME ---------------------------------------------------------------------

def test_variable_forms_and_precedence() -> None:
    expander = Expander({"HOME": "/h", "X": "env", "API_NAME": "from-env"}, {"API_NAME": "api"})
    assert expander.expand("$X ${X} $(X) $API_NAME $HOME $$X $$$$") == "env env env api /h $X $$"
    assert expander.with_context(SANDBOX_UID="sb").expand("${SANDBOX_UID}-$API_NAME") == "sb-api"


def test_builtins_without_environment() -> None:
    expander = Expander({})
    assert expander.expand("$HOME:$AFB_ROOTDIR:$LOGNAME") == "/sandbox:.:Unknown"
    assert re.fullmatch(r"[0-9a-f-]{36}", expander.expand("$UUID"))
    assert expander.expand("$SBINDIR") in ("/sbin", "/usr/sbin")


@pytest.mark.parametrize("text,message", [
    ("$NOPE", "unknown variable $NOPE"), ("${NOPE}", "unknown variable $NOPE"), ("a $", "'$' does not start a variable reference"),
    ("$1", "'$' does not start a variable reference"), ("${unterminated", "'$' does not start a variable reference"),
])
def test_variable_errors(text: str, message: str) -> None:
    with pytest.raises(ExpansionError, match=re.escape(message)) as caught:
        Expander({}).expand(text)
    assert "$$" in (caught.value.hint or "")


def test_variable_expansion_is_bounded() -> None:
    with pytest.raises(ExpansionError, match="limit of 4096 bytes"):
        Expander({"BIG": "x" * 5000}).expand("$BIG")


@settings(deadline=None)  # no timing assertions in tests
@given(st.text())
def test_dollar_escape_round_trips(text: str) -> None:
    if len(text.encode(errors="surrogatepass")) <= 4096:
        assert Expander({}).expand(text.replace("$", "$$")) == text


@settings(deadline=None)  # no timing assertions in tests
@given(st.text(), st.dictionaries(st.from_regex(r"[A-Z_]{1,5}", fullmatch=True), st.text(max_size=10)))
def test_any_text_expands_or_fails_clearly(text: str, environ: dict[str, str]) -> None:
    try:
        result = Expander(environ).expand(text)
    except ExpansionError as error:
        assert str(error)
    else:
        assert isinstance(result, str)


# -- runtime templates ---------------------------------------------------------------------

def test_template_parsing() -> None:
    assert parse_template("?dirname?%filename%").parts == (
        model.Placeholder("dirname", False), model.Placeholder("filename", True))
    assert parse_template("50%% ?? a%x%b").parts == ("50% ? a", model.Placeholder("x", True), "b")
    assert parse_template("plain").is_literal and parse_template("").parts == ()


@pytest.mark.parametrize("text", ["50%", "%a", "a?b", "%not valid%", "%" + "a" * 65 + "%", "%1x%"])
def test_template_stray_marks_are_load_errors(text: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(text)
    assert "%%" in caught.value.hint or "??" in caught.value.hint


@settings(deadline=None)  # no timing assertions in tests
@given(st.text())
def test_template_escape_round_trips(text: str) -> None:
    template = parse_template(escape(text))
    assert template.is_literal and "".join(template.parts) == text  # type: ignore[arg-type]


@settings(deadline=None)  # no timing assertions in tests
@given(st.text(alphabet="%?ab_-1 ", max_size=30))
def test_any_template_parses_or_fails_clearly(text: str) -> None:
    try:
        template = parse_template(text)
    except TemplateError as error:
        assert "placeholder" in str(error)
    else:
        assert all(isinstance(p, (str, model.Placeholder)) for p in template.parts)


@settings(deadline=None)  # no timing assertions in tests
@given(st.lists(st.tuples(st.text(alphabet="ab %?", max_size=5), NAMES, st.booleans()), min_size=1, max_size=5),
       st.data())
def test_filled_argv_has_no_placeholder_left(pieces: list[tuple[str, str, bool]], data: st.DataObject) -> None:
    text = "".join(escape(lit) + (f"%{name}%" if mandatory else f"?{name}?") for lit, name, mandatory in pieces)
    names = {name for _, name, _ in pieces}
    args = {name: data.draw(SAFE_VALUES) for name in names}
    argv = build_argv(command(text), args)
    expected = "".join(lit + args[name] for lit, name, _ in pieces)
    assert argv == ["cmd", expected]


@settings(deadline=None, max_examples=200)  # no timing assertions in tests
@given(JSON)
def test_any_query_args_give_argv_or_argument_error(args: Any) -> None:
    try:
        argv = build_argv(command("x=%a%", "?b?", "lit"), args)
    except ArgumentError as error:
        assert str(error)
    else:
        assert argv[0] == "cmd" and argv[3] == "lit" and all(isinstance(a, str) for a in argv)


@settings(deadline=None)  # no timing assertions in tests
@given(st.integers(min_value=MAX_VALUE + 1, max_value=MAX_VALUE * 3))
def test_value_limit_is_enforced(size: int) -> None:
    with pytest.raises(ArgumentError, match=f"argument 'v' is longer than the limit of {MAX_VALUE} bytes"):
        build_argv(command("%v%"), {"v": "x" * size})


def test_whole_argv_limit_is_enforced() -> None:
    many = command(*(["%v%"] * (MAX_ARGV // MAX_VALUE + 1)))
    with pytest.raises(ArgumentError, match=f"over the limit of {MAX_ARGV} bytes"):
        build_argv(many, {"v": "x" * MAX_VALUE})


# -- build_argv rules ----------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (None, "missing mandatory argument 'name'"),
    ({}, "missing mandatory argument 'name'"),
    ({"name": None}, "argument 'name' is null"),
    ({"name": "a\0b"}, "argument 'name' contains a NUL character"),
    ({"name": "\ud800"}, "argument 'name' is not valid Unicode text"),
    (["name"], "args must be an object of named values, got list"),
    ({"name": "-rf"}, "argument 'name' starts with '-' and would be read as an option"),
])
def test_argument_errors_name_the_argument(args: Any, message: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(message)):
        build_argv(command("-l", "%name%"), args)


def test_value_conversions() -> None:
    cmd = command("%s%", "%n%", "%f%", "%b%", "%o%", "%a%", "?missing?", "x?missing?y")
    argv = build_argv(cmd, {"s": "a b", "n": 42, "f": 1.5, "b": True, "o": {"k": [1, "v"]}, "a": []})
    assert argv == ["cmd", "a b", "42", "1.5", "true", '{"k":[1,"v"]}', "[]", "", "xy"]


def test_literal_only_command_ignores_non_object_args() -> None:
    assert build_argv(command("-a"), True) == ["cmd", "-a"]
    assert build_argv(command(), None) == ["cmd"]


def test_dash_inside_a_larger_element_is_not_an_option() -> None:
    assert build_argv(command("--file=%f%"), {"f": "-x"}) == ["cmd", "--file=-x"]


@pytest.mark.parametrize("prop", [{"pattern": "-[a-z]+"}, {"enum": ["-l", "-a"]}, {"type": "string", "x-allow-dash": True}])
def test_schema_can_allow_a_leading_dash(prop: dict[str, Any]) -> None:
    assert build_argv(command("%opt%", schema={"properties": {"opt": prop}}), {"opt": "-l"}) == ["cmd", "-l"]


def test_args_schema_is_enforced_with_full_pattern_match() -> None:
    schema = {"type": "object", "properties": {"dir": {"type": "string", "pattern": "/[a-z]+"}},
              "required": ["dir"], "additionalProperties": False}
    cmd = command("%dir%", schema=schema)
    assert build_argv(cmd, {"dir": "/etc"}) == ["cmd", "/etc"]
    with pytest.raises(ArgumentError, match=re.escape("argument 'dir': '/etc; rm' does not match the whole pattern")):
        build_argv(cmd, {"dir": "/etc; rm"})
    with pytest.raises(ArgumentError, match="Additional properties are not allowed"):
        build_argv(cmd, {"dir": "/etc", "x": 1})
    with pytest.raises(ArgumentError, match="'dir' is a required property"):
        build_argv(cmd, None)


def test_config_placeholders_reach_build_argv(tmp_path: Any) -> None:
    from afbspawn.config.loader import load_paths

    doc = {"metadata": {"uid": "t", "api": "t"}, "sandboxes": {"uid": "s", "commands": {
        "uid": "ls", "exec": {"cmdpath": "/bin/ls", "args": ["-l", "?dir?%file%", "${PCT}"]}}}}
    (tmp_path / "t.json").write_text(json.dumps(doc))
    (api,) = load_paths([str(tmp_path / "t.json")], environ={"PCT": "100%"}, privileged=False)
    assert build_argv(api.commands[0][1], {"dir": "/etc/", "file": "passwd"}) == ["ls", "-l", "/etc/passwd", "100%"]
