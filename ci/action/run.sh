#!/usr/bin/env bash
# action.yml step 3: `vrrplab run` as root (sudo on a hosted runner). Never fails by
# itself, so the summary and the upload still happen; the exit code goes to the step's
# outputs and the last step fails the job on it.
set -uo pipefail
scenarios=()
if [ -n "${SCENARIOS:-}" ]; then
  read -r -a scenarios <<< "$SCENARIOS"
else
  scenarios=("$GITHUB_ACTION_PATH/scenarios")
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -E)
mkdir -p "$OUT"
"${sudo[@]}" env "VRRPD_BIN=$VRRPLAB_BIN_DIR/vrrpd" "$VRRPLAB_BIN_DIR/vrrplab" run "${scenarios[@]}" \
  --daemon "$DAEMON" --shard "$SHARD" --repeat "$REPEAT" --out "$OUT" --junit "$OUT/junit.xml"
code=$?
# Files written as root go back to the runner's user, so later steps can read and clean them.
[ "${#sudo[@]}" -eq 0 ] || sudo chown -R "$(id -u):$(id -g)" "$OUT"
echo "exit-code=$code" >> "$GITHUB_OUTPUT"
echo "report=$OUT/index.html" >> "$GITHUB_OUTPUT"
echo "vrrplab run exited with $code"
