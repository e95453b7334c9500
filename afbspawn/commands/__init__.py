"""The `afb-spawn` subcommands, one module each (see afbspawn.cli)."""
