// The command of every job's pod. It fetches the commit (and, for a restricted job, its secrets)
// from Airlock's job API with the attempt's token, runs the job's script as the local sandbox
// does (bash -e -o pipefail, output merged), uploads the report files it names, and exits with
// the script's status. The image needs sh, bash, curl and tar.
//
// Everything it reads comes from its environment: AIRLOCK_JOB_API, AIRLOCK_JOB_TOKEN,
// AIRLOCK_SHA, AIRLOCK_WORKDIR, AIRLOCK_RUN_DIR (a memory-backed volume), AIRLOCK_RUN_SCRIPT,
// AIRLOCK_REPORTS (one pattern a line) and AIRLOCK_WANTS_SECRETS. The script's own text never goes through a shell's parser here: bash
// reads it from a file in the memory-backed run directory.
export const BOOTSTRAP = `set -eu
api="$AIRLOCK_JOB_API"
q="sha=$AIRLOCK_SHA"
fetch() { curl -fsS --retry 3 --retry-all-errors -H "Authorization: Bearer $AIRLOCK_JOB_TOKEN" "$api/$1?$q"; }
export AIRLOCK_SECRETS_DIR="$AIRLOCK_RUN_DIR/secrets"
mkdir -p "$AIRLOCK_WORKSPACE" "$AIRLOCK_RUN_DIR"
cd "$AIRLOCK_WORKSPACE"
fetch source | tar -xf - --no-same-owner --no-same-permissions
if [ "$AIRLOCK_WANTS_SECRETS" = 1 ]; then
  secrets=$(fetch secrets)
  eval "$secrets"
  unset secrets
fi
cd "$AIRLOCK_WORKSPACE/$AIRLOCK_WORKDIR"
printf '%s' "$AIRLOCK_RUN_SCRIPT" > "$AIRLOCK_RUN_DIR/job.sh"
unset AIRLOCK_RUN_SCRIPT
set +e
bash -e -o pipefail "$AIRLOCK_RUN_DIR/job.sh" 2>&1
code=$?
set -e
if [ -n "$AIRLOCK_REPORTS" ]; then
  printf '%s\\n' "$AIRLOCK_REPORTS" | while IFS= read -r pattern; do
    for f in $pattern; do
      [ -f "$f" ] || continue
      curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $AIRLOCK_JOB_TOKEN" \\
        -H "X-Airlock-Report: $f" --data-binary "@$f" "$api/reports?$q" \\
        || echo "airlock: report $f could not be uploaded"
    done
  done
fi
exit "$code"
`;
