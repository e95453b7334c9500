"""`afb-spawn run CONFIG VERB [--arg NAME=VALUE]... [--explain]`: one command of a config,
in its sandbox, in the foreground: output on the terminal, exit status passed through
(a signal N gives 128+N). `--explain` lists every step the sandbox will apply instead.

The config is loaded exactly as the binder loads it (afbspawn.binding.prepare). Exit status
of its own (EXIT_CODES): 1 for a config or host problem, what the binder would refuse here
(one line per problem, with file and JSON path, never a traceback); 2 for a usage error (an
option, an unknown verb, a bad --arg); 125 when the launch fails (the message names the step).
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import sys

from afbspawn.binding.api import default_toolkit, load_prepared
from afbspawn.config import model
from afbspawn.config.argv import ArgumentError, build_argv
from afbspawn.config.errors import ConfigError
from afbspawn.sandbox import Child, LaunchError

CONFIG_ERROR = 1
USAGE_ERROR = 2
LAUNCH_ERROR = 125
SIGNAL_BASE = 128
EXIT_CODES = f"""exit status: the command's own ({SIGNAL_BASE}+N when a signal N killed it), else
  {CONFIG_ERROR}    a config or host problem: the binder would refuse the config here (one line each)
  {USAGE_ERROR}    a usage error: unknown option, unknown verb, bad --arg
  {LAUNCH_ERROR}  the launch failed (the message names the step)"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afb-spawn run", description="Run one command of a config in its sandbox.",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file or directory")
    parser.add_argument("verb", help="verb of the command: [prefix/]uid, optionally preceded by the api name")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a runtime argument filling %%NAME%% / ?NAME? (repeatable)")
    parser.add_argument("--explain", action="store_true", help="list the steps the sandbox applies, run nothing")
    return parser


def _query_args(pairs: list[str]) -> dict[str, str]:
    args = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ArgumentError(f"--arg {pair!r}: expected NAME=VALUE")
        args[name] = value
    return args


def find_command(apis: tuple[model.Api, ...], verb: str) -> tuple[model.Sandbox, model.Command] | None:
    for api in apis:
        for sandbox, command in api.commands:
            if verb in (command.verb, f"{api.name}/{command.verb}"):
                return sandbox, command
    return None


def _known_verbs(apis: tuple[model.Api, ...]) -> str:
    return ", ".join(f"{api.name}/{command.verb}" for api in apis for _, command in api.commands) or "none"


def wait_status(child: Child, timeout: int | None) -> int:
    """Waits for the task (killing its process group at the timeout); the shell's exit status."""
    try:
        ready, _, _ = select.select([child.pidfd], [], [], timeout or None)
        if not ready:
            print(f"afb-spawn run: timeout after {timeout}s, killing the task", file=sys.stderr)
            child.end()
    except KeyboardInterrupt:  # the task has its own session: the terminal's ^C does not reach it
        os.killpg(child.pid, signal.SIGTERM)
    info = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
    child.wait_removed()  # what the task left running ends with it
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return SIGNAL_BASE + info.si_status
    return info.si_status


def main(args: list[str]) -> int:
    options = _parser().parse_args(args)
    try:
        prepared = load_prepared([options.config], default_toolkit())
        apis = tuple(one.api for one in prepared)
        found = find_command(apis, options.verb)
        if found is None:
            print(f"afb-spawn run: no verb '{options.verb}' (known: {_known_verbs(apis)})", file=sys.stderr)
            return USAGE_ERROR
        sandbox, command = found
        argv = build_argv(command, _query_args(options.arg))
    except ConfigError as error:
        print(f"afb-spawn run: {error}", file=sys.stderr)
        return CONFIG_ERROR
    except ArgumentError as error:
        print(f"afb-spawn run: {error}", file=sys.stderr)
        return USAGE_ERROR
    for warning in (w for one in prepared for w in one.warnings):
        print(f"afb-spawn run: warning: {warning}", file=sys.stderr)
    plan = next(one.plans[sandbox.uid] for one in prepared if sandbox in one.api.sandboxes)
    try:
        if options.explain:
            print(f"{command.verb} in sandbox '{sandbox.uid}':")
            for number, step in enumerate(plan.explain(command.cmdpath, argv), 1):
                print(f"{number:3}. {step}")
            return 0
        child = plan.launch(command.cmdpath, argv, sys.stdout.fileno(), sys.stderr.fileno(),
                            verbose=max(command.verbose, sandbox.verbose))
    except LaunchError as error:
        print(f"afb-spawn run: {error}", file=sys.stderr)
        return LAUNCH_ERROR
    return wait_status(child, command.timeout)
