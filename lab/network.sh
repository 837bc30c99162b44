#!/usr/bin/env bash
# Create internal podman networks (no route out, no DNS) that are missing.
#   lab/network.sh NAME SUBNET[,SUBNET...] [NAME SUBNET[,SUBNET...] ...]
# Several subnets make one network dual-stack (e.g. 192.168.164.0/24,fd00:164::/64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"
[ "$#" -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { echo "usage: $0 NAME SUBNET[,SUBNET...] [NAME SUBNET ...]" >&2; exit 2; }
while [ "$#" -gt 0 ]; do
  IFS=, read -r -a subnets <<<"$2"
  lab_network "$1" "${subnets[@]}"
  shift 2
done
