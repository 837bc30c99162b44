#!/usr/bin/env bash
# Build the lab image for one Debian suite without any registry:
# mmdebstrap writes a minimal Debian with systemd, keepalived and Python,
# piped into `podman import`. The image is labelled with a hash of this
# recipe and rebuilt only when the recipe changes.
#
#   lab/build-image.sh [SUITE ...]      (default: bookworm)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=lab/common.sh
. "$here/common.sh"

# prometheus-node-exporter: the metrics path (keepalived_metrics_enabled) finds it installed and starts it.
packages=python3,python3-apt,keepalived,iproute2,procps,systemd,systemd-sysv,dbus,psmisc,openssl,ca-certificates,sudo,prometheus-node-exporter

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
  local suite=$1 image recipe current debs
  image=$(lab_image "$suite")
  # The keepalived package the image was built with, kept for the lab's package
  # repository (lab/package-repo.sh): the rolling upgrade's starting version.
  debs=$top/.lab/debs/$suite
  recipe=$( { cat "$0"; echo "$packages $suite"; } | sha256sum | cut -c1-16)
  current=$(podman "${LAB_PODMAN_OPTS[@]}" image inspect --format '{{ index .Labels "recipe" }}' "$image" 2>/dev/null || true)
  if [ "$current" = "$recipe" ] && compgen -G "$debs/keepalived_*.deb" >/dev/null; then
    echo "image $image is up to date ($recipe)"
    return 0
  fi
  rm -rf "$debs"
  mkdir -p "$debs"
  echo "building $image (recipe $recipe)"
  # The hooks are single-quoted on purpose: mmdebstrap runs each one in a
  # shell of its own, with "$1" set to the new root.
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true' \
    --customize-hook='chroot "$1" systemctl disable keepalived.service prometheus-node-exporter.service >/dev/null 2>&1 || true' \
    --customize-hook='rm -f "$1"/etc/keepalived/keepalived.conf' \
    --customize-hook="cp \"\$1\"/var/cache/apt/archives/keepalived_*.deb '$debs/'" \
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
  build "$suite" & pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
