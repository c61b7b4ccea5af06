# shellcheck shell=bash
# Sourced by .ci/run and .ci/demo: puts a Node >= 22.12 first on PATH.
# This machine kind ships Node 20; the npm registry's `node` package carries a real
# Node binary, so a newer Node needs nothing but the npm that is already here.
_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_node_cache="${INFRAKIT_VSPHERE_CACHE:-$_repo_root/.cache}/node"
_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
if ! _node_ok; then
  if [ ! -x "$_node_cache/node_modules/node/bin/node" ]; then
    echo "node-env: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 from the npm registry into $_node_cache" >&2
    mkdir -p "$_node_cache"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$_node_cache" node@24 >&2
  fi
  export PATH="$_node_cache/node_modules/node/bin:$PATH"
  _node_ok || { echo "node-env: could not obtain Node >= 22.12" >&2; return 1 2>/dev/null || exit 1; }
fi
echo "node-env: using Node $(node --version) at $(command -v node)" >&2
