#!/usr/bin/env bash
# action.yml step 1: the packages the lab needs, and the daemons named in $DAEMON.
set -euo pipefail
pkgs=(tcpdump iproute2)
case ",$DAEMON," in *,keepalived,*) pkgs+=(keepalived) ;; esac
case ",$DAEMON," in *,frr,*) pkgs+=(frr) ;; esac
exec "$GITHUB_ACTION_PATH/ci/install-deps.sh" "${pkgs[@]}"
