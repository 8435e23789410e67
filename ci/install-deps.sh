#!/usr/bin/env bash
# The packages the lab tests and the catalogue use, on a Debian or Ubuntu machine
# (GitHub runner or .ci/run): keepalived, FRR, tcpdump, iproute2, chromium (the
# report's rendering test) and python3-yaml (ci/run-action-locally.py). Uses sudo
# when not root. Other packages: give them as arguments.

set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
pkgs=("$@")
[ "${#pkgs[@]}" -gt 0 ] || pkgs=(keepalived frr tcpdump iproute2 chromium python3-yaml)
# GitHub's Ubuntu runners already have Google Chrome, which the rendering test also takes.
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
  pkgs=("${pkgs[@]/chromium}")
fi
need=()
for pkg in "${pkgs[@]}"; do
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  $sudo apt-get update -qq
  # Ubuntu ships chromium as a snap stub; chromium-browser is the same there.
  if ! $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"; then
    alt=("${need[@]/chromium/chromium-browser}")
    $sudo apt-get install -y -qq --no-install-recommends "${alt[@]}"
  fi
fi
