"""`afb-spawn check FILE... [--json]`: validates configs and says what each sandbox
will and will not be able to apply on this host, before the binder is started.
Exit status 0 when every file is valid, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from afbspawn.config import hostfacts, model
from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afb-spawn check", description="Validate afb-spawn config files.")
    parser.add_argument("files", nargs="*", help="config files or directories (default: $AFB_SPAWN_CONFIG)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--privileged", dest="privileged", action="store_true", default=None,
                     help="check as a binder running as root (default: as this process)")
    who.add_argument("--unprivileged", dest="privileged", action="store_false",
                     help="check as a binder not running as root")
    return parser


def main(args: list[str]) -> int:
    options = _parser().parse_args(args)
    try:
        apis = load_paths(options.files, privileged=options.privileged)
    except ConfigError as error:
        if options.json:
            print(json.dumps({"ok": False, "problems": [p.as_dict() for p in error.problems]}, indent=2))
        else:
            print(error, file=sys.stderr)
            print(f"{len(error.problems)} problem(s) found", file=sys.stderr)
        return 1
    facts = hostfacts.gather(options.privileged)
    report = [_api_report(api, facts) for api in apis]
    if options.json:
        print(json.dumps({"ok": True, "apis": report}, indent=2))
    else:
        print(_text(report) if report else "no config: give FILE... or set AFB_SPAWN_CONFIG")
    return 0


def _api_report(api: model.Api, facts: hostfacts.HostFacts) -> dict[str, Any]:
    return {
        "api": api.name, "file": api.source,
        "sandboxes": [{
            "uid": sandbox.uid,
            "verbs": [{"verb": f"{api.name}/{command.verb}", "cmdpath": command.cmdpath, "encoder": command.encoder.name}
                      for owner, command in api.commands if owner is sandbox]
            + ([{"verb": f"{api.name}/exec", "cmdpath": "*", "encoder": "*"}] if sandbox.allow_exec else []),
            "features": [vars(f) for f in hostfacts.features(sandbox, facts)],
        } for sandbox in api.sandboxes],
    }


def _text(report: list[dict[str, Any]]) -> str:
    lines = []
    for api in report:
        lines.append(f"{api['file']}: api '{api['api']}' OK")
        for sandbox in api["sandboxes"]:
            lines.append(f"  sandbox {sandbox['uid']}")
            lines.extend(f"    verb {v['verb']} -> {v['cmdpath']} [{v['encoder']}]" for v in sandbox["verbs"])
            lines.extend(f"    {'+' if f['applied'] else '!'} {f['name']}: {f['detail']}" for f in sandbox["features"])
    return "\n".join(lines)
