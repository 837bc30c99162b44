# shellcheck shell=bash
# Shared settings for the lab scripts (sourced, not run).
# podman on this kind of host needs runc (crun cannot drive hybrid cgroups).
LAB_PODMAN_OPTS=(--runtime=runc)

lab_image() {  # lab_image SUITE [VARIANT] -> image name (variants: lab/build-image.sh)
  echo "localhost/failover-keepalived-${2:-lab}:$1"
}

# The unprivileged account of the host image, which the SSH path logs in as.
# shellcheck disable=SC2034
LAB_SSH_USER=ops

# Options every lab container needs: systemd as PID 1, explicit rlimits
# (the host lacks CAP_SYS_RESOURCE), and the capabilities VRRP needs.
# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_RUN_OPTS=(
  --systemd=always
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
  --cap-add NET_ADMIN --cap-add NET_RAW --cap-add NET_BROADCAST
)

# lab_network NAME SUBNET [SUBNET...]: an internal network (no route out, no
# DNS); an IPv6 subnet beside the IPv4 one makes it dual-stack.
lab_network() {
  local name=$1 subnet args=()
  shift
  podman "${LAB_PODMAN_OPTS[@]}" network exists "$name" 2>/dev/null && return 0
  for subnet in "$@"; do
    args+=(--subnet "$subnet")
    case "$subnet" in *:*) args+=(--ipv6) ;; esac
  done
  podman "${LAB_PODMAN_OPTS[@]}" network create --internal --disable-dns "${args[@]}" "$name" >/dev/null
}

# lab_wait_booted SECONDS CONTAINER...: wait until systemd in each container
# has finished booting (running, or degraded: a unit the image does not need
# failed). Right after `podman run` the container's D-Bus may not exist yet
# and `systemctl is-system-running --wait` then fails at once ("Failed to
# connect to bus"); and a --wait that misses the end of the boot blocks until
# it is killed. So each attempt waits at most LAB_BOOT_ATTEMPT seconds and is
# retried until it answers, within one deadline for all the containers. Prints
# the last answer and the pending jobs of a container that did not boot in
# time and returns 1.
LAB_BOOT_ATTEMPT=5
lab_wait_booted() {
  local seconds=$1 container state left deadline
  shift
  deadline=$(($(date +%s) + seconds))
  for container in "$@"; do
    state=""
    while :; do
      left=$((deadline - $(date +%s)))
      if [ "$left" -le 0 ]; then
        echo "$container did not boot within ${seconds} s: ${state:-no answer}" >&2
        timeout 15 podman "${LAB_PODMAN_OPTS[@]}" exec "$container" timeout 10 systemctl list-jobs --no-pager 2>&1 \
          | head -n 20 >&2 || true
        return 1
      fi
      [ "$left" -le "$LAB_BOOT_ATTEMPT" ] || left=$LAB_BOOT_ATTEMPT
      # The outer timeout for a podman exec that does not return either.
      state=$(timeout "$((left + 10))" podman "${LAB_PODMAN_OPTS[@]}" exec "$container" \
        timeout "$left" systemctl is-system-running --wait 2>&1 | tail -n 1) || true
      case "$state" in
        running | degraded) break ;;
      esac
      sleep 0.5
    done
  done
}
