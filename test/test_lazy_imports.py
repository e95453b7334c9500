"""A binder serving a valid JSON config without args schemas never imports jsonschema, yaml
or importlib.metadata (their ~4 MB of resident memory, docs/performance.md); the config
forms that need them still import them and work.

Each case runs in a fresh interpreter, since this one has long imported everything.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAZY = ("jsonschema", "yaml", "importlib.metadata")
PROBE = """
import json, sys
import afbspawn.commands.serve, afbspawn.afb.embedded.server, afbspawn.binding.api
from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths
try:
    load_paths([sys.argv[1]], environ={}, privileged=False)
    outcome = "loaded"
except ConfigError as error:
    outcome = str(error)
print(json.dumps({"outcome": outcome, "imported": [name for name in sys.argv[2:] if name in sys.modules]}))
"""

COMMAND = {"uid": "c", "exec": {"cmdpath": "/bin/true"}}


def probe(tmp_path: Path, name: str, text: str) -> dict:
    path = tmp_path / name
    path.write_text(text)
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), *LAZY], capture_output=True, text=True, check=True,
                         cwd=REPO, timeout=120)
    return json.loads(out.stdout)


def config(command: dict) -> str:
    return json.dumps({"metadata": {"uid": "t", "api": "t"}, "sandboxes": [{"uid": "sb", "commands": [command]}]})


def test_a_valid_json_config_imports_none_of_them(tmp_path: Path) -> None:
    assert probe(tmp_path, "c.json", config(COMMAND)) == {"outcome": "loaded", "imported": []}


@pytest.mark.parametrize(("name", "text", "needed", "outcome"), [
    ("c.yaml", "metadata: {uid: t, api: t}\nsandboxes: [{uid: sb, commands: [{uid: c, exec: {cmdpath: /bin/true}}]}]\n",
     "yaml", "loaded"),
    ("c.json", config({**COMMAND, "args": {"type": "object"}}), "jsonschema", "loaded"),
    ("c.json", config({**COMMAND, "timeout": "soon"}), "jsonschema", "/sandboxes/0/commands/0/timeout: expected integer"),
])
def test_what_needs_one_imports_it(tmp_path: Path, name: str, text: str, needed: str, outcome: str) -> None:
    result = probe(tmp_path, name, text)
    assert needed in result["imported"]
    assert outcome in result["outcome"]
