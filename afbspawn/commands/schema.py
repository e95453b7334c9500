"""`afb-spawn schema`: prints the config JSON Schema (for editors and CI linting)."""
from __future__ import annotations

import json
import sys

from afbspawn.config.validation import schema


def main(args: list[str]) -> int:
    if args:
        print("usage: afb-spawn schema", file=sys.stderr)
        return 2
    json.dump(schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
