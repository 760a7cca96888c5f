#!/usr/bin/env bash
# Installs the test dependencies (Debian packages and pip extras) and runs the whole suite.
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcpreplay >/dev/null 2>&1 || need+=(tcpreplay)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v ndpiReader >/dev/null 2>&1 || need+=(libndpi-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v git >/dev/null 2>&1 || need+=(git)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
# the case store's tests start a real PostgreSQL server (initdb/pg_ctl, run as "postgres")
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
# the Chinese reports are rendered in headless Chromium: a CJK font, and fontconfig's tools
fc-list :lang=zh family 2>/dev/null | grep -q "Noto Sans CJK" || need+=(fonts-noto-cjk)
command -v fc-match >/dev/null 2>&1 || need+=(fontconfig)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# editable: the Rust extension is built (release) into netscan/ beside the sources, so the
# suite, run from this directory, imports the same package the subprocesses do
python3 -m pip install -q -e '.[test]'
# the Rust core's own tests (parsers, flow table), then the Python suite
cargo test --release --quiet
python3 -m pytest -n 2 -q "$@"
