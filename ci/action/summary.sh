#!/usr/bin/env bash
# action.yml step 4: the summary table into the job summary, with where the report is.
set -euo pipefail
{
  echo "## vrrplab"
  echo
  if [ -f "$OUT/summary.md" ]; then
    cat "$OUT/summary.md"
    echo
    echo "The HTML report (\`index.html\`, a page per run with its timeline, checks and logs) is in the artifact **$ARTIFACT**."
  else
    echo "vrrplab wrote no summary (\`$OUT/summary.md\` is missing): see the log of the \"vrrplab run\" step."
  fi
} >> "$GITHUB_STEP_SUMMARY"
