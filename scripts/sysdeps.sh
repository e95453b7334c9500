#!/bin/sh
# Installs the Debian packages afb-spawn needs to build and test, when run as root
# and they are missing. Non-root users: install them yourself (see README).
set -eu
# build and run
PKGS="python3-venv python3-dev gcc libcap-dev libseccomp2 libseccomp-dev iproute2 util-linux procps bubblewrap"
# packaging tests: CMake with the system python3, rpmbuild, systemd-analyze verify
PKGS="$PKGS cmake python3-pip python3-setuptools python3-wheel python3-cffi python3-packaging rpm cpio systemd"
# samples run by the tests: a disk image to format, a lua microservice, the VPN sample's tools
PKGS="$PKGS e2fsprogs lua5.4 wireguard-tools"
# the web page tests: a real browser (driven by Playwright for Python from the test extra)
PKGS="$PKGS chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "afb-spawn: missing system packages:$missing" >&2
    echo "afb-spawn: install them with: sudo apt-get install$missing" >&2
    exit 1
fi
echo "afb-spawn: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q $missing >/dev/null
