"""The `explain` builtin verb over REST on a real binder: the same steps `afb-spawn run --explain`
prints, each tagged with its concern; refusals for bad queries and guarded commands."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from binderproc import Binder, start_binder
from conftest import REPO, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sample sandboxes run their tasks as nobody")

GUARDED = """\
metadata: { uid: guarded, api: guarded }
sandboxes:
  - uid: open
    acls: { user: nobody }
    commands:
      - uid: hello
        args: { type: object, properties: { who: { type: string, pattern: "^[a-z]+$" } }, required: [who] }
        exec: { cmdpath: /bin/echo, args: ["hello", "%who%", "?extra?"] }
  - uid: closed
    privilege: urn:demo:secret
    acls: { user: nobody }
    envs: [ { name: TOKEN, value: s3cret } ]
    commands:
      - uid: peek
        exec: { cmdpath: /bin/true }
"""


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Binder, int]]:
    folder = tmp_path_factory.mktemp("explain")
    guarded = folder / "guarded.yaml"
    guarded.write_text(GUARDED)
    permissions = folder / "permissions.yaml"  # without one the binder warns that nobody may call closed/peek
    permissions.write_text("tokens: { a-token: [urn:demo:secret] }\n")
    port = free_port()
    configs = [str(REPO / "conf.d/sample-namespace.yaml"), str(guarded), str(REPO / "conf.d/sample-basic.yaml")]
    configs = [arg for path in configs for arg in ("--config", path)] + ["--permissions", str(permissions)]
    process = start_binder([sys.executable, "-m", "afbspawn", *configs, "--port", str(port)], cwd=REPO)
    yield process, port
    process.stop()


def call(port: int, api: str, verb: str, query: Any) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{api}/{verb}", data=json.dumps(query).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        return json.load(error)


def without_staging(text: str) -> str:
    """The staging directory of a new root and the binder's cgroup subtree are made per process."""
    return re.sub(r"afb-spawn-\d+-\d+", "<subtree>", re.sub(r"/\S*afb-spawn-root\S*|/tmp/\S+", "<staging>", text))


def test_explain_is_what_run_explain_prints(binder: tuple[Binder, int]) -> None:
    _, port = binder
    reply = call(port, "nsdemo", "explain", {"verb": "show", "args": {"what": "hi"}})
    assert reply["request"]["status"] == "success", reply
    response = reply["response"]
    assert list(response) == ["api", "sandbox", "command", "verb", "info", "steps"]
    assert (response["api"], response["sandbox"], response["verb"]) == ("nsdemo", "box", "show")
    cli = subprocess.run([sys.executable, "-m", "afbspawn", "run", str(REPO / "conf.d/sample-namespace.yaml"), "show",
                          "--arg", "what=hi", "--explain"], capture_output=True, text=True, timeout=60, check=True)
    printed = [re.sub(r"^\s*\d+\. ", "", line) for line in cli.stdout.splitlines()[1:]]
    assert [without_staging(step["text"]) for step in response["steps"]] == [without_staging(p) for p in printed]
    concerns = {step["concern"] for step in response["steps"]}
    assert {"process", "namespaces", "mounts", "identity", "environment", "capabilities", "seccomp", "exec"} <= concerns
    assert {"concern": "identity", "text": "uid 65534 'nobody' (setresuid), then check every id"} in response["steps"]
    assert response["steps"][-1]["text"].startswith("execve /bin/sh argv=['show', '-c', 'echo hi on ")


def test_two_sandboxes_differ_where_their_settings_do(binder: tuple[Binder, int]) -> None:
    _, port = binder
    boxed = call(port, "nsdemo", "explain", {"verb": "net"})["response"]["steps"]
    plain = call(port, "demo", "explain", {"verb": "uname"})["response"]["steps"]
    assert any(s["concern"] == "namespaces" for s in boxed) and not any(s["concern"] == "namespaces" for s in plain)
    assert any(s["concern"] == "seccomp" for s in boxed) and not any(s["concern"] == "seccomp" for s in plain)


def test_without_args_the_placeholders_show_as_written(binder: tuple[Binder, int]) -> None:
    _, port = binder
    steps = call(port, "guarded", "explain", {"verb": "open/hello"})["response"]["steps"]
    assert steps[-1] == {"concern": "exec", "text": "execve /bin/echo argv=['hello', 'hello', '%who%', '?extra?']"}


def test_args_are_checked_as_a_start_would(binder: tuple[Binder, int]) -> None:
    _, port = binder
    reply = call(port, "guarded", "explain", {"verb": "open/hello", "args": {"who": "-rf"}})
    assert reply["request"]["status"] == "invalid-request"
    assert "invalid args" in reply["request"]["info"]


def test_bad_queries_are_refused_with_the_expected_shape(binder: tuple[Binder, int]) -> None:
    _, port = binder
    for query in (None, "show", {"verb": 3}, {"verb": "open/hello", "pid": 1}):
        reply = call(port, "guarded", "explain", query)
        assert reply["request"]["status"] == "invalid-request", query
        assert reply["request"]["info"] == 'expected {"verb": "<command verb>", "args"?: {...}}'
    reply = call(port, "guarded", "explain", {"verb": "nope"})
    assert reply["request"]["info"] == "no command verb 'nope' (known: open/hello, closed/peek)"


def test_a_guarded_command_is_not_explained(binder: tuple[Binder, int]) -> None:
    _, port = binder
    reply = call(port, "guarded", "explain", {"verb": "closed/peek"})
    assert reply["request"]["status"] == "insufficient-scope"
    assert "s3cret" not in json.dumps(reply) and "urn:demo:secret" in reply["request"]["info"]


def test_info_carries_the_args_schema_only_when_declared(binder: tuple[Binder, int]) -> None:
    _, port = binder
    verbs = call(port, "guarded", "info", None)["response"]["groups"][0]["verbs"]
    assert list(verbs[0]) == ["uid", "verb", "usage", "args"]
    assert verbs[0]["args"]["properties"]["who"]["pattern"] == "^[a-z]+$"
    assert "args" not in call(port, "guarded", "info", None)["response"]["groups"][1]["verbs"][0]
