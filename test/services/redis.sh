#!/bin/sh
# Redis for the *.redis.test suites: the machine's server on 127.0.0.1:6379. `ensure` starts a
# local redis-server (no persistence) when it is installed but not running.
set -e
HOST=${REDIS_HOST:-127.0.0.1}
PORT=${REDIS_PORT:-6379}

ready() {
  command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = "PONG" ]
}

case "${1:-ensure}" in
  ensure)
    if ready; then exit 0; fi
    if command -v redis-server >/dev/null 2>&1; then
      echo "redis.sh: starting redis-server on $HOST:$PORT" >&2
      mkdir -p /tmp/gantry-redis
      redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no --dir /tmp/gantry-redis --logfile /tmp/gantry-redis/redis.log
      i=0
      while [ $i -lt 30 ]; do ready && exit 0; i=$((i + 1)); sleep 1; done
    fi
    echo "redis.sh: Redis is not reachable on $HOST:$PORT. Fix: install redis-server (Debian package redis-server) or start it" >&2
    exit 1
    ;;
  *) echo "usage: redis.sh ensure" >&2; exit 2 ;;
esac
