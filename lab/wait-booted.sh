#!/usr/bin/env bash
# Wait until systemd has booted in each lab container (see lab_wait_booted
# in lab/common.sh): retried while the container's D-Bus does not exist yet.
#   lab/wait-booted.sh [--timeout SECONDS] CONTAINER...     (default 120 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"
timeout=120
if [ "${1:-}" = "--timeout" ]; then
  timeout=$2
  shift 2
fi
[ "$#" -gt 0 ] || { echo "usage: $0 [--timeout SECONDS] CONTAINER..." >&2; exit 2; }
lab_wait_booted "$timeout" "$@"
