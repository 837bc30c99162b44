#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian machine (as root):
# host packages, the pinned Python tool chain in .venv, and the lab images.
#   lab/setup.sh [SUITE ...]     (default: bookworm trixie)
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# prometheus: its promtool tests the example alert rules.
# dpkg-dev: dpkg-scanpackages indexes the lab's package repository (lab/package-repo.sh).
# openssh-client: the SSH path (the default scenario logs in to the host image with a key).
host_packages=(podman runc mmdebstrap keepalived mariadb-server mariadb-client haproxy openssl curl psmisc prometheus
  dpkg-dev openssh-client)

missing=()
for pkg in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tests start their own private MariaDB and HAProxy; the packaged
# services (and Prometheus, installed for promtool) are not needed and must
# not hold the default ports.
for svc in mariadb haproxy keepalived prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

req=.ci/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python tool chain into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# galaxy-importer (tests/lint/test_galaxy_importer.py) has an environment of its own: it caps attrs and
# ansible-lint, which must not hold .venv back. Inside .venv, which git, the collection build and the
# linters already leave out.
req=.ci/requirements-importer.txt
stamp=.venv/importer/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/importer/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing galaxy-importer into .venv/importer"
  python3 -m venv .venv/importer
  .venv/importer/bin/pip install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

[ "$#" -gt 0 ] || set -- bookworm trixie
bash lab/build-image.sh "$@"
