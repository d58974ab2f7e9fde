#!/usr/bin/env bash
# Installs the Debian packages Airlock and its tests use: bubblewrap (the job sandbox),
# git (checkouts), chromium (the console's browser tests), python3 (the egress proxy's set-up
# helper and splice relay; also, with make and g++, what node-gyp builds better-sqlite3 with when
# no prebuilt binary can be fetched, and for Node 24), curl (what the Kubernetes double's pods
# fetch their source with, and the egress bench's client), tar and gzip (restoring jobs' caches).
# Safe to run again.
# prlimit (which turns core dumps off for every job) comes from util-linux, which is essential
# on Debian and so always present.
set -euo pipefail
packages=(bubblewrap git ca-certificates chromium python3 make g++ curl tar gzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "system packages: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
