"""Cost of loading a config (once, at start-up) and of build_argv (every start).

Prints a table; asserts nothing (speed is measured here, never in tests).
"""
from __future__ import annotations

import json
import tempfile
import timeit
from pathlib import Path

from afbspawn.config.argv import build_argv
from afbspawn.config.loader import load_paths


def config(commands: int) -> dict:
    return {"metadata": {"uid": "bench", "api": "bench"}, "sandboxes": {"uid": "sb", "commands": [
        {"uid": f"c{i}", "exec": {"cmdpath": "/bin/ls", "args": ["-l", "?dir?%file%", "--color=%color%"]},
         "args": {"type": "object", "properties": {"file": {"type": "string", "pattern": "[a-z]+"}}}}
        for i in range(commands)]}}


def main() -> None:
    print(f"{'case':<44} {'per call':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 10, 100):
            file = Path(tmp) / f"c{count}.json"
            file.write_text(json.dumps(config(count)))
            runs = 20
            seconds = timeit.timeit(lambda f=file: load_paths([str(f)], environ={}, privileged=False), number=runs)
            print(f"{f'load_paths, {count} commands':<44} {seconds / runs * 1e3:>9.2f} ms")
        (api,) = load_paths([str(Path(tmp) / "c1.json")], environ={}, privileged=False)
    command = api.commands[0][1]
    plain = command.__class__(uid="p", verb="p", cmdpath="/bin/ls", args=command.args)
    args = {"dir": "/etc/", "file": "passwd", "color": "never"}
    runs = 20000
    for label, cmd in (("build_argv, 3 templates", plain), ("build_argv, 3 templates + args schema", command)):
        seconds = timeit.timeit(lambda c=cmd: build_argv(c, args), number=runs)
        print(f"{label:<44} {seconds / runs * 1e6:>9.2f} µs")


if __name__ == "__main__":
    main()
