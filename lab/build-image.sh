#!/usr/bin/env bash
# Build the lab images for one Debian suite without any registry: mmdebstrap
# writes a minimal Debian with systemd and Python, piped into `podman import`.
# Each image is labelled with a hash of its recipe and rebuilt only when the
# recipe changes. Two variants:
#   lab   keepalived and everything the roles install already there (most
#         scenarios, the benchmark); the packages it was built from are kept
#         in .lab/debs/SUITE for the lab's package repository (lab/package-repo.sh).
#   host  what an operator's freshly installed Debian host has: no keepalived
#         and none of the packages the roles install (the default scenario and
#         the demo: the roles install from packages).
# Both have openssh-server and an unprivileged user with sudo ($LAB_SSH_USER),
# for the SSH path (the default scenario, the benchmark's SSH figures).
#
#   lab/build-image.sh [SUITE ...]      (default: bookworm; both variants)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=lab/common.sh
. "$here/common.sh"

base=python3,python3-apt,iproute2,procps,systemd,systemd-sysv,dbus,psmisc,openssl,ca-certificates,sudo,openssh-server
# prometheus-node-exporter: the metrics path (keepalived_metrics_enabled) finds it installed and starts it.
declare -A packages=(
  [lab]=$base,keepalived,prometheus-node-exporter
  [host]=$base
)

mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -r "$f" ] || continue
    uri=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' "$f")
    [ -n "$uri" ] && break
  done
  [ -n "$uri" ] || { echo "no Debian mirror found in the host's apt sources" >&2; exit 1; }
  echo "$uri"
}

build() {
  local suite=$1 variant=$2 image recipe current debs hooks=()
  image=$(lab_image "$suite" "$variant")
  debs=$top/.lab/debs/$suite
  recipe=$( { cat "$0"; echo "${packages[$variant]} $suite $variant"; } | sha256sum | cut -c1-16)
  current=$(podman "${LAB_PODMAN_OPTS[@]}" image inspect --format '{{ index .Labels "recipe" }}' "$image" 2>/dev/null || true)
  if [ "$current" = "$recipe" ] && { [ "$variant" != lab ] || [ -f "$debs/.complete" ]; }; then
    echo "image $image is up to date ($recipe)"
    return 0
  fi
  # The hooks are single-quoted on purpose: mmdebstrap runs each one in a
  # shell of its own, with "$1" set to the new root.
  # shellcheck disable=SC2016
  hooks+=(--customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true')
  # The operator's account: key login (the key is given by whoever starts the container), sudo without a password.
  hooks+=(
    --customize-hook="chroot \"\$1\" useradd --create-home --shell /bin/bash $LAB_SSH_USER"
    --customize-hook="chroot \"\$1\" install -d -m 0700 -o $LAB_SSH_USER -g $LAB_SSH_USER /home/$LAB_SSH_USER/.ssh"
    --customize-hook="echo '$LAB_SSH_USER ALL=(ALL:ALL) NOPASSWD: ALL' > \"\$1\"/etc/sudoers.d/$LAB_SSH_USER && chmod 0440 \"\$1\"/etc/sudoers.d/$LAB_SSH_USER"
  )
  case $variant in
    lab)
      # The packages the image was built from (keepalived, its dependencies and
      # everything else), kept for the lab's package repository.
      rm -rf "$debs"
      mkdir -p "$debs"
      # shellcheck disable=SC2016
      hooks+=(
        --customize-hook='chroot "$1" systemctl disable keepalived.service prometheus-node-exporter.service >/dev/null 2>&1 || true'
        --customize-hook='rm -f "$1"/etc/keepalived/keepalived.conf'
        --customize-hook="cp \"\$1\"/var/cache/apt/archives/*.deb '$debs/' && touch '$debs/.complete'"
      )
      ;;
  esac
  echo "building $image (recipe $recipe)"
  mmdebstrap --quiet --variant=minbase --include="${packages[$variant]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "${hooks[@]}" \
    "$suite" - "$(mirror)" \
  | podman "${LAB_PODMAN_OPTS[@]}" import --quiet \
      --change 'CMD ["/sbin/init"]' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL recipe=$recipe" \
      - "$image" >/dev/null
  echo "built $image"
}

[ "$#" -gt 0 ] || set -- bookworm
pids=()
for suite in "$@"; do
  for variant in lab host; do
    build "$suite" "$variant" & pids+=($!)
  done
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
