#!/usr/bin/env bash
# A local apt repository for the lab's rolling upgrade (playbooks/upgrade.yml):
# the keepalived package the lab image was built with (kept by
# lab/build-image.sh) and the same package rebuilt as VERSION+fk1, a real
# higher version whose maintainer scripts run as Debian's do. Indexed with
# dpkg-scanpackages; the default scenario mounts it read-only into its
# containers as their only apt source.
#   lab/package-repo.sh [SUITE]      (default: bookworm) -> .lab/repo/SUITE
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:-bookworm}
debs=$top/.lab/debs/$suite
repo=$top/.lab/repo/$suite
orig=$(compgen -G "$debs/keepalived_*.deb" | head -n 1) || {
  echo "no keepalived package kept for $suite: run lab/build-image.sh $suite" >&2
  exit 1
}
version=$(dpkg-deb -f "$orig" Version)
higher="$version+fk1"
if [ -f "$repo/Packages" ] && grep -qx "Version: $higher" "$repo/Packages"; then
  echo "package repository $repo is up to date ($version, $higher)"
  exit 0
fi
rm -rf "$repo"
mkdir -p "$repo"
cp "$orig" "$repo/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$orig" "$work/pkg"
sed -i "s/^Version: .*/Version: $higher/" "$work/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -b "$work/pkg" "$repo/keepalived_${higher#*:}_$(dpkg-deb -f "$orig" Architecture).deb" >/dev/null
(cd "$repo" && dpkg-scanpackages --multiversion . 2>/dev/null > Packages)
echo "package repository $repo: keepalived $version and $higher"
