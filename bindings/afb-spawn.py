#!/usr/bin/env python3
"""afb-spawn inside the AFB framework: what a python with afb-libpython runs on redpesk.

    python3 bindings/afb-spawn.py --config conf.d/sample-basic.yaml --port 1234

Same options as `afb-spawn` (docs/hosts.md), always with `--host libafb`. The afbspawn
package is taken from the installed one, else from the folder above this script.
"""
import os
import sys

try:
    import afbspawn  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from afbspawn.commands.serve import main

if __name__ == "__main__":
    sys.exit(main(["--host", "libafb", *sys.argv[1:]]))
