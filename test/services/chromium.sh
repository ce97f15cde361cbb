#!/bin/sh
# Chromium for the browser suites: Debian's package (never a browser a test tool downloads).
# `ensure` installs it with apt-get when /usr/bin/chromium is missing (CI runs as root on Debian);
# `path` prints the executable for playwright-core's executablePath.
set -e
BIN=${CHROMIUM_PATH:-/usr/bin/chromium}

case "${1:-ensure}" in
  ensure)
    if [ -x "$BIN" ]; then exit 0; fi
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "chromium.sh: $BIN is missing. Fix: install Debian's chromium package (apt-get install chromium), or set CHROMIUM_PATH" >&2
      exit 1
    fi
    echo "chromium.sh: installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a fresh machine: refresh them once, then install.
    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
    [ -x "$BIN" ] || { echo "chromium.sh: the chromium package did not provide $BIN" >&2; exit 1; }
    ;;
  path) echo "$BIN" ;;
  *) echo "usage: chromium.sh ensure|path" >&2; exit 2 ;;
esac
