"""`python -m afbspawn` is `afb-spawn`."""
import sys

from afbspawn.cli import main

sys.exit(main())
