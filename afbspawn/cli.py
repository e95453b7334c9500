"""`afb-spawn` entry point: dispatches to a subcommand, the binder being the default.

    afb-spawn [binder options]        serve configs (afb-binder compatible options)
    afb-spawn check FILE...           validate configs and summarise them
    afb-spawn run CONFIG VERB ...     run one command in its sandbox, in the foreground
    afb-spawn schema                  print the config JSON Schema
"""
from __future__ import annotations

import importlib
import os
import sys

SUBCOMMANDS = {
    "check": "afbspawn.commands.check",
    "run": "afbspawn.commands.run",
    "schema": "afbspawn.commands.schema",
}
DEFAULT = "afbspawn.commands.serve"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[args.pop(0)])
    else:
        module = importlib.import_module(DEFAULT)
    try:
        return int(module.main(args) or 0)
    except BrokenPipeError:  # `afb-spawn check | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not raise again
        return 1


if __name__ == "__main__":
    sys.exit(main())
