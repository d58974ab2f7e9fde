#!/bin/sh
# Stores random demo credentials in the example's secret set, once. Values go through stdin,
# never argv; real projects run `airlock secrets set functional-tests KEY` with real ones.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
airlock="node $root/bin/airlock.js"
cd "$(dirname "$0")"
if $airlock secrets list functional-tests 2>/dev/null | grep -q SCALEWAY_SECRET_KEY; then exit 0; fi
for key in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY DIGITALOCEAN_TOKEN SCALEWAY_ACCESS_KEY SCALEWAY_SECRET_KEY; do
  openssl rand -hex 20 | $airlock secrets set functional-tests "$key" >/dev/null
done
echo "demo credentials stored in examples/deploy-engine/.airlock (encrypted)"
