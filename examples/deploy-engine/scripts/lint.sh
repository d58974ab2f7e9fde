#!/bin/sh
# Syntax-checks every module and refuses trailing whitespace.
set -eu
status=0
for f in src/*.mjs test/*.mjs tests/*.mjs scripts/*.mjs; do
  node --check "$f" || status=1
  if grep -n '[[:space:]]$' "$f"; then echo "$f: trailing whitespace" >&2; status=1; fi
done
echo "lint: checked $(ls src/*.mjs test/*.mjs tests/*.mjs scripts/*.mjs | wc -l) files"
exit $status
