#!/usr/bin/env bash
# The README's test command. The lab needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN), or a
# user namespace that maps you to root: as root it runs cargo test as is; as a user it
# runs cargo test as you, and cargo starts every test binary through ci/userns-runner
# (.cargo/config.toml), so nothing in target/ or ~/.cargo ends up owned by root. Where
# unprivileged user namespaces are blocked it says so and falls back to sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  exec cargo test --workspace "$@"
fi
if unshare --map-root-user --net true 2>/dev/null; then
  exec cargo test --workspace "$@"
fi
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" = 1 ]; then
  fix=kernel.apparmor_restrict_unprivileged_userns=0
else
  fix=kernel.unprivileged_userns_clone=1
fi
echo "ci/test.sh: unprivileged user namespaces are blocked here; allow them with \`sudo sysctl -w $fix\`, or (now) run through sudo" >&2
exec sudo -E env "PATH=$PATH" cargo test --workspace "$@"
