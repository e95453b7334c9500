"""The `as_nobody` fixture really runs our package as nobody, without capabilities."""
import subprocess


def test_runs_package_as_nobody(as_nobody):
    code = ("import os, afbspawn, afbspawn.sandbox._launcher as l; "
            "print(os.getuid(), os.getgid(), os.getgroups(), afbspawn.__version__)")
    out = subprocess.run(as_nobody("-c", code), capture_output=True, text=True, check=True)
    uid, gid, groups, version = out.stdout.split(" ", 3)
    assert (uid, gid) == ("65534", "65534")
    assert groups == "[]"
    assert version.strip() == "0.1.0"
