# shellcheck shell=bash
# Shared settings for the lab scripts (sourced, not run).
# podman on this kind of host needs runc (crun cannot drive hybrid cgroups).
LAB_PODMAN_OPTS=(--runtime=runc)

lab_image() {  # lab_image SUITE -> image name
  echo "localhost/failover-keepalived-lab:$1"
}

# Options every lab container needs: systemd as PID 1, explicit rlimits
# (the host lacks CAP_SYS_RESOURCE), and the capabilities VRRP needs.
# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_RUN_OPTS=(
  --systemd=always
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
  --cap-add NET_ADMIN --cap-add NET_RAW --cap-add NET_BROADCAST
)

# lab_network NAME SUBNET: an internal network (no route out, no DNS).
lab_network() {
  podman "${LAB_PODMAN_OPTS[@]}" network exists "$1" 2>/dev/null && return 0
  podman "${LAB_PODMAN_OPTS[@]}" network create --internal --disable-dns --subnet "$2" "$1" >/dev/null
}
