#!/usr/bin/env python3
"""Installs a wheel into explicit directories, for CMake and the RPM spec.

pip and installer pick the interpreter's default scheme, which on Debian adds `local/`
to the prefix; a distribution package needs the site-packages and bin directories it
names itself. Usage: install_wheel.py WHEEL SITEDIR BINDIR INTERPRETER
"""
from __future__ import annotations

import configparser
import sys
import zipfile
from pathlib import Path

SCRIPT = """#!{interpreter}
import sys
from {module} import {function}
sys.exit({function}())
"""


def install(wheel: Path, sitedir: Path, bindir: Path, interpreter: str) -> list[Path]:
    """Unpacks the wheel into `sitedir` and writes its console scripts into `bindir`."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        if any(name.split("/", 1)[0].endswith(".data") for name in names):
            raise SystemExit(f"{wheel}: .data directories are not supported")
        archive.extractall(sitedir)
    (dist_info,) = {name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".dist-info")}
    (sitedir / dist_info / "INSTALLER").write_text("cmake\n")
    entry_points = configparser.ConfigParser()
    entry_points.read(sitedir / dist_info / "entry_points.txt")
    scripts = []
    bindir.mkdir(parents=True, exist_ok=True)
    for name, target in entry_points.items("console_scripts") if entry_points.has_section("console_scripts") else []:
        module, function = target.split(":")
        script = bindir / name
        script.write_text(SCRIPT.format(interpreter=interpreter, module=module.strip(), function=function.strip()))
        script.chmod(0o755)
        scripts.append(script)
    return scripts


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    wheel, sitedir, bindir, interpreter = argv
    for script in install(Path(wheel), Path(sitedir), Path(bindir), interpreter):
        print(f"-- Installing: {script}")
    print(f"-- Installing: {Path(wheel).name} into {sitedir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
