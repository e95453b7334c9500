"""Installs as users do: `make dist` (sdist + wheel) into a fresh venv away from the source
tree, `make rpm` listed against the expected files, CMake into a prefix laid out as the RPM,
and the systemd unit through `systemd-analyze verify`. Everything is built for real; the pip
cache and the package index are the only things reached beyond this machine."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from binderproc import start_binder
from conftest import REPO

SYSTEM_PYTHON = "/usr/bin/python3"
VERSION = re.search(r'^version = "(.*)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)  # type: ignore[union-attr]
REDPESK = "redpesk/afb-spawn"
UNIT = "lib/systemd/system/afb-spawn@.service"


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Runs `command`, failing the test with its whole output when it fails."""
    done = subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(command)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (scripts/sysdeps.sh installs it)")
    return path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make dist` into a temporary directory: the sdist, and the wheel built from it."""
    directory = tmp_path_factory.mktemp("dist")
    run(["make", "-s", "-C", str(REPO), "dist", f"DIST={directory}"])
    return directory


def source_files(folder: str) -> list[str]:
    """Files of a source folder, relative to it (what packaging must carry)."""
    root = REPO / folder
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".pyc"))


def package_files() -> list[str]:
    """The afbspawn package as installed: its sources and data, plus the compiled launcher."""
    files = [f"afbspawn/{name}" for name in source_files("afbspawn") if name != "sandbox/_launcher.c"
             and (name.endswith((".py", ".c", ".h")) or name.startswith("config/"))]
    return sorted(files + ["afbspawn/sandbox/_launcher.abi3.so"])


def expected_layout(sitearch: str) -> set[str]:
    """Every file the RPM and `cmake --install` put under the prefix, relative to it."""
    dist_info = f"{sitearch}/afb_spawn-{VERSION}.dist-info"
    files = {"bin/afb-spawn", UNIT, "share/doc/afb-spawn/README.md"}
    files |= {f"{sitearch}/{name}" for name in package_files()}
    files |= {f"{dist_info}/{name}" for name in ("INSTALLER", "METADATA", "RECORD", "WHEEL",
                                                  "entry_points.txt", "top_level.txt")}
    files |= {f"{REDPESK}/etc/{name}" for name in source_files("conf.d")}
    files |= {f"{REDPESK}/htdocs/{name}" for name in source_files("htdocs")}
    files |= {f"{REDPESK}/bindings/{name}" for name in source_files("bindings")}
    files |= {f"share/doc/afb-spawn/{name}" for name in source_files("docs")}
    return files


def system_sitearch(prefix: str) -> str:
    """site-packages under `prefix` as the system python3's prefix scheme spells it."""
    code = ("import sysconfig, sys; print(sysconfig.get_path('platlib', 'posix_prefix', "
            "{'platbase': sys.argv[1], 'base': sys.argv[1]}))")
    return run([SYSTEM_PYTHON, "-c", code, prefix]).stdout.strip()


# --- sdist and wheel -----------------------------------------------------------------

def test_sdist_is_the_whole_source_release(dist: Path) -> None:
    with tarfile.open(dist / f"afb_spawn-{VERSION}.tar.gz") as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    needed = {"afbspawn/sandbox/launcher.c", "afbspawn/sandbox/launcher.h", "afbspawn/sandbox/launcher_build.py",
              "setup.py", "pyproject.toml", "CMakeLists.txt", "rpm/afb-spawn.spec",
              "systemd/afb-spawn@.service.in", "scripts/install_wheel.py", "README.md"}
    needed |= {f"conf.d/{name}" for name in source_files("conf.d")} | {f"htdocs/{n}" for n in source_files("htdocs")}
    assert needed <= names, f"missing from the sdist: {sorted(needed - names)}"
    assert not [n for n in names if n.endswith((".so", ".pyc")) or n == "afbspawn/sandbox/_launcher.c"]


def test_wheel_carries_the_compiled_launcher(dist: Path) -> None:
    (wheel,) = dist.glob(f"afb_spawn-{VERSION}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"afb_spawn-{VERSION}.dist-info/entry_points.txt").decode()
    assert set(package_files()) <= names
    assert "afb-spawn = afbspawn.cli:main" in entry_points


@pytest.fixture(scope="module")
def installed_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of the system python3 with only the wheel (and its dependencies) installed."""
    venv = tmp_path_factory.mktemp("venv")
    (wheel,) = dist.glob("*.whl")
    run([SYSTEM_PYTHON, "-m", "venv", str(venv)])
    run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheel)])
    return venv


def test_installed_wheel_checks_and_runs_without_the_source_tree(installed_venv: Path, tmp_path: Path) -> None:
    for sample in ("sample-basic.yaml", "sample-namespace.yaml"):
        shutil.copy(REPO / "conf.d" / sample, tmp_path)
    where = run([str(installed_venv / "bin/python"), "-c", "import afbspawn.sandbox._launcher as m; print(m.__file__)"],
                cwd=tmp_path).stdout
    assert where.startswith(str(installed_venv)), where
    check = run([str(installed_venv / "bin/afb-spawn"), "check", "sample-basic.yaml"], cwd=tmp_path)
    assert "api 'demo' OK" in check.stdout
    ran = run([str(installed_venv / "bin/afb-spawn"), "run", "sample-namespace.yaml", "show", "--arg", "what=packaged"],
              cwd=tmp_path)
    assert ran.stdout.startswith("packaged on demo-box as 65534, hello from the box\n"), ran.stdout


def test_installed_wheel_serves_a_sample(installed_venv: Path, tmp_path: Path) -> None:
    shutil.copy(REPO / "conf.d" / "sample-basic.yaml", tmp_path)
    binder = start_binder([str(installed_venv / "bin/afb-spawn"), "--config", "sample-basic.yaml", "--port", "0"],
                          cwd=tmp_path)
    try:
        url = re.search(rb"http://[0-9.]+:[0-9]+", binder.serving_line).group(0).decode()  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{url}/api/demo/uname?action=start", timeout=20) as reply:
            body = json.load(reply)
    finally:
        binder.stop()
    assert body["request"]["status"] == "success"
    assert body["response"]["status"] == {"exit": 0}
    assert body["response"]["stdout"][0].startswith("Linux ")


# --- RPM -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rpm_package(dist: Path) -> Path:
    """`make rpm` from the sdist of `make dist`: the binary RPM (the source one beside it)."""
    need("rpmbuild")
    run(["make", "-s", "-C", str(REPO), "rpm", f"DIST={dist}"])
    assert list(dist.glob(f"afb-spawn-{VERSION}-*.src.rpm"))
    (binary,) = [p for p in dist.glob(f"afb-spawn-{VERSION}-*.rpm") if not p.name.endswith(".src.rpm")]
    return binary


@pytest.fixture(scope="module")
def rpm_files(rpm_package: Path) -> set[str]:
    return set(run(["rpm", "-qlp", "--nosignature", str(rpm_package)]).stdout.split())


def test_rpm_holds_exactly_the_expected_files(rpm_files: set[str]) -> None:
    sitearch = system_sitearch("/usr")
    expected = {f"/usr/{name}" for name in expected_layout(sitearch.removeprefix("/usr/"))}
    files = {name for name in rpm_files if "__pycache__" not in name}
    directories = {"/etc/afb-spawn"} | {str(Path(name).parent) for name in expected}
    assert expected <= files, f"missing from the RPM: {sorted(expected - files)}"
    extra = {name for name in files - expected if name not in directories and not any(
        other.startswith(name + "/") for other in expected)}
    assert not extra, f"unexpected in the RPM: {sorted(extra)}"
    assert "/etc/afb-spawn" in files


def test_rpm_unit_names_the_rpm_paths(rpm_package: Path) -> None:
    need("cpio")
    unit = subprocess.run(f"rpm2cpio '{rpm_package}' | cpio -i --quiet --to-stdout './usr/{UNIT}'", shell=True,
                          check=True, capture_output=True, text=True).stdout
    assert ("ExecStart=/usr/bin/afb-spawn --name=afb-spawn-%i --config=/etc/afb-spawn/%i "
            "--roothttp=/usr/redpesk/afb-spawn/htdocs $AFB_SPAWN_OPTIONS") in unit.splitlines()
    assert "EnvironmentFile=-/etc/afb-spawn/%i.env" in unit.splitlines()


# --- CMake -----------------------------------------------------------------------------

def cmake_cache(build: Path) -> dict[str, str]:
    cache = {}
    for line in (build / "CMakeCache.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_]+):[A-Z]+=(.*)", line)
        if match:
            cache[match.group(1)] = match.group(2)
    return cache


def test_cmake_honours_python3_executable(tmp_path: Path) -> None:
    """-DPython3_EXECUTABLE= wins; without it, the system python3 even when another is first on PATH."""
    need("cmake")
    chosen = tmp_path / "bin/python3"
    chosen.parent.mkdir()
    chosen.symlink_to(os.path.realpath(sys.executable))
    run(["cmake", "-S", str(REPO), "-B", str(tmp_path / "given"), f"-DPython3_EXECUTABLE={chosen}"])
    assert cmake_cache(tmp_path / "given")["Python3_EXECUTABLE"] == str(chosen)
    env = {**os.environ, "PATH": f"{chosen.parent}:{os.environ['PATH']}"}
    run(["cmake", "-S", str(REPO), "-B", str(tmp_path / "default")], env=env)
    assert cmake_cache(tmp_path / "default")["Python3_EXECUTABLE"] == SYSTEM_PYTHON


@pytest.fixture(scope="module")
def cmake_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`cmake --build` and `cmake --install` into a temporary prefix."""
    need("cmake")
    top = tmp_path_factory.mktemp("cmake")
    prefix = top / "prefix"
    run(["cmake", "-S", str(REPO), "-B", str(top / "build"), f"-DCMAKE_INSTALL_PREFIX={prefix}"])
    run(["cmake", "--build", str(top / "build")])
    run(["cmake", "--install", str(top / "build")])
    yield prefix


def test_cmake_install_lays_out_as_the_rpm(cmake_prefix: Path) -> None:
    sitearch = system_sitearch(str(cmake_prefix))
    relative_sitearch = str(Path(sitearch).relative_to(cmake_prefix))
    files = {str(p.relative_to(cmake_prefix)) for p in cmake_prefix.rglob("*") if p.is_file()}
    assert files == expected_layout(relative_sitearch)
    assert (cmake_prefix / "etc/afb-spawn").is_dir()
    script = (cmake_prefix / "bin/afb-spawn").read_text()
    assert script.startswith(f"#!{SYSTEM_PYTHON}\n") and "from afbspawn.cli import main" in script
    for entry in (cmake_prefix / REDPESK / "bindings").glob("*.py"):
        assert os.access(entry, os.X_OK), f"{entry} keeps its executable mode"


def test_cmake_installed_package_checks_the_installed_samples(cmake_prefix: Path, tmp_path: Path) -> None:
    """The installed package (its own compiled launcher) validates the installed samples.
    It runs under this test's interpreter: the system python3 lacks the dependencies."""
    sitearch = system_sitearch(str(cmake_prefix))
    code = "import sys, afbspawn.sandbox._launcher as m, afbspawn.cli as c; print(m.__file__); sys.exit(c.main())"
    done = run([sys.executable, "-c", code, "check", str(cmake_prefix / REDPESK / "etc")],
               env={**os.environ, "PYTHONPATH": sitearch}, cwd=tmp_path)
    assert done.stdout.startswith(sitearch), done.stdout
    assert "api 'demo' OK" in done.stdout


# --- systemd ---------------------------------------------------------------------------

def test_unit_verifies(cmake_prefix: Path) -> None:
    """`systemd-analyze verify` on the installed unit (its ExecStart exists in the prefix):
    no error and no warning, and the settings the sandboxes depend on."""
    need("systemd-analyze")
    unit = cmake_prefix / UNIT
    done = subprocess.run(["systemd-analyze", "verify", f"{unit}:afb-spawn@sample.service"],
                          check=False, capture_output=True, text=True)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    settings = dict(line.split("=", 1) for line in unit.read_text().splitlines() if "=" in line and line[0] != "#")
    assert settings["Delegate"] == "yes"
    assert settings["NoNewPrivileges"] == "no"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert f"--config={cmake_prefix}/etc/afb-spawn/%i " in settings["ExecStart"]


def test_unit_verify_catches_a_broken_unit(cmake_prefix: Path, tmp_path: Path) -> None:
    """The verification above can fail: a unit whose program is missing is reported."""
    need("systemd-analyze")
    broken = tmp_path / "afb-spawn@.service"
    broken.write_text((cmake_prefix / UNIT).read_text().replace(f"{cmake_prefix}/bin/afb-spawn", "/nonexistent/afb"))
    done = subprocess.run(["systemd-analyze", "verify", f"{broken}:afb-spawn@sample.service"],
                          check=False, capture_output=True, text=True)
    assert done.returncode != 0 and "/nonexistent/afb" in done.stderr
