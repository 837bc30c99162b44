# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks in a lab of their own: converge time, failover and failback, CPU of the checks.

    sudo bash benchmarks/run.sh [--trials 10] [--sizes 2,4,8,16] [--steady-seconds 600]
                                [--only converge,failover,cpu] [--keep]
    sudo bash benchmarks/run.sh --down       (removes what --keep left running)

benchmarks/run.sh prepares the machine (lab/setup.sh bookworm, matplotlib) and runs this file with the
project's .venv Python. Everything it starts is named fkb-* and sits on internal podman networks in
192.168.170.0/24 .. 192.168.172.0/24; the collection is used from this checkout through a symlink in
.lab/bench/, where the generated inventories and the ansible-playbook logs are kept too.

converge  for each size N: N fresh containers, `playbooks/site.yml` with the classic profile (the seed's
          example, examples/two-node, generalised to N nodes), then the unchanged re-run, which must
          report changed=0, over the podman connection and again over SSH as the image's unprivileged
          user with become and pipelining (the connection of molecule/default/inventory). Wall-clock
          seconds of ansible-playbook each. The containers are removed after each size.
failover  a converged pair per profile, classic (examples/two-node plus an http check on a web server)
          and fast (molecule/fast's group_vars as they are, with adverts of 0.04 s, and with adverts of
          0.02 s and down_timer_adverts 6): the down file
          created / removed on node1, and node1's web service stopped / started with systemctl; from that
          moment (stamped inside node1) to the VIP being added on node2 / back on node1 (stamped inside
          them by `ip -o monitor address`), and how long each move left the VIP with no holder or two.
          Fast pairs: keepalived frozen on node1 (SIGSTOP: no goodbye advert) until node2 holds the VIP.
          Then all pairs with no fault for --steady-seconds, both cores saturated and, separately, 5 % of
          VRRP packets dropped: the false moves.
cpu       benchmarks/failover.py's cpu_table on this machine: CPU seconds per minute of 1, 5 and 20
          checks as the runner, as forked keepalived-check and as shell one-liners.
planning  benchmarks/planning.py: controller CPU seconds of the inventory model (preflight and every host's
          plan) for 1,000, 2,000 and 5,000 hosts in pairs; no container.

The table goes to stdout; benchmarks/results/latest.json, latest.md and latest.png (when matplotlib
can draw it) hold the figures and the machine they were measured on. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import functools
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import failover  # noqa: E402  (benchmarks/failover.py, beside this file)
import planning  # noqa: E402  (benchmarks/planning.py, beside this file)

TOP = Path(__file__).resolve().parents[1]
WORK = TOP / ".lab" / "bench"
SUITE = "bookworm"
PARTS = ("converge", "failover", "cpu", "planning")
PLANNING_SIZES = (1000, 2000, 5000)
PREFIX = "fkb-"
# One internal network per part of the lab: name, subnet prefix.
NETWORKS = {
    "converge": ("fkb-converge", "192.168.170"),
    "classic": ("fkb-classic", "192.168.171"),
    "fast": ("fkb-fast", "192.168.172"),
    "fast-0.04": ("fkb-fast004", "192.168.173"),
    "fast-0.02x6": ("fkb-fast002", "192.168.174"),
}
# The failover pairs: the classic profile (examples/two-node), and the fast one (molecule/fast) as it is
# documented and with each instance setting of the shorter adverts it offers: 0.04 s, and 0.02 s with a
# master down interval of 6 adverts (the same 0.12 s, but a false takeover needs 5 or 6 lost in a row).
FAILOVER_PROFILES = {"classic": None, "fast": {}, "fast-0.04": {"advert_int": 0.04},
                     "fast-0.02x6": {"advert_int": 0.02, "down_timer_adverts": 6}}
# The conditions of the steady part: no fault, and still no move.
STEADY = {"cpu": "both cores saturated", "loss": "5 % of VRRP packets dropped at random"}
# The cpu part's figures for each number of checks: key in latest.json, label in the table, label in the chart.
CPU_FIGURES = (
    ("runner_1s", "runner, every 1 s", "runner 1 s"),
    ("runner_0.05s", "runner, every 0.05 s", "runner 0.05 s"),
    ("forked_1s", "forked keepalived-check, every 1 s", "forked keepalived-check 1 s"),
    ("shell_1s", "shell one-liner, every 1 s", "shell one-liner 1 s"),
    ("python_1s", "python3 -I -S running nothing (the floor of a forked check), every 1 s", "python3 -I -S alone 1 s"),
)
WEB_UNIT = """[Unit]
Description=Web server watched by check_web and asked through the VIP by the client (benchmark)
[Service]
ExecStart=/usr/bin/python3 -m http.server 8080 --directory /srv/bench
Restart=no
[Install]
WantedBy=multi-user.target
"""
WEB_CHECK = {"name": "check_web", "check": "http", "args": {"url": "http://127.0.0.1:8080/"}}
# The faults measured on each failover pair: label, (fault, heal) run inside node1, what heals.
FAULTS = (
    ("down file", failover.DOWN_FILE, "file removed"),
    ("web stopped", failover.unit_fault("web.service"), "web started"),
)
STARTED = time.monotonic()


class BenchError(Exception):
    """A failure that ends the run with a message (and no traceback)."""


def log(message):
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", flush=True)


def run(argv, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(argv, check=False, **kwargs)


def common(expression):
    """A value from lab/common.sh: the words of an array, or a function's output."""
    out = run(["bash", "-c", f'. lab/common.sh && printf "%s\\n" {expression}'], cwd=TOP)
    if out.returncode != 0:
        raise BenchError(f"cannot read {expression} from lab/common.sh: {out.stderr.strip()}")
    return out.stdout.splitlines()


class Lab:
    """The containers and networks of this run, started with the options in lab/common.sh."""

    def __init__(self, keep):
        self.keep = keep
        self.podman = ["podman"] + common('"${LAB_PODMAN_OPTS[@]}"')
        self.run_opts = common('"${LAB_RUN_OPTS[@]}"')
        self.image = common(f'"$(lab_image {SUITE})"')[0]
        self.containers = []
        self.networks = []
        failover.PODMAN = self.podman

    def network(self, part):
        name, prefix = NETWORKS[part]
        out = run(["bash", "lab/network.sh", name, f"{prefix}.0/24"], cwd=TOP)
        if out.returncode != 0:
            raise BenchError(f"cannot create the network {name}: {out.stderr.strip()}")
        if name not in self.networks:
            self.networks.append(name)
        return name, prefix

    def start(self, part, nodes):
        """Start fresh containers: nodes is a list of (host name, container, address) on the part's network."""
        network, _prefix = self.network(part)
        self.remove([container for _host, container, _address in nodes])
        for host, container, address in nodes:
            if not container.startswith(PREFIX):
                raise BenchError(f"{container}: this benchmark only starts containers named {PREFIX}*")
            out = run(self.podman + ["run", "-d", "--name", container, "--hostname", host, "--network", network,
                                     "--ip", address] + self.run_opts + [self.image])
            if out.returncode != 0:
                raise BenchError(f"cannot start {container}: {out.stderr.strip()}")
            self.containers.append(container)
        # Booted: systemd says running (or degraded), retried while the container's D-Bus is not up yet.
        out = run(["bash", "lab/wait-booted.sh", "--timeout", "180"] + [c for _h, c, _a in nodes], cwd=TOP)
        if out.returncode != 0:
            raise BenchError(out.stderr.strip() or out.stdout.strip())
        # The lab's SSH key, authorized for the image's user, for the figures over SSH.
        out = run(["bash", "lab/ssh-key.sh"] + [c for _h, c, _a in nodes], cwd=TOP)
        if out.returncode != 0:
            raise BenchError(f"lab/ssh-key.sh: {out.stderr.strip()}")

    def exec(self, container, argv, stdin=None):
        out = run(self.podman + ["exec", "-i", container] + argv, input=stdin)
        if out.returncode != 0:
            raise BenchError(f"{container}: {' '.join(argv)} failed: {out.stderr.strip()}")
        return out.stdout

    def remove(self, containers):
        mine = [c for c in containers if c.startswith(PREFIX)]
        if mine:
            run(self.podman + ["rm", "-f", "-t", "2"] + mine)
        self.containers = [c for c in self.containers if c not in mine]

    def close(self):
        if self.keep:
            if self.containers:
                log("--keep: left running: " + " ".join(self.containers))
            return
        self.remove(list(self.containers))
        for name in self.networks:
            run(self.podman + ["network", "rm", name])


def ansible_env():
    collections = WORK / "collections"
    (collections / "ansible_collections" / "failover").mkdir(parents=True, exist_ok=True)
    link = collections / "ansible_collections" / "failover" / "keepalived"
    if not link.is_symlink() or link.resolve() != TOP:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(TOP)
    env = dict(os.environ)
    # profile_tasks (ansible.posix, in the pinned `ansible` package) puts each task's time in the logs.
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    # The SSH connection variables come from molecule/default/inventory, whose key path starts there.
    env["MOLECULE_PROJECT_DIRECTORY"] = str(TOP)
    return env


def tool(name):
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def profile_vars(inventory, env):
    """keepalived_instances and keepalived_scripts of node1 in a checked-in inventory, templates unrendered."""
    out = run([tool("ansible-inventory"), "-i", str(TOP / inventory), "--host", "node1"], env=env, cwd=TOP)
    if out.returncode != 0:
        raise BenchError(f"ansible-inventory -i {inventory}: {out.stderr.strip()}")
    found = json.loads(out.stdout)
    return {key: found[key] for key in ("keepalived_instances", "keepalived_scripts")}, found


def spread_priorities(given, hosts):
    """The given priorities kept, the hosts without one below the lowest, distinct, at most 10 apart."""
    prios = {host: given[host] for host in hosts if host in given}
    rest = [host for host in hosts if host not in prios]
    if rest:
        lowest = min(prios.values()) if prios else 101
        step = max(1, min(10, (lowest - 1) // len(rest)))
        if lowest - step * len(rest) < 1:
            raise BenchError(f"{len(hosts)} nodes do not fit below priority {lowest}")
        for index, host in enumerate(rest, 1):
            prios[host] = lowest - step * index
    return prios


def classic_vars(env, hosts, vip, web):
    """The seed's example (examples/two-node) for these hosts; with web, plus check_web on every instance."""
    found, node1 = profile_vars("examples/two-node", env)
    group = copy.deepcopy(found)
    for inst in group["keepalived_instances"]:
        inst["priorities"] = spread_priorities(inst.get("priorities", {}), hosts)
    if web:
        template = next(s for s in group["keepalived_scripts"] if s.get("check") == "file")
        check = dict(WEB_CHECK, **{k: template[k] for k in ("interval", "fall", "rise", "weight") if k in template})
        group["keepalived_scripts"].append(check)
        for inst in group["keepalived_instances"]:
            inst["track_scripts"] = list(inst.get("track_scripts", [])) + [check["name"]]
    group["example_vip"] = vip
    # host_vars/node1.yml is `keepalived_router_id: KA1`: KA<n> for node<n>.
    hostvars = {}
    if "keepalived_router_id" in node1:
        stem = re.sub(r"\d+$", "", str(node1["keepalived_router_id"]))
        hostvars = {host: {"keepalived_router_id": stem + re.sub(r"^\D+", "", host)} for host in hosts}
    return group, hostvars


def fast_vars(env, vip, instance=None):
    """molecule/fast's group_vars (the documented fast profile), its VIP on this lab's network; with
    instance, those settings on each instance instead of the documented ones."""
    found, node1 = profile_vars("molecule/fast/inventory", env)
    group = copy.deepcopy(found)
    if "fast_vip" not in node1:
        raise BenchError("molecule/fast/inventory no longer sets fast_vip")
    group["fast_vip"] = vip
    for inst in group["keepalived_instances"]:
        inst.update(instance or {})
    return group, {}


@functools.lru_cache(maxsize=None)
def ssh_user():
    """The unprivileged account of the lab images (lab/common.sh)."""
    return common('"$LAB_SSH_USER"')[0]


def ssh_connection(env):
    """The SSH connection variables of molecule/default/inventory (user, become, pipelining, key, the
    stream through podman exec into sshd), read from there so the two cannot differ."""
    out = run([tool("ansible-inventory"), "-i", str(TOP / "molecule/default/inventory"), "--host", "node1"],
              env=env, cwd=TOP)
    if out.returncode != 0:
        raise BenchError(f"ansible-inventory -i molecule/default/inventory: {out.stderr.strip()}")
    found = json.loads(out.stdout)
    wanted = {k: v for k, v in found.items() if k.startswith("ansible_") and k != "ansible_host"}
    if wanted.get("ansible_connection") != "ansible.builtin.ssh" or wanted.get("ansible_user") != ssh_user():
        raise BenchError(f"molecule/default/inventory no longer connects over SSH as {ssh_user()}: {wanted}")
    return wanted


def write_inventory(name, nodes, group, hostvars, connection=None):
    """.lab/bench/NAME/inventory: hosts, group_vars and host_vars as JSON (which YAML reads as well);
    over the podman connection unless connection gives other connection variables."""
    inv = WORK / name / "inventory"
    if inv.exists():
        shutil.rmtree(inv)
    (inv / "group_vars").mkdir(parents=True)
    hosts = {host: {"ansible_host": container} for host, container, _address in nodes}
    (inv / "hosts.yml").write_text(json.dumps({"keepalived": {"vars": connection or {
        "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
        # root over podman already, as the podman scenarios: no sudo round trip per task
        "ansible_become": False},
        "hosts": hosts}}, indent=2) + "\n")
    (inv / "group_vars" / "keepalived.json").write_text(json.dumps(group, indent=2) + "\n")
    if hostvars:
        (inv / "host_vars").mkdir()
        for host, values in hostvars.items():
            (inv / "host_vars" / f"{host}.json").write_text(json.dumps(values, indent=2) + "\n")
    return inv


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
PROFILED = re.compile(r"^(\S.*?) -+ (\d+\.\d+)s$")


def slowest(text, count=5):
    """The slowest tasks from profile_tasks' closing summary: [[task, seconds], ...]."""
    found = [[match.group(1), float(match.group(2))] for match in map(PROFILED.match, text.splitlines()) if match]
    return sorted(found, key=lambda item: -item[1])[:count]


def busy_cpu_seconds():
    """CPU seconds this machine has spent on anything but idle and I/O wait since boot (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def converge(inv, env, forks, logfile, cpu=None):
    """Run site.yml; returns (wall seconds, {host: changed}, [(task, host) that changed], slowest tasks).
    With a dict for cpu, it gets the run's CPU seconds: "controller" (ansible-playbook and its children:
    workers, ssh), "all" (the whole machine, the nodes' containers included) and "cores" busy on average."""
    started = time.monotonic()
    busy = busy_cpu_seconds()
    before = os.times()
    with open(logfile, "w", encoding="utf-8") as out:
        proc = subprocess.run([tool("ansible-playbook"), "-i", str(inv), "-f", str(forks), "playbooks/site.yml"],
                              stdout=out, stderr=subprocess.STDOUT, env=env, cwd=TOP, check=False)
    seconds = time.monotonic() - started
    if cpu is not None:
        after = os.times()
        cpu["controller_s"] = round(after.children_user + after.children_system
                                    - before.children_user - before.children_system, 2)
        cpu["all_s"] = round(busy_cpu_seconds() - busy, 2)
        cpu["cores_busy"] = round(cpu["all_s"] / seconds, 2)
    text = Path(logfile).read_text(encoding="utf-8", errors="replace")
    changed, tasks, task, recap = {}, [], None, False
    for line in text.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]")[0]
        elif line.startswith("changed: ["):
            tasks.append((task, line[10:].split("]")[0]))
        elif line.startswith("PLAY RECAP"):
            recap = True
        elif recap and RECAP.match(line):
            match = RECAP.match(line)
            changed[match.group(1)] = int(match.group(3))
            if int(match.group(4)) or int(match.group(5)):
                proc.returncode = proc.returncode or 1
    if proc.returncode != 0 or not changed:
        tail = "\n".join(text.splitlines()[-25:])
        raise BenchError(f"site.yml failed (exit {proc.returncode}); log {logfile}:\n{tail}")
    return seconds, changed, tasks, slowest(text)


def nodes_for(part, count, first_address, container_stem):
    _name, prefix = NETWORKS[part]
    return [(f"node{i}", f"{container_stem}-node{i}", f"{prefix}.{first_address + i - 1}") for i in range(1, count + 1)]


def bench_converge(lab, env, sizes, results):
    address = 11
    for index, size in enumerate(sizes):
        nodes = nodes_for("converge", size, address, f"fkb-n{size}")
        address += size
        vip = f"{NETWORKS['converge'][1]}.{200 + index}/24"
        log(f"converge {size} nodes: starting {', '.join(c for _h, c, _a in nodes)}")
        lab.start("converge", nodes)
        group, hostvars = classic_vars(env, [host for host, _c, _a in nodes], vip, web=False)
        inv = write_inventory(f"converge-{size}", nodes, group, hostvars)
        forks = max(5, size)
        first, changed_first, _tasks, slow_first = converge(inv, env, forks, WORK / f"converge-{size}-first.log")
        log(f"converge {size} nodes: first run {first:.1f} s, changed={sum(changed_first.values())}")
        again, changed_again, tasks, slow_again = converge(inv, env, forks, WORK / f"converge-{size}-rerun.log")
        log(f"converge {size} nodes: unchanged re-run {again:.1f} s, changed={sum(changed_again.values())}")
        if sum(changed_again.values()):
            listed = "; ".join(f"{task} on {host}" for task, host in tasks)
            raise BenchError(f"the re-run of site.yml on {size} nodes is not idempotent: changed "
                             f"{changed_again} ({listed}); log {WORK / f'converge-{size}-rerun.log'}")
        # The same unchanged re-run over SSH: what an operator's re-run costs.
        ssh_inv = write_inventory(f"converge-{size}-ssh", nodes, group, hostvars, connection=ssh_connection(env))
        cpu = {}
        over_ssh, changed_ssh, tasks, _slow = converge(ssh_inv, env, forks, WORK / f"converge-{size}-rerun-ssh.log", cpu)
        log(f"converge {size} nodes: unchanged re-run over SSH {over_ssh:.1f} s, changed={sum(changed_ssh.values())}, "
            f"CPU {cpu['all_s']:.1f} s ({cpu['controller_s']:.1f} s the controller's), {cpu['cores_busy']:.2f} cores busy")
        if sum(changed_ssh.values()):
            listed = "; ".join(f"{task} on {host}" for task, host in tasks)
            raise BenchError(f"the re-run of site.yml over SSH on {size} nodes changed {changed_ssh} ({listed})")
        holder = failover.wait_holder(nodes[0][1], nodes[1][1], vip.split("/", maxsplit=1)[0], timeout=30)
        results.append({"nodes": size, "forks": forks, "first_s": round(first, 2), "rerun_s": round(again, 2),
                        "rerun_ssh_s": round(over_ssh, 2), "rerun_ssh_cpu": cpu,
                        "first_changed": sum(changed_first.values()), "rerun_changed": 0,
                        "vip_on_node1": holder, "priorities": group["keepalived_instances"][0]["priorities"],
                        "slowest_tasks_first": slow_first, "slowest_tasks_rerun": slow_again})
        if not lab.keep:
            lab.remove([container for _h, container, _a in nodes])


def start_web(lab, container):
    lab.exec(container, ["sh", "-c", "mkdir -p /srv/bench && hostname > /srv/bench/index.html && "
                         "cat > /etc/systemd/system/web.service && systemctl daemon-reload && "
                         "systemctl enable --now --quiet web.service"], stdin=WEB_UNIT)
    lab.exec(container, ["python3", "-c", "import time, urllib.request\nfor _ in range(100):\n"
                         "    try:\n        urllib.request.urlopen('http://127.0.0.1:8080/', timeout=1); break\n"
                         "    except OSError: time.sleep(0.1)\nelse: raise SystemExit('web.service does not answer')"])


def summary(values):
    return {"median_s": round(statistics.median(values), 3), "worst_s": round(max(values), 3),
            "best_s": round(min(values), 3), "trials_s": [round(v, 3) for v in values]}


def bench_failover(lab, env, trials, steady_seconds, results):
    """Every failover pair: its faults' moves, then (fast profiles) keepalived frozen, then all pairs at once
    with no fault for steady_seconds under each condition of STEADY. The pairs run until the end."""
    pairs = []
    for profile in FAILOVER_PROFILES:
        nodes = nodes_for(profile, 2, 11, f"fkb-{profile}")
        vip = f"{NETWORKS[profile][1]}.100"
        log(f"failover {profile}: starting {nodes[0][1]}, {nodes[1][1]} with web.service")
        lab.start(profile, nodes)
        for _host, container, _address in nodes:
            start_web(lab, container)
        hosts = [host for host, _c, _a in nodes]
        if profile == "classic":
            group, hostvars = classic_vars(env, hosts, f"{vip}/24", web=True)
        else:
            group, hostvars = fast_vars(env, f"{vip}/24", FAILOVER_PROFILES[profile])
        inv = write_inventory(f"failover-{profile}", nodes, group, hostvars)
        seconds, _changed, _tasks, _slow = converge(inv, env, 5, WORK / f"failover-{profile}.log")
        log(f"failover {profile}: converged in {seconds:.1f} s")
        figures = {"converge_s": round(seconds, 2), "instances": group["keepalived_instances"],
                   "scripts": group["keepalived_scripts"], "faults": {}}
        # A third container on the same network asks the VIP who answers, every 10 ms.
        client_node = ("client", f"fkb-{profile}-client", f"{NETWORKS[profile][1]}.21")
        lab.start(profile, [client_node])
        client = failover.Client(client_node[1], f"http://{vip}:8080/")
        try:
            for label, (fault, heal), healed in FAULTS:
                times = failover.moves(f"{profile} {label}", nodes[0][1], nodes[1][1], vip, trials, fault, heal,
                                       client=(client, nodes[0][0], nodes[1][0]))
                figures["faults"][label] = {
                    "healed_by": healed, "failover": summary(times["over"]), "failback": summary(times["back"]),
                    "served_failover": summary(times["served_over"]),
                    "served_failback": summary(times["served_back"]),
                    "gap_failover": gaps(times["gap_over"]), "gap_failback": gaps(times["gap_back"])}
                log(f"failover {profile} {label}: over median {statistics.median(times['over']):.3f} s, "
                    f"answered by node2 {statistics.median(times['served_over']):.3f} s; back median "
                    f"{statistics.median(times['back']):.3f} s, answered by node1 "
                    f"{statistics.median(times['served_back']):.3f} s")
        finally:
            client.close()
        if not lab.keep:
            lab.remove([client_node[1]])
        if profile != "classic":
            times = failover.moves(f"{profile} frozen", nodes[0][1], nodes[1][1], vip, trials, *failover.FREEZE,
                                   frozen=True)
            figures["frozen"] = {"failover": summary(times["over"]), "failback": summary(times["back"])}
            log(f"failover {profile} keepalived frozen: over median {statistics.median(times['over']):.3f} s")
        results[profile] = figures
        pairs.append((profile, nodes[0][1], nodes[1][1], vip))
    if steady_seconds > 0:
        for condition in STEADY:
            log(f"steady: {', '.join(p[0] for p in pairs)} for {steady_seconds:g} s each, {STEADY[condition]}")
            for profile, facts in failover.steady(pairs, steady_seconds, condition).items():
                results[profile].setdefault("steady", {})[condition] = facts
    if not lab.keep:
        lab.remove([container for _p, node1, node2, _v in pairs for container in (node1, node2)])


def gaps(values):
    """The longest time a move left the VIP with no holder, and with two, from its trials' gaps (seconds)."""
    return {"unheld_max_s": round(max([0.0] + values), 4), "two_holders_max_s": round(max([0.0] + [-v for v in values]), 4),
            "trials_s": [round(v, 4) for v in values]}


def bench_cpu(seconds, results):
    log(f"cpu: 1, 5 and 20 file checks, {seconds:g} s per cell")
    for count, *figures in failover.cpu_table(seconds, show=False):
        rounded = {key: round(value, 3) for (key, _text, _chart), value in zip(CPU_FIGURES, figures)}
        results.append(dict(checks=count, **rounded))


def bench_planning(results):
    log("planning: the inventory model for " + ", ".join(f"{n:,}" for n in PLANNING_SIZES) + " hosts in pairs")
    results.extend(planning.measure(PLANNING_SIZES, WORK / "collections"))


def read(path):
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def machine(lab):
    cpu = re.search(r"^model name\s*:\s*(.+)$", read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", read("/proc/meminfo"), re.M)
    distro = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', read("/etc/os-release"), re.M)
    podman = run(lab.podman + ["version", "--format", "{{.Client.Version}}"]).stdout.strip()
    keepalived = "unknown"
    mount = run(lab.podman + ["image", "mount", lab.image])
    if mount.returncode == 0 and mount.stdout.strip():
        status = read(Path(mount.stdout.strip()) / "var/lib/dpkg/status")
        found = re.search(r"^Package: keepalived\n(?:[^\n]+\n)*?Version: ([^\n]+)", status, re.M)
        keepalived = found.group(1) if found else keepalived
        run(lab.podman + ["image", "unmount", lab.image])
    commit = run(["git", "-C", str(TOP), "describe", "--always", "--dirty"]).stdout.strip()
    try:
        ansible_core = importlib.metadata.version("ansible-core")
    except importlib.metadata.PackageNotFoundError:
        ansible_core = "not installed"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu.group(1).strip() if cpu else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "distribution": distro.group(1) if distro else "unknown",
        "podman": podman or "unknown",
        "image": lab.image,
        "keepalived": keepalived,
        "ansible_core": ansible_core,
        "python": platform.python_version(),
        "commit": commit or "unknown",
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }


def rows(results):
    """The one table: (part, measurement, value, worst, samples)."""
    table = []
    for item in results.get("converge", []):
        n = item["nodes"]
        table.append(("converge", f"site.yml on {n} fresh nodes (forks {item['forks']})",
                      f"{item['first_s']:.1f} s", "", "1"))
        table.append(("converge", f"site.yml re-run on {n} nodes, changed=0", f"{item['rerun_s']:.1f} s", "", "1"))
        if "rerun_ssh_s" in item:
            table.append(("converge", f"  ... over SSH as {ssh_user()}, become, pipelining",
                          f"{item['rerun_ssh_s']:.1f} s", "", "1"))
        cpu = item.get("rerun_ssh_cpu")
        if cpu:
            table.append(("converge", "  ... its CPU: the controller's / all (nodes included)",
                          f"{cpu['controller_s']:.1f} / {cpu['all_s']:.1f} s, {cpu['cores_busy']:.2f} cores busy",
                          "", "1"))
    converged = {item["nodes"]: item for item in results.get("converge", [])}
    if 2 in converged and len(converged) > 1:
        top = max(converged)
        table.append(("converge", f"re-run growth, {top} nodes against 2",
                      f"{converged[top]['rerun_s'] / converged[2]['rerun_s']:.2f} x", "", ""))
        if "rerun_ssh_s" in converged[top] and "rerun_ssh_s" in converged[2]:
            table.append(("converge", "  ... over SSH",
                          f"{converged[top]['rerun_ssh_s'] / converged[2]['rerun_ssh_s']:.2f} x", "", ""))
        if converged[top].get("rerun_ssh_cpu") and converged[2].get("rerun_ssh_cpu"):
            table.append(("converge", f"  ... its CPU (all), {top} nodes against 2",
                          f"{converged[top]['rerun_ssh_cpu']['all_s'] / converged[2]['rerun_ssh_cpu']['all_s']:.2f} x",
                          "", ""))
    names = {"down file": ("down file created on node1: VIP on node2", "down file removed: VIP back on node1"),
             "web stopped": ("web.service stopped on node1: VIP on node2", "web.service started: VIP back on node1")}
    for profile, figures in results.get("failover", {}).items():
        advert = figures["instances"][0].get("advert_int", 1)
        for label, data in figures["faults"].items():
            for key, text in zip(("failover", "failback"), names[label]):
                for measured, what in ((key, text), ("served_" + key, "  ... answered from there (third container)")):
                    got = data.get(measured)
                    if got:
                        table.append((f"{key} {profile}", what, f"{got['median_s']:.3f} s",
                                      f"{got['worst_s']:.3f} s", str(len(got["trials_s"]))))
                gap = data.get("gap_" + key)
                if gap:
                    table.append((f"{key} {profile}", "  ... longest time with no holder / with two holders",
                                  f"{gap['unheld_max_s'] * 1000:.1f} / {gap['two_holders_max_s'] * 1000:.1f} ms", "",
                                  str(len(gap["trials_s"]))))
        frozen = figures.get("frozen")
        if frozen:
            for key, what in (("failover", f"keepalived frozen on node1 (no goodbye, advert {advert:g} s): VIP on node2"),
                              ("failback", "keepalived thawed: node2 lets the VIP go")):
                got = frozen[key]
                table.append((f"{key} {profile}", what, f"{got['median_s']:.3f} s", f"{got['worst_s']:.3f} s",
                              str(len(got["trials_s"]))))
        for condition, facts in figures.get("steady", {}).items():
            if condition == "cpu":
                what = f"false moves, {facts['seconds'] / 60:g} min, both cores saturated ({facts['cpu_busy']:.0%} busy)"
            else:
                what = (f"false moves, {facts['seconds'] / 60:g} min, {facts['loss']:.0%} VRRP loss "
                        f"({facts['vrrp_dropped']:,} of {facts['vrrp_received']:,} dropped)")
            table.append((f"steady {profile}", f"{what}, advert {advert:g} s",
                          str(facts["false_moves"] + facts["node1_lost"]), "", "1"))
    for item in results.get("cpu", []):
        for key, text, _chart in CPU_FIGURES:
            table.append(("cpu per host", f"{item['checks']} file check{'s' if item['checks'] > 1 else ''}: {text}",
                          f"{item[key]:.3f} CPU s/min", "", ""))
    for item in results.get("planning", []):
        table.append(("planning", f"preflight and plans of {item['hosts']:,} hosts in pairs (controller CPU)",
                      f"{item['seconds']:.2f} s", f"{item['per_1000_s']:.3f} s / 1,000", "1"))
    return table


def markdown_table(header, body):
    widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
    right = [False, False, True, True, True]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right)) + "|"]
    for row in body:
        lines.append("| " + " | ".join(str(c).rjust(w) if r else str(c).ljust(w)
                                       for c, w, r in zip(row, widths, right)) + " |")
    return "\n".join(lines)


def machine_lines(info):
    items = [("date", info["date"]), ("CPU", info["cpu"]), ("cores", info["cores"]),
             ("memory", f"{info['memory_gib']} GiB"), ("kernel", info["kernel"]),
             ("distribution", info["distribution"]), ("podman", info["podman"]),
             (f"keepalived in {info['image']}", info["keepalived"]), ("ansible-core", info["ansible_core"]),
             ("Python", info["python"]), ("collection commit", info["commit"]),
             ("load average (1/5/15 min) at start / end",
              f"{' '.join(map(str, info['load_average_start']))} / {' '.join(map(str, info.get('load_average_end', [])))}")]
    return ["| machine | |", "|---|---|"] + [f"| {key} | {value} |" for key, value in items]


def report(results):
    body = rows(results)
    table = markdown_table(("part", "measurement", "median / value", "worst", "trials"), body) if body else ""
    return table


def write_markdown(path, results, table, chart):
    opts = results["options"]
    command = " ".join(["sudo bash benchmarks/run.sh"] + ([opts["command_line"]] if opts["command_line"] else []))
    lines = ["# Benchmarks", "", f"`{command}`", "",
             "What each figure means, and how it is measured: [docs/benchmarks.md](../../docs/benchmarks.md).", ""]
    lines += machine_lines(results["machine"]) + ["", table, ""]
    if chart:
        lines += [f"![benchmarks]({chart.name})", ""]
    path.write_text("\n".join(lines))


def draw(path, results):
    """The chart; returns the path, or None when matplotlib is missing or fails (the table is printed anyway)."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        log(f"no chart: {exc}")
        return None
    try:
        panels = [p for p in ("converge", "failover", "cpu") if results.get(p)]
        if not panels:
            return None
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.2), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            if panel == "converge":
                data = results["converge"]
                xs = range(len(data))
                width = 0.38
                first = ax.bar([x - width / 2 for x in xs], [d["first_s"] for d in data], width, label="first run")
                again = ax.bar([x + width / 2 for x in xs], [d["rerun_s"] for d in data], width,
                               label="unchanged re-run")
                ax.bar_label(first, fmt="%.0f", fontsize=8)
                ax.bar_label(again, fmt="%.0f", fontsize=8)
                ax.set_xticks(list(xs), [f"{d['nodes']} nodes" for d in data])
                ax.set_ylabel("seconds (ansible-playbook wall clock)")
                ax.set_title("site.yml converge, classic profile")
                ax.set_ylim(0, max(d["first_s"] for d in data) * 1.25)
                ax.legend(loc="upper left", fontsize=8)
            elif panel == "failover":
                groups, series = [], {"failover median": [], "failover worst": [],
                                      "failback median": [], "failback worst": []}
                for profile, figures in results["failover"].items():
                    for label, data in figures["faults"].items():
                        groups.append(f"{profile}\n{label}")
                        for key in ("failover", "failback"):
                            series[f"{key} median"].append(data[key]["median_s"])
                            series[f"{key} worst"].append(data[key]["worst_s"])
                width = 0.2
                for offset, (name, values) in enumerate(series.items()):
                    bars = ax.bar([x + (offset - 1.5) * width for x in range(len(groups))], values, width,
                                  label=name, hatch="//" if "worst" in name else None,
                                  color=("tab:red" if name.startswith("failover") else "tab:blue"),
                                  alpha=1.0 if "median" in name else 0.55)
                    ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
                ax.set_yscale("log")
                ax.set_ylim(min(min(v) for v in series.values()) / 2, max(max(v) for v in series.values()) * 8)
                ax.set_xticks(list(range(len(groups))), groups)
                ax.set_ylabel("seconds (log scale)")
                ax.set_title(f"VIP moved (failover) and back (failback), {results['options']['trials']} trials")
                ax.legend(loc="upper right", fontsize=8, ncols=2)
            else:
                data = results["cpu"]
                keys = [(key, name) for key, _text, name in CPU_FIGURES]
                width = 0.8 / len(keys)
                for offset, (key, name) in enumerate(keys):
                    bars = ax.bar([x + (offset - (len(keys) - 1) / 2) * width for x in range(len(data))],
                                  [max(d[key], 1e-3) for d in data], width, label=name)
                    ax.bar_label(bars, labels=[f"{d[key]:.2f}" for d in data], fontsize=6, rotation=90, padding=2)
                ax.set_yscale("log")
                ax.set_ylim(5e-4, max(max(d[k] for k, _n in keys) for d in data) * 20)
                ax.set_xticks(list(range(len(data))), [f"{d['checks']} check{'s' if d['checks'] > 1 else ''}" for d in data])
                ax.set_ylabel("CPU seconds per minute (log scale)")
                ax.set_title("CPU of the checks per host")
                ax.legend(loc="upper left", fontsize=8, ncols=2)
        info = results["machine"]
        fig.suptitle(f"failover.keepalived benchmarks, {info['date']}\n{info['cores']} x {info['cpu']}, "
                     f"{info['memory_gib']} GiB, {info['distribution']}, keepalived {info['keepalived']}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path
    except Exception as exc:  # pylint: disable=broad-except  # the table matters more than the chart
        log(f"no chart: {exc!r}")
        return None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="trials per failover figure (default 10)")
    parser.add_argument("--sizes", default="2,4,8,16", help="node counts for the converge time (default 2,4,8,16)")
    parser.add_argument("--only", action="append", metavar="PART",
                        help="converge, failover, cpu or planning; repeatable or a comma list (default: all)")
    parser.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    parser.add_argument("--cpu-seconds", type=float, default=10.0, help="measuring time per CPU cell (default 10)")
    parser.add_argument("--steady-seconds", type=float, default=600.0,
                        help="no-fault time per condition (saturated CPU, VRRP loss) for the false moves (default 600)")
    parser.add_argument("--out", default=str(TOP / "benchmarks" / "results"),
                        help="directory for latest.json, latest.md, latest.png (default benchmarks/results)")
    args = parser.parse_args(argv)
    args.only = [p.strip() for item in (args.only or [",".join(PARTS)]) for p in item.split(",") if p.strip()]
    unknown = sorted(set(args.only) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part {', '.join(unknown)} (choose from {', '.join(PARTS)})")
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes a comma list of node counts, e.g. 2,4,8")
    if not args.sizes or min(args.sizes) < 2 or sum(args.sizes) > 180:
        parser.error("--sizes: each at least 2 nodes, at most 180 in all")
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    args.command_line = " ".join(argv)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("benchmarks/lab.py runs containers with podman as root: sudo bash benchmarks/run.sh", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    lab = Lab(args.keep)
    results = {"options": {"trials": args.trials, "sizes": args.sizes, "only": args.only,
                           "cpu_seconds": args.cpu_seconds, "steady_seconds": args.steady_seconds,
                           "command_line": args.command_line},
               "machine": machine(lab)}
    failed = None
    try:
        env = ansible_env()
        if "converge" in args.only:
            results["converge"] = []
            bench_converge(lab, env, args.sizes, results["converge"])
        if "failover" in args.only:
            results["failover"] = {}
            bench_failover(lab, env, args.trials, args.steady_seconds, results["failover"])
        if "cpu" in args.only:
            results["cpu"] = []
            bench_cpu(args.cpu_seconds, results["cpu"])
        if "planning" in args.only:
            results["planning"] = []
            bench_planning(results["planning"])
    except BenchError as exc:
        failed = str(exc)
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        failed = "".join(traceback.format_exception(exc)).rstrip()
    except KeyboardInterrupt:
        failed = "interrupted"
    finally:
        lab.close()
    results["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    table = report(results)
    if failed:
        partial = WORK / "failed-run.json"
        partial.write_text(json.dumps(results, indent=2) + "\n")
        if table:
            print("\nFigures measured before the failure (not saved to the results):\n" + table)
        print(f"\nBENCHMARK FAILED: {failed}\n(partial figures in {partial})", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    chart = draw(out / "latest.png", results)
    if chart is None and (out / "latest.png").exists():
        (out / "latest.png").unlink()  # an old chart would not match these figures
    write_markdown(out / "latest.md", results, table, chart)
    print()
    print("\n".join(machine_lines(results["machine"])))
    print()
    print(table)
    print()
    print(f"written: {out / 'latest.json'}, {out / 'latest.md'}" + (f", {chart}" if chart else " (no chart)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
