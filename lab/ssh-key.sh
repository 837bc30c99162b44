#!/usr/bin/env bash
# The lab's SSH key pair (.lab/ssh/id_ed25519), made once per checkout: the
# scenarios that connect over SSH authorize its public key for the host
# image's unprivileged user (lab/build-image.sh) and log in with it.
#   lab/ssh-key.sh      -> prints the private key's path
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
key=$top/.lab/ssh/id_ed25519
if [ ! -f "$key" ]; then
  mkdir -p "$(dirname "$key")"
  chmod 0700 "$(dirname "$key")"
  ssh-keygen -q -t ed25519 -N '' -C failover-keepalived-lab -f "$key"
fi
echo "$key"
