#!/bin/sh
# promtool for the tests that lint /metrics with `promtool check metrics` (plugins/metrics/test/promtool.test.ts).
# `ensure` installs Debian's prometheus package, which ships promtool, when promtool is not on PATH;
# nothing is started here (the tests run promtool itself, never a Prometheus server).
set -e

case "${1:-ensure}" in
  ensure)
    if command -v promtool >/dev/null 2>&1; then exit 0; fi
    if command -v apt-get >/dev/null 2>&1; then
      if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
      if [ "$SUDO" != none ]; then
        echo "prometheus.sh: installing Debian's prometheus package for promtool" >&2
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
        if command -v promtool >/dev/null 2>&1; then exit 0; fi
      fi
    fi
    echo "prometheus.sh: promtool is not on PATH and could not be installed. Fix: install it (Debian package prometheus," \
      "as root: apt-get update && apt-get install -y prometheus) or put a promtool binary on PATH" >&2
    exit 1
    ;;
  *) echo "usage: prometheus.sh ensure" >&2; exit 2 ;;
esac
