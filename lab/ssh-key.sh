#!/usr/bin/env bash
# The lab's SSH key pair (.lab/ssh/id_ed25519), made once per checkout, and its
# public key authorized for the lab images' unprivileged user (lab/build-image.sh)
# in each container named, through podman, as a provider's cloud-init would.
#   lab/ssh-key.sh [CONTAINER ...]      -> prints the private key's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"
key=$(dirname "$here")/.lab/ssh/id_ed25519
if [ ! -f "$key" ]; then
  mkdir -p "$(dirname "$key")"
  chmod 0700 "$(dirname "$key")"
  ssh-keygen -q -t ed25519 -N '' -C failover-keepalived-lab -f "$key"
fi
for container in "$@"; do
  podman "${LAB_PODMAN_OPTS[@]}" exec -i "$container" sh -c "umask 077 && cat > ~$LAB_SSH_USER/.ssh/authorized_keys &&
    chown $LAB_SSH_USER: ~$LAB_SSH_USER/.ssh/authorized_keys" < "$key.pub"
done
echo "$key"
