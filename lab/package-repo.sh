#!/usr/bin/env bash
# The lab's local apt repository for one suite, from real Debian packages: the
# ones the lab image was built from (kept by lab/build-image.sh: keepalived, its
# dependencies, node-exporter, ...), indexed with dpkg-scanpackages. Two parts:
#   main     those packages: where the host image (no keepalived) installs from
#   updates  keepalived rebuilt as VERSION+fk1, a real higher version whose
#            maintainer scripts run as Debian's do: the rolling upgrade's target,
#            added as a source only when the upgrade is tested
# The default scenario mounts .lab/repo/SUITE read-only into its containers;
# it is their only package source.
#   lab/package-repo.sh [SUITE]      (default: bookworm) -> .lab/repo/SUITE/{main,updates}
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
self=$top/lab/package-repo.sh
suite=${1:-bookworm}
debs=$top/.lab/debs/$suite
repo=$top/.lab/repo/$suite
[ -f "$debs/.complete" ] || {
  echo "no packages kept for $suite: run lab/build-image.sh $suite" >&2
  exit 1
}
orig=$(compgen -G "$debs/keepalived_*.deb" | head -n 1)
version=$(dpkg-deb -f "$orig" Version)
higher="$version+fk1"
stamp=$( (cd "$debs" && ls -l -- *.deb; cat "$self") | sha256sum | cut -c1-16)
if [ "$(cat "$repo/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "package repository $repo is up to date ($version, $higher)"
  exit 0
fi
rm -rf "$repo"
mkdir -p "$repo/main" "$repo/updates"
cp -l "$debs"/*.deb "$repo/main/" 2>/dev/null || cp "$debs"/*.deb "$repo/main/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$orig" "$work/pkg"
sed -i "s/^Version: .*/Version: $higher/" "$work/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -b "$work/pkg" \
  "$repo/updates/keepalived_${higher#*:}_$(dpkg-deb -f "$orig" Architecture).deb" >/dev/null
for part in main updates; do
  (cd "$repo/$part" && dpkg-scanpackages --multiversion . 2>/dev/null > Packages)
done
echo "$stamp" > "$repo/.stamp"
echo "package repository $repo: $(grep -c '^Package:' "$repo/main/Packages") packages in main, keepalived $higher in updates"
