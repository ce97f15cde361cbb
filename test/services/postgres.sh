#!/bin/sh
# PostgreSQL for the *.pg.test suites: the machine's server on 127.0.0.1:5432 (database "test", user
# "postgres"). `ensure` starts the local cluster when it is installed but not running.
set -e
HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}

ready() {
  if command -v pg_isready >/dev/null 2>&1; then pg_isready -q -h "$HOST" -p "$PORT"; else (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; fi
}

case "${1:-ensure}" in
  ensure)
    if ready; then exit 0; fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      version=$(ls /etc/postgresql | sort -V | tail -1)
      echo "postgres.sh: starting PostgreSQL $version" >&2
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      i=0
      while [ $i -lt 30 ]; do ready && exit 0; i=$((i + 1)); sleep 1; done
    fi
    echo "postgres.sh: PostgreSQL is not reachable on $HOST:$PORT. Fix: install and start PostgreSQL (database 'test', user 'postgres', trust auth on loopback)" >&2
    exit 1
    ;;
  *) echo "usage: postgres.sh ensure" >&2; exit 2 ;;
esac
