#!/bin/sh
# A local npm registry for the packaging suite (test/packaging/*.registry.test.ts): verdaccio, on
# loopback only, with a throwaway storage. It serves and accepts anonymous publishes of @gantry/*
# and proxies nothing: installs take every other package from the usual registry (a scoped
# `@gantry:registry` line in the installing project's .npmrc). verdaccio is installed under
# .cache/verdaccio with npm, not as a project dependency, so the lockfile stays lean.
#
# Usage: sh test/services/verdaccio.sh install|ensure|start|stop|url
#   install  installs verdaccio into .cache/verdaccio (once; nothing when already there)
#   start    starts it with an empty storage unless it already runs (then nothing)
#   ensure   install + start
#   stop     stops it by its PID and removes its storage (nothing when not running)
# VERDACCIO_PORT (default 4873) and VERDACCIO_HOME (config, storage, log and PID; default
# .cache/verdaccio-run) let a suite run its own instance beside another.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=6.8.0 # 6.10.x needs Node 22+; 6.8.0 runs on the machines' Node 20 as on Node 24
PORT=${VERDACCIO_PORT:-4873}
HOME_DIR=${VERDACCIO_HOME:-$ROOT/.cache/verdaccio-run}
INSTALL_DIR=$ROOT/.cache/verdaccio
BIN=$INSTALL_DIR/node_modules/verdaccio/bin/verdaccio
PIDFILE=$HOME_DIR/verdaccio.pid
URL=http://127.0.0.1:$PORT/
READY_SECONDS=${VERDACCIO_READY_SECONDS:-60}

answers() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "${URL}-/ping"
}
running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}
installed() {
  [ -f "$INSTALL_DIR/node_modules/verdaccio/package.json" ] &&
    [ "$(node -p 'require(process.argv[1]).version' "$INSTALL_DIR/node_modules/verdaccio/package.json")" = "$VERSION" ]
}

install() {
  installed && return 0
  echo "verdaccio.sh: installing verdaccio@$VERSION into .cache/verdaccio" >&2
  mkdir -p "$INSTALL_DIR"
  [ -f "$INSTALL_DIR/package.json" ] || echo '{ "name": "gantry-verdaccio", "private": true }' >"$INSTALL_DIR/package.json"
  # Its own project, outside the workspace: no npm_config_* of an enclosing `npm run` may leak in.
  (cd "$INSTALL_DIR" && env -u npm_config_prefix -u npm_config_workspace -u npm_config_workspaces \
    npm install --no-audit --no-fund --no-package-lock --loglevel=error "verdaccio@$VERSION" >&2)
}

stop() {
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
  fi
  rm -rf "$HOME_DIR/storage" "$HOME_DIR/htpasswd"
}

start() {
  if running && answers; then return 0; fi
  running && stop # started but not answering: replace it
  if answers; then
    echo "verdaccio.sh: something else answers on 127.0.0.1:$PORT. Fix: stop it, or pick another port with VERDACCIO_PORT" >&2
    exit 1
  fi
  if ! installed; then
    echo "verdaccio.sh: verdaccio@$VERSION is not installed. Fix: sh test/services/verdaccio.sh install" >&2
    exit 1
  fi
  rm -rf "$HOME_DIR/storage" "$HOME_DIR/htpasswd"
  mkdir -p "$HOME_DIR/storage"
  cat >"$HOME_DIR/config.yaml" <<YAML
# Written by test/services/verdaccio.sh; paths are relative to this file.
storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
    max_users: -1
uplinks: {}
packages:
  '@gantry/*':
    access: \$all
    publish: \$all
    unpublish: \$all
  # A user's own scope in the tests: a plugin made by \`gantry new plugin\`, published and installed.
  '@acme/*':
    access: \$all
    publish: \$all
    unpublish: \$all
  '**':
    access: \$all
    publish: \$authenticated
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
YAML
  nohup node "$BIN" --config "$HOME_DIR/config.yaml" --listen "127.0.0.1:$PORT" >"$HOME_DIR/verdaccio.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  i=0
  while [ $i -lt $((READY_SECONDS * 4)) ]; do
    if ! running; then
      echo "verdaccio.sh: verdaccio exited during start; its log:" >&2
      cat "$HOME_DIR/verdaccio.log" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    answers && return 0
    sleep 0.25
    i=$((i + 1))
  done
  echo "verdaccio.sh: verdaccio did not answer on $URL within ${READY_SECONDS}s; its log:" >&2
  cat "$HOME_DIR/verdaccio.log" >&2
  stop
  exit 1
}

case "${1:-ensure}" in
  install) install ;;
  start) start ;;
  ensure) install && start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: verdaccio.sh install|ensure|start|stop|url" >&2; exit 2 ;;
esac
