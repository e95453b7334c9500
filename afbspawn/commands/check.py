"""`afb-spawn check FILE... [--json]`: compiles configs exactly as the binder does at start
(afbspawn.binding.prepare: sandbox plans with their cgroups, encoders, plugins) and says
what each sandbox installs on this host. What the binder would refuse is an error (one line
with file and JSON path), what it can only partly apply a warning (an error for a sandbox
with `strict: true`). Exit status 0 when the binder would start, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from afbspawn.binding.api import default_toolkit, load_prepared
from afbspawn.binding.prepare import PreparedApi
from afbspawn.config.errors import ConfigError
from afbspawn.sandbox import SandboxPlan


@dataclass(frozen=True)
class Feature:
    name: str
    applied: bool  # False: only partly here (the matching warning says why)
    detail: str


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afb-spawn check", description="Validate afb-spawn config files.")
    parser.add_argument("files", nargs="*", help="config files or directories (default: $AFB_SPAWN_CONFIG)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--privileged", dest="privileged", action="store_true", default=None,
                     help="check the config rules of a binder running as root (default: as this process)")
    who.add_argument("--unprivileged", dest="privileged", action="store_false",
                     help="check the config rules of a binder not running as root")
    return parser


def main(args: list[str]) -> int:
    options = _parser().parse_args(args)
    try:
        prepared = load_prepared(options.files, default_toolkit(), privileged=options.privileged)
    except ConfigError as error:
        if options.json:
            print(json.dumps({"ok": False, "problems": [p.as_dict() for p in error.problems]}, indent=2))
        else:
            print(error, file=sys.stderr)
            print(f"{len(error.problems)} problem(s) found", file=sys.stderr)
        return 1
    report = [_api_report(one) for one in prepared]
    if options.json:
        print(json.dumps({"ok": True, "apis": report}, indent=2))
    else:
        print(_text(report) if report else "no config: give FILE... or set AFB_SPAWN_CONFIG")
    return 0


def plan_features(plan: SandboxPlan) -> list[Feature]:
    """What the compiled plan installs, as the binder will apply it."""
    gap = plan.containment_gap()
    containment = plan.cgroup.describe()[0] if plan.cgroup else (
        plan.containment.describe() if plan.containment else "process group")
    found = [Feature("containment", gap is None, containment if gap is None else gap)]
    identity = plan.identity
    found.append(Feature("identity", True, f"uid {identity.uid} '{identity.user}' gid {identity.gid}"
                         + ("" if identity.change else " (the binder's)")))
    found.append(Feature("capabilities", True, "; ".join(plan.caps.describe_bounding() + plan.caps.describe_sets())))
    if plan.seccomp is not None:
        found.append(Feature("seccomp", True, plan.seccomp.describe()[0]))
    elif plan.sandbox.seccomp is not None:
        found.append(Feature("seccomp", True, "no filter (neither default nor rules): no_new_privs only"))
    if plan.cgroup is not None and plan.cgroup.limits:
        found.append(Feature("cgroups", True, "; ".join(plan.cgroup.describe()[1:])))
    if plan.namespaces.clone_flags:
        found.append(Feature("namespace", True, "; ".join(plan.namespaces.describe() + list(plan.mounts.texts))))
    if plan.rlimits:
        found.append(Feature("rlimits", True, ", ".join(limit.describe() for limit in plan.rlimits)))
    found.append(Feature("environment", True, f"{len(plan.environment)} variables from the config"
                         + (" (the binder's inherited)" if plan.sandbox.environment.inherit else "")))
    return found


def _api_report(prepared: PreparedApi) -> dict[str, Any]:
    api = prepared.api
    return {
        "api": api.name, "file": api.source,
        "warnings": [p.as_dict() for p in prepared.warnings],
        "sandboxes": [{
            "uid": sandbox.uid,
            "verbs": [{"verb": f"{api.name}/{command.verb}", "cmdpath": command.cmdpath, "encoder": command.encoder.name}
                      for owner, command in api.commands if owner is sandbox]
            + ([{"verb": f"{api.name}/exec", "cmdpath": "*", "encoder": "*"}] if sandbox.allow_exec else []),
            "features": [asdict(f) for f in plan_features(prepared.plans[sandbox.uid])],  # type: ignore[arg-type]
        } for sandbox in api.sandboxes],
    }


def _text(report: list[dict[str, Any]]) -> str:
    lines = []
    for api in report:
        warned = f", {len(api['warnings'])} warning(s)" if api["warnings"] else ""
        lines.append(f"{api['file']}: api '{api['api']}' OK{warned}")
        lines.extend(f"  warning: {w['path'] or '/'}: {w['message']} (hint: {w['hint']})" for w in api["warnings"])
        for sandbox in api["sandboxes"]:
            lines.append(f"  sandbox {sandbox['uid']}")
            lines.extend(f"    verb {v['verb']} -> {v['cmdpath']} [{v['encoder']}]" for v in sandbox["verbs"])
            lines.extend(f"    {'+' if f['applied'] else '!'} {f['name']}: {f['detail']}" for f in sandbox["features"])
    return "\n".join(lines)
