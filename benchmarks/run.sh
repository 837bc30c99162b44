#!/usr/bin/env bash
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The benchmarks in one command, on a fresh machine (as root): the lab image and tool chain
# (lab/setup.sh bookworm), matplotlib for the chart, then benchmarks/lab.py, which builds its own
# fkb-* containers and networks, measures, prints the table and writes benchmarks/results/latest.*.
#   sudo bash benchmarks/run.sh [--trials 10] [--sizes 2,4,8,16] [--steady-seconds 600]
#                                [--only converge,failover,cpu] [--keep]
#   sudo bash benchmarks/run.sh --down      (removes a lab left by --keep)
# Without --keep every fkb-* container and network is removed at the end, whatever happened.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=lab/common.sh disable=SC1091
. lab/common.sh

keep=0 down=0
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    --down) down=1 ;;
    -h|--help) exec python3 benchmarks/lab.py --help ;;
  esac
done

networks=(fkb-converge fkb-classic fkb-fast fkb-fast004)
podman=(podman "${LAB_PODMAN_OPTS[@]}")

cleanup() {
  local rc=$? containers
  if [ "$keep" = 0 ] && command -v podman >/dev/null 2>&1; then
    # Only this benchmark's own containers (fkb-*), by name.
    containers=$("${podman[@]}" ps -a --format '{{.Names}}' --filter 'name=^fkb-' 2>/dev/null || true)
    if [ -n "$containers" ]; then
      # shellcheck disable=SC2086  # one name per word
      "${podman[@]}" rm -f -t 2 $containers >/dev/null 2>&1 || true
    fi
    for net in "${networks[@]}"; do
      if "${podman[@]}" network exists "$net" 2>/dev/null; then
        "${podman[@]}" network rm "$net" >/dev/null 2>&1 || true
      fi
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$down" = 1 ]; then
  echo "benchmark lab removed"
  exit 0
fi

bash lab/setup.sh bookworm

req=benchmarks/requirements.txt
stamp=.venv/.benchmarks.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "run.sh: installing $(grep -v '^#' "$req" | xargs) into .venv"
  if .venv/bin/pip install -q --disable-pip-version-check -r "$req"; then
    echo "$want" > "$stamp"
  else
    echo "run.sh: matplotlib could not be installed; the table is printed, the chart is left out" >&2
  fi
fi

.venv/bin/python benchmarks/lab.py "$@"
