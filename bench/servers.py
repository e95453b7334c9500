"""The servers compared by the benchmarks, each started as a real process on a free port.

- afb-spawn's embedded binder (`python -m afbspawn`);
- the C spawn-binding in afb-binder, when an AFB framework is installed (AFB_PREFIX, /opt/afb);
- afb-spawn on the libafb host, when that host is available.

As root every server runs as `nobody` (as in the issue's measurements, and the C binding's
configs have no `acls.user`); the package and its dependencies are then copied where nobody
can read them and run by the system's Python of the same version.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from wsclient import WsClient

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534
START_TIMEOUT = 60.0
C_START_ATTEMPTS = 8  # the C binding's text_check() reads uninitialised options: it fails now and then


def free_port() -> int:
    """A free port below 32768: afb-binder refuses ports outside [1024, 32767]."""
    for _ in range(1000):
        port = random.randint(20000, 32767)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32767")


def afb_prefix() -> Path | None:
    """Where the AFB framework is installed, as on redpesk: AFB_PREFIX, else /opt/afb, else PATH."""
    for prefix in (os.environ.get("AFB_PREFIX"), "/opt/afb"):
        if prefix and (Path(prefix) / "bin" / "afb-binder").exists():
            return Path(prefix)
    found = shutil.which("afb-binder")
    return Path(found).resolve().parent.parent if found else None


def c_binding() -> Path | None:
    prefix = afb_prefix()
    if prefix is None:
        return None
    for candidate in (prefix / "redpesk" / "spawn-binding" / "lib" / "spawn-binding.so",
                      prefix / "lib" / "spawn-binding.so"):
        if candidate.exists():
            return candidate
    return None


class Runtime:
    """How server processes are run: as nobody (when root) from a readable copy, or as we are."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="afbspawn-bench-"))
        self.as_nobody = os.geteuid() == 0 and shutil.which("setpriv") is not None
        self.python = sys.executable
        self.pythonpath = str(REPO)
        if self.as_nobody:
            self._copy_package()
        os.chmod(self.root, 0o755)

    def _copy_package(self) -> None:
        site = self.root / "site"
        ignore = shutil.ignore_patterns("pip", "pip-*", "setuptools*", "_distutils_hack", "__editable__*",
                                        "*.pth", "__pycache__")
        shutil.copytree(sysconfig.get_paths()["purelib"], site, ignore=ignore)
        shutil.copytree(REPO / "afbspawn", site / "afbspawn", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(self.root)], check=True)
        system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
        self.python = str(system if system.exists() else sys.executable)
        self.pythonpath = str(site)

    @property
    def user(self) -> str:
        return "nobody" if self.as_nobody else f"uid {os.geteuid()}"

    def command(self, argv: list[str]) -> list[str]:
        if not self.as_nobody:
            return argv
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all", "--",
                "env", f"HOME={self.root}", *argv]

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        path.chmod(0o644)
        return path

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Launch:
    """How a server was started, to start it again after it died (`{port}` is the port's place)."""

    runtime: Runtime
    argv: list[str]
    api: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """One running server process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float = 0.0  # seconds from exec to the first successful ping
    launch: Launch | None = None
    restarts: list[str] = field(default_factory=list)  # why it was restarted, oldest first

    @property
    def pid(self) -> int:
        return self.process.pid

    def death(self) -> str | None:
        """None while it runs; else how it ended ("killed by SIGSEGV", "exited with status 1")."""
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 1 << 20) -> str:
        """What the server wrote to its log since `offset` (at most `limit` bytes, the last ones)."""
        try:
            with open(self.log, "rb") as log:
                log.seek(max(offset, self.log_size() - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_count(self, offset: int, text: str) -> int:
        """How many times the server logged `text` since `offset`."""
        needle, count, tail = text.encode(), 0, b""
        try:
            with open(self.log, "rb") as log:
                log.seek(offset)
                while chunk := log.read(1 << 20):
                    window = tail + chunk
                    count += window.count(needle)
                    tail = window[-(len(needle) - 1):] if len(needle) > 1 else b""
        except OSError:
            pass
        return count

    def restart(self, why: str) -> Server:
        """The same server started again (new process, new port), remembering why."""
        assert self.launch is not None
        self.stop()
        launch = self.launch
        fresh = _spawn(launch.runtime, self.name, launch.argv, launch.api, launch.env)
        fresh.name = self.name
        fresh.restarts = [*self.restarts, why]
        return fresh

    def status(self, key: str) -> float:
        """A /proc/PID/status figure in kB (VmRSS, VmHWM); NaN once the server died."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return float("nan")
        for line in text.splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return float("nan")  # a zombie: the server crashed

    def rss_mb(self) -> float:
        return self.status("VmRSS") / 1024

    def peak_mb(self) -> float:
        return self.status("VmHWM") / 1024

    def fds(self) -> float:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU of every thread of the server (its tasks not included); NaN once dead."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int, api: str) -> float:
    """Seconds until `api/ping` answers; raises RuntimeError if the process died first."""
    started = time.perf_counter()
    deadline = started + START_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            client = WsClient(port)
        except OSError:
            time.sleep(0.002)
            continue
        try:
            reply = client.call(f"{api}/ping", True)
        finally:
            client.close()
        if reply[0] == 3:
            return time.perf_counter() - started
        raise RuntimeError(f"ping answered {reply}")
    process.kill()
    raise RuntimeError("not ready in time")


def _spawn(runtime: Runtime, name: str, argv: list[str], api: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log = runtime.root / f"{name.replace(' ', '-')}-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(runtime.command([part.replace("{port}", str(port)) for part in argv]),
                                   cwd=runtime.root, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        ready = _wait_ready(process, port, api)
    except RuntimeError as error:
        raise RuntimeError(f"{name}: {error}: {log.read_text(errors='replace')[-2000:]}") from None
    return Server(name, process, port, log, ready, Launch(runtime, argv, api, env or {}))


def start_embedded(runtime: Runtime, config: Path, api: str, extra: list[str] | None = None,
                   env: dict[str, str] | None = None) -> Server:
    env = {"PYTHONPATH": runtime.pythonpath, "PYTHONNOUSERSITE": "1", **(env or {})}
    argv = [runtime.python, "-m", "afbspawn", "--binding", f"x:{config}", "-p", "{port}", *(extra or [])]
    return _spawn(runtime, "afb-spawn", argv, api, env)


def start_c(runtime: Runtime, config: Path, api: str) -> Server | None:
    """The C spawn-binding in afb-binder; None when not installed. Retries its random start failure."""
    binding, prefix = c_binding(), afb_prefix()
    if binding is None or prefix is None:
        return None
    argv = [str(prefix / "bin" / "afb-binder"), "-p", "{port}", "--binding", f"{binding}:{config}", "-q"]
    for attempt in range(C_START_ATTEMPTS):
        try:
            return _spawn(runtime, "C spawn-binding", argv, api)
        except RuntimeError:
            if attempt == C_START_ATTEMPTS - 1:
                raise
    return None


def libafb_host_argv() -> list[str] | None:
    """afb-spawn's libafb host, when this tree has it and the framework's Python module is found."""
    try:
        help_text = subprocess.run([sys.executable, "-m", "afbspawn", "--help"], capture_output=True,
                                   text=True, cwd=REPO, check=False).stdout
    except OSError:
        return None
    if "--host" not in help_text or afb_prefix() is None or os.environ.get("BENCH_LIBAFB") == "0":
        return None
    return ["--host", "libafb"]
