#!/bin/sh
# nginx for the stack suites (test/stack/*.stack.test.ts): the tests run Debian's nginx themselves with
# the repo's deploy/nginx config templated to 127.0.0.1 and a prefix of their own (`nginx -p DIR -c ...`),
# so nothing is started here and nothing touches system paths.
# `ensure` installs Debian's nginx-light package when nginx is not on PATH (sbin included).
set -e
PATH="$PATH:/usr/sbin:/sbin"

case "${1:-ensure}" in
  ensure)
    if command -v nginx >/dev/null 2>&1; then exit 0; fi
    if command -v apt-get >/dev/null 2>&1; then
      if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
      if [ "$SUDO" != none ]; then
        echo "nginx.sh: installing Debian's nginx-light package" >&2
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        # policy-rc.d refuses the package's own service start: the tests run nginx with their own config.
        $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends nginx-light >&2
        if command -v nginx >/dev/null 2>&1; then exit 0; fi
      fi
    fi
    echo "nginx.sh: nginx is not on PATH and could not be installed. Fix: install it (Debian package nginx-light," \
      "as root: apt-get update && apt-get install -y nginx-light) or put an nginx binary on PATH" >&2
    exit 1
    ;;
  *) echo "usage: nginx.sh ensure" >&2; exit 2 ;;
esac
