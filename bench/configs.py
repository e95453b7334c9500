"""The configs the comparison loads: one spawn API in the C binding's own format, read by both.

Verbs are `bench/<sandbox>/<command>` on both servers. Encoder options always name both
`maxlen` and `maxline`: the C binding reads the one not given uninitialised.
"""
from __future__ import annotations

import json
from typing import Any

API = "bench"
LOAD_API = "load"
TRUE, ECHO, NS_TRUE = "plain/true", "plain/echo", "ns/true"
SEQ, DELAYED_SEQ, RAW, TEXT = "plain/seq", "plain/delayed-seq", "plain/raw", "plain/text"
LINE = "0123456789" * 7 + "abcdefghi"  # 79 characters + newline: the streams' 80-byte lines
DELAY = 0.5  # seconds delayed-seq waits: time for every subscriber to subscribe to the task


def _opts(maxlen: int, maxline: int) -> dict[str, int]:
    return {"maxlen": maxlen, "maxline": maxline}


def bench_config() -> dict[str, Any]:
    stream = f"yes {LINE} | head -c %bytes%"
    return {
        "metadata": {"uid": "bench", "api": API, "version": "1.0"},
        "sandboxes": [
            {"uid": "plain", "info": "no namespace", "commands": [
                {"uid": "true", "encoder": "sync", "exec": {"cmdpath": "/bin/true"}},
                {"uid": "echo", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["hello"]}},
                {"uid": "seq", "encoder": "line", "exec": {"cmdpath": "/usr/bin/seq", "args": ["%count%"]}},
                {"uid": "delayed-seq", "encoder": "line",
                 "exec": {"cmdpath": "/bin/sh", "args": ["-c", f"sleep {DELAY}; exec /usr/bin/seq %count%"]}},
                {"uid": "raw", "encoder": {"output": "raw", "opts": _opts(1 << 24, 128)},
                 "exec": {"cmdpath": "/bin/sh", "args": ["-c", stream]}},
                {"uid": "text", "encoder": {"output": "text", "opts": _opts(512, 100_000)},
                 "exec": {"cmdpath": "/bin/sh", "args": ["-c", stream]}},
            ]},
            {"uid": "ns", "info": "namespaces: user, mount, pid, net, ipc, uts, cgroup",
             "namespace": {"shares": {"all": "disable"}, "mounts": [
                 {"target": "/usr", "source": "/usr", "mode": "ro"},
                 {"target": "/lib64", "source": "/lib64", "mode": "ro"},
                 {"target": "/lib", "source": "/usr/lib", "mode": "symlink"},
                 {"target": "/bin", "source": "/usr/bin", "mode": "symlink"},
                 {"target": "/tmp", "mode": "tmpfs"},
                 # the C binding rewinds an execfd file before every bwrap exec; without one
                 # it lseeks an uninitialised fd and the child fails
                 {"target": "/etc/hostname", "mode": "execfd", "source": "echo bench"}]},
             "commands": [{"uid": "true", "encoder": "sync", "exec": {"cmdpath": "/bin/true"}}]},
        ],
    }


def many_commands(count: int) -> dict[str, Any]:
    """A config of `count` commands with templated args (the load-time cost per command).

    Kept short (no info, the text encoder's default options): 10,000 commands stay under
    afb-spawn's 1 MiB bound on a config file once written compactly (`compact`)."""
    return {"metadata": {"uid": "load", "api": LOAD_API, "version": "1.0"},
            "sandboxes": [{"uid": "sb", "commands": [
                {"uid": f"c{i}", "encoder": "text", "exec": {"cmdpath": "/bin/ls", "args": ["-l", "%dir%"]}}
                for i in range(count)]}]}


def compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
