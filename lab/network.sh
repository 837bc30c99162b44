#!/usr/bin/env bash
# Create an internal podman network (no route out, no DNS) if it is missing.
#   lab/network.sh NAME SUBNET
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"
[ "$#" -eq 2 ] || { echo "usage: $0 NAME SUBNET" >&2; exit 2; }
lab_network "$1" "$2"
