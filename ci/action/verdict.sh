#!/usr/bin/env bash
# action.yml step 6: fails the job when vrrplab did (a verdict failed, or bad input).
set -euo pipefail
case "${EXIT_CODE:-}" in
  0) echo "every run went as its scenario expects" ;;
  "") echo "vrrplab did not run"; exit 2 ;;
  *) echo "vrrplab exited with $EXIT_CODE: see the job summary and the report"; exit "$EXIT_CODE" ;;
esac
