#!/usr/bin/env bash
# The main job, on a fresh machine (as root): build the lab images if needed,
# start two containers of the host image (a fresh Debian without keepalived)
# on an internal network, their only package source the lab's repository of
# real Debian packages; converge them with site.yml and the seed's example
# inventory (the role installs keepalived), and show who holds the VIP before
# and after the down file is created on node1, and after it is removed.
#   lab/demo.sh            (keeps the lab running; lab/demo.sh --down removes it)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=lab/common.sh
. lab/common.sh

distro=${DEMO_DISTRO:-bookworm}
net=fk-demo
subnet=192.168.157.0/24
vip=192.168.157.100
nodes=(node1=fk-demo-node1 node2=fk-demo-node2)
podman=(podman "${LAB_PODMAN_OPTS[@]}")

if [ "${1:-}" = "--down" ]; then
  "${podman[@]}" rm -f -t 2 fk-demo-node1 fk-demo-node2 >/dev/null 2>&1 || true
  "${podman[@]}" network rm -f "$net" >/dev/null 2>&1 || true
  echo "demo lab removed"
  exit 0
fi

bash lab/setup.sh "$distro"
# shellcheck source=/dev/null
. .venv/bin/activate

bash lab/package-repo.sh "$distro" >/dev/null
lab_network "$net" "$subnet"
i=10
for pair in "${nodes[@]}"; do
  i=$((i + 1))
  name=${pair%%=*}
  container=${pair#*=}
  if ! "${podman[@]}" container exists "$container"; then
    "${podman[@]}" run -d --name "$container" --hostname "$name" --network "$net" --ip "192.168.157.$i" \
      -v "$top/.lab/repo/$distro:/srv/lab-repo:ro" "${LAB_RUN_OPTS[@]}" "$(lab_image "$distro" host)" >/dev/null
  fi
  "${podman[@]}" start "$container" >/dev/null
done
lab_wait_booted 120 fk-demo-node1 fk-demo-node2
for pair in "${nodes[@]}"; do
  "${podman[@]}" exec "${pair#*=}" sh -c ': > /etc/apt/sources.list; rm -f /etc/apt/sources.list.d/*;
    echo "deb [trusted=yes] file:/srv/lab-repo/main ./" > /etc/apt/sources.list.d/lab.list'
done

# Use the collection from this checkout, and the example inventory's vars.
work=$top/.lab/demo
mkdir -p "$work/collections/ansible_collections/failover" "$work/inventory"
ln -sfn "$top" "$work/collections/ansible_collections/failover/keepalived"
cp lab/demo/hosts.yml "$work/inventory/hosts.yml"
ln -sfn "$top/examples/two-node/group_vars" "$work/inventory/group_vars"
ln -sfn "$top/examples/two-node/host_vars" "$work/inventory/host_vars"
export ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_NOCOLOR=1

echo "== converging with playbooks/site.yml"
started=$(date +%s.%N)
ansible-playbook -i "$work/inventory" playbooks/site.yml | tail -n 4
converge=$(python3 -c "import time; print('%.1f' % (time.time() - $started))")

vipw() { python3 lab/vip.py "$@" --vip "$vip" "${nodes[@]}"; }
vipw wait --holder node1 --timeout 30 >/dev/null

report=()
report+=("$(printf '%-44s %-8s %s' 'converged with site.yml' "$(vipw holders)" "${converge} s")")
"${podman[@]}" exec fk-demo-node1 rm -f /etc/keepalived/down
t0=$(date +%s.%N)
"${podman[@]}" exec fk-demo-node1 sh -c 'echo "demo" > /etc/keepalived/down'
moved=$(vipw wait --holder node2 --since "$t0")
report+=("$(printf '%-44s %-8s %s' 'down file created on node1' "$(vipw holders)" "moved after ${moved} s")")
t0=$(date +%s.%N)
"${podman[@]}" exec fk-demo-node1 rm -f /etc/keepalived/down
back=$(vipw wait --holder node1 --since "$t0")
report+=("$(printf '%-44s %-8s %s' 'down file removed on node1' "$(vipw holders)" "back after ${back} s")")

echo
echo "VIP $vip (instance WEB1, seed example: node1 priority 100, node2 80, check weight -30)"
printf '%-44s %-8s %s\n' 'step' 'holder' 'time'
printf '%s\n' "${report[@]}"
echo
echo "The lab keeps running: podman exec -it fk-demo-node1 bash; remove it with lab/demo.sh --down"
