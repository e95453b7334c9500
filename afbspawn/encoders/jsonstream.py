"""A lenient, incremental parser for a stream of JSON values (json-c's leniency).

Accepted beyond strict JSON, like json-c's default tokenizer: single-quoted
strings, `//` and `/* */` comments, NaN and Infinity, trailing commas, values
concatenated with or without whitespace, top-level scalars. Error messages are
json-c's wording. It is iterative (no recursion) and bounded: `maxdepth` nesting
levels and `maxsize` characters per value, whatever the input.

Recovery differs from json-c on purpose: json-c reported one error per rejected
character and could lose the following values; here one error is reported and
the rest of that input line is skipped, so line-delimited output resynchronises
on the next line.
"""
from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

END_OF_DATA = "unexpected end of data"
UNEXPECTED = "unexpected character"
TOO_DEEP = "nesting too deep"
TOO_LARGE = "buffer size overflow"
BAD_ESCAPE = "invalid string sequence"
BAD_COMMENT = "expected comment"

_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r\n\f\v]+)
    | (?P<comment>//[^\n]*\n|/\*.*?\*/)
    | (?P<punct>[{}\[\]:,])
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>-?[A-Za-z_]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)
_IGNORED = frozenset(("space", "comment"))
_MAY_CONTINUE = frozenset(("number", "word"))  # a token ending at the buffer end may grow
_EXTENDABLE = re.compile(r"[\w.+\-]*")  # characters that could still join a number or word
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    '"': '"', "'": "'", "\\": "\\", "/": "/",
    "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STRICT = json.JSONDecoder(strict=False)  # strict=False: raw control characters in strings
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
_FLOAT_WORDS = {"nan": float("nan"), "infinity": float("inf"), "-infinity": float("-inf")}


class JsonSyntaxError(ValueError):
    """One rejected piece of input; its message is json-c's."""


class _Expect(enum.Enum):
    VALUE = "value"
    VALUE_OR_CLOSE = "value or close"  # after '[' or ',' in an array (trailing comma ok)
    KEY_OR_CLOSE = "key or close"  # after '{' or ',' in an object (trailing comma ok)
    COLON = "colon"
    COMMA_OR_CLOSE = "comma or close"


class _Frame:
    __slots__ = ("container", "expect", "key")

    def __init__(self, container: list[Any] | dict[str, Any], expect: _Expect) -> None:
        self.container = container
        self.expect = expect
        self.key = ""


def _extendable_end(text: str, pos: int) -> int:
    """End of the run at `pos` of characters that could still join a number or word."""
    run = _EXTENDABLE.match(text, pos)
    return run.end() if run else pos


def _could_complete(text: str, pos: int) -> bool:
    """Whether unmatched `text[pos:]` is the start of a token that more input may finish."""
    head = text[pos]
    if head in "\"'":
        return True  # an unterminated string (a terminated one would have matched)
    rest = text[pos : pos + 2]
    if head == "/":
        return rest in ("/", "//", "/*")
    return rest in ("-", ".", "-.")


def _unquote(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if len(escape) == 5:
            return chr(int(escape[1:], 16))
        try:
            return _SIMPLE_ESCAPES[escape]
        except KeyError:
            raise JsonSyntaxError(BAD_ESCAPE) from None

    text = _ESCAPE.sub(replace, body)
    if _SURROGATE.search(text):  # \uD83D\uDE00 pairs become one character; lone ones U+FFFD
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _number(token: str) -> int | float:
    if any(c in token for c in ".eE"):
        return float(token)
    return int(token)


def _word(token: str) -> Any:
    if token in _WORDS:
        return _WORDS[token]
    if token.lower() in _FLOAT_WORDS:
        return _FLOAT_WORDS[token.lower()]
    if token[0] == "n":
        raise JsonSyntaxError("null expected")
    if token[0] in "tf":
        raise JsonSyntaxError("boolean expected")
    raise JsonSyntaxError(UNEXPECTED)


class JsonStream:
    """Feed text, get complete top-level values through `emit`, errors through `error`."""

    def __init__(
        self,
        emit: Callable[[Any], None],
        error: Callable[[str], None],
        maxdepth: int,
        maxsize: int,
    ) -> None:
        self._emit = emit
        self._error = error
        self._maxdepth = maxdepth
        self._maxsize = maxsize
        self._pending = ""  # text not yet consumed (an incomplete token)
        self._stack: list[_Frame] = []
        self._value_size = 0  # characters consumed by the value being built
        self._skipping = False  # after an error: discard up to the next newline

    def feed(self, text: str) -> None:
        self._pending += text
        self._consume(at_end=False)
        if len(self._pending) > self._maxsize:
            self._pending = ""
            self._fail(TOO_LARGE)

    def finish(self) -> None:
        """End of stream: flush a trailing scalar, then json-c's end-of-data error."""
        self._consume(at_end=True)
        self._pending = ""
        self._stack.clear()
        self._error(END_OF_DATA)

    def _consume(self, at_end: bool) -> None:
        text, pos = self._pending, 0
        while pos < len(text):
            if self._skipping:
                newline = text.find("\n", pos)
                if newline < 0:
                    pos = len(text)
                    break
                pos, self._skipping = newline + 1, False
                continue
            if not self._stack and text[pos] in "{[":
                end = self._strict_container(text, pos)
                if end is not None:
                    pos = end
                    continue
            match = _TOKEN.match(text, pos)
            if match is None:
                if _could_complete(text, pos):
                    break  # wait for more input (at end: finish() reports it)
                self._fail(BAD_COMMENT if text[pos] == "/" else self._unexpected_message())
                continue
            if (
                not at_end
                and match.lastgroup in _MAY_CONTINUE
                and _extendable_end(text, pos) == len(text)
            ):
                break  # "1e" or "tr" may continue in the next chunk: wait for a delimiter
            pos = match.end()
            if self._stack or match.lastgroup not in _IGNORED:
                if not self._stack:
                    self._value_size = 0  # this token starts a top-level value
                self._value_size += pos - match.start()
                if self._value_size > self._maxsize:
                    self._fail(TOO_LARGE)
                    continue
            try:
                self._token(match.lastgroup or "", match.group())
            except JsonSyntaxError as error:
                self._fail(str(error))
        self._pending = text[pos:]

    def _strict_container(self, text: str, pos: int) -> int | None:
        """Fast path: a complete strict-JSON container at `pos` decoded by the C decoder.

        Returns where it ends, or None to let the lenient tokenizer handle it (lenient
        syntax, incomplete input, errors, or a value the bounds or surrogate rules
        need to see token by token): both paths give the same value.
        """
        try:
            value, end = _STRICT.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None
        openings = text.count("[", pos, end) + text.count("{", pos, end)
        if end - pos > self._maxsize or openings > self._maxdepth:
            return None
        if _SURROGATE_ESCAPE.search(text, pos, end):
            return None
        self._emit(value)
        return end

    def _fail(self, message: str) -> None:
        self._error(message)
        self._stack.clear()
        self._value_size = 0
        self._skipping = True

    def _unexpected_message(self) -> str:
        expect = self._stack[-1].expect if self._stack else _Expect.VALUE
        return self._message_for(expect)

    def _message_for(self, expect: _Expect) -> str:
        in_object = bool(self._stack) and isinstance(self._stack[-1].container, dict)
        if expect is _Expect.KEY_OR_CLOSE:
            return "quoted object property name expected"
        if expect is _Expect.COLON:
            return "object property name separator ':' expected"
        if expect is _Expect.COMMA_OR_CLOSE:
            if in_object:
                return "object value separator ',' expected"
            return "array value separator ',' expected"
        return UNEXPECTED

    def _token(self, kind: str, token: str) -> None:
        if kind in _IGNORED:
            return
        frame = self._stack[-1] if self._stack else None
        expect = frame.expect if frame else _Expect.VALUE
        if kind == "punct":
            self._punctuation(token, frame, expect)
        elif expect is _Expect.KEY_OR_CLOSE and kind == "string" and frame is not None:
            frame.key = _unquote(token)
            frame.expect = _Expect.COLON
        elif expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE):
            self._value(_scalar(kind, token))
        else:
            raise JsonSyntaxError(self._message_for(expect))

    def _punctuation(self, token: str, frame: _Frame | None, expect: _Expect) -> None:
        if token in "{[" and expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE):
            if len(self._stack) >= self._maxdepth:
                raise JsonSyntaxError(TOO_DEEP)
            if token == "{":
                self._stack.append(_Frame({}, _Expect.KEY_OR_CLOSE))
            else:
                self._stack.append(_Frame([], _Expect.VALUE_OR_CLOSE))
            return
        if frame is None:
            raise JsonSyntaxError(UNEXPECTED)
        closes = "}" if isinstance(frame.container, dict) else "]"
        if token == closes and expect in (
            _Expect.COMMA_OR_CLOSE, _Expect.KEY_OR_CLOSE, _Expect.VALUE_OR_CLOSE
        ):
            self._stack.pop()
            self._value(frame.container)
        elif token == ":" and expect is _Expect.COLON:
            frame.expect = _Expect.VALUE
        elif token == "," and expect is _Expect.COMMA_OR_CLOSE:
            is_object = isinstance(frame.container, dict)
            frame.expect = _Expect.KEY_OR_CLOSE if is_object else _Expect.VALUE_OR_CLOSE
        else:
            raise JsonSyntaxError(self._message_for(expect))

    def _value(self, value: Any) -> None:
        if not self._stack:
            self._value_size = 0
            self._emit(value)
            return
        frame = self._stack[-1]
        if isinstance(frame.container, dict):
            frame.container[frame.key] = value
        else:
            frame.container.append(value)
        frame.expect = _Expect.COMMA_OR_CLOSE


def _scalar(kind: str, token: str) -> Any:
    if kind == "string":
        return _unquote(token)
    if kind == "number":
        return _number(token)
    return _word(token)


def values(text: str, maxdepth: int = 32, maxsize: int = 1 << 20) -> Iterator[Any]:
    """Every value of a complete text (helper for tests and tools); errors raise."""
    found: list[Any] = []

    def error(message: str) -> None:
        if message != END_OF_DATA:
            raise JsonSyntaxError(message)

    stream = JsonStream(found.append, error, maxdepth, maxsize)
    stream.feed(text)
    stream.finish()
    yield from found
