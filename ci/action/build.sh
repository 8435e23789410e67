#!/usr/bin/env bash
# action.yml step 2: builds vrrplab and vrrpd from the action's own source (release), or
# takes prebuilt ones from $VRRPLAB_ACTION_BIN_DIR (ci/run-action-locally.py uses the
# test build). Writes the binary directory to $GITHUB_ENV as VRRPLAB_BIN_DIR.
set -euo pipefail
cd "$GITHUB_ACTION_PATH"
if [ -n "${VRRPLAB_ACTION_BIN_DIR:-}" ]; then
  bin="$VRRPLAB_ACTION_BIN_DIR"
else
  cargo build --release --locked -p vrrplab -p vrrpd
  bin="$GITHUB_ACTION_PATH/target/release"
fi
"$bin/vrrplab" --version
"$bin/vrrpd" --help >/dev/null
echo "VRRPLAB_BIN_DIR=$bin" >> "$GITHUB_ENV"
