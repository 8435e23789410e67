#!/usr/bin/env bash
# The README's test command. The lab needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  exec cargo test --workspace
else
  exec sudo -E env "PATH=$PATH" cargo test --workspace
fi
