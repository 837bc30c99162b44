# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failover timings of running lab pairs, and the CPU cost of the checks. A script, not a test.

    python3 benchmarks/failover.py timing --pair fast=fkm-fast-bookworm-node1,fkm-fast-bookworm-node2,192.168.163.100 \\
        --pair classic=fk-demo-node1,fk-demo-node2,192.168.157.100 [--trials 10]
    python3 benchmarks/failover.py cpu [--seconds 10]

`timing` builds nothing: it uses containers that a Molecule scenario (`molecule converge -s fast`) or
lab/demo.sh left running, node1 being the preferred master. Per trial it creates the down file on node1
and measures until node2 holds the VIP (failover), then removes it and measures until node1 holds it
again (failback). The moments come from `ip -o monitor address` inside each container, stamped there
with the shared wall clock, so podman's own latency does not count.

`cpu` runs on this machine, with loopback only: N file checks (N = 1, 5, 20) as the resident runner
(its start-up left out), as keepalived would fork keepalived-check (the installed byte-compiled layout), and as shell
one-liners, and reports CPU seconds per minute.

benchmarks/lab.py (run by benchmarks/run.sh) builds its own pairs and uses `moves` and `cpu_table` from here.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
PACKAGE = TOP / "roles" / "healthcheck" / "files" / "keepalived_check"
DOWN = "/etc/keepalived/down"
# The podman command line; benchmarks/lab.py sets the lab's global options (lab/common.sh).
PODMAN = ["podman"]

# Faults for `moves`: Python run inside node1 right after the moment it is stamped at.
DOWN_FILE = (f"open({DOWN!r}, 'w').write('benchmark')", f"os.unlink({DOWN!r})")


# keepalived frozen on node1 (SIGSTOP to its VRRP process and its parent), as a paused container or a hung
# host freezes it: no priority-0 advert, the kernel keeps the VIP, node2 takes over when its master down
# interval runs out. Thawed (SIGCONT), node1 advertises its higher priority again and node2 lets go.
FREEZE = tuple("[os.kill(int(open(p).read()), %d) for p in ('/run/vrrp.pid', '/run/keepalived.pid')]" % number
               for number in (signal.SIGSTOP, signal.SIGCONT))


def unit_fault(unit):
    """Stop UNIT (the fault) and start it again (the heal), with systemctl inside node1."""
    return (f"subprocess.run(['systemctl', 'stop', {unit!r}], check=True)",
            f"subprocess.run(['systemctl', 'start', {unit!r}], check=True)")


# Runs inside a container: prints "ready", then "<time> add|del" for each change of the address;
# ends (with its `ip monitor`) when its stdin is closed.
WATCHER = r"""
import os, subprocess, sys, threading, time
vip = sys.argv[1]
proc = subprocess.Popen(["ip", "-o", "monitor", "address"], stdout=subprocess.PIPE, text=True, bufsize=1)
def end():
    sys.stdin.read()
    proc.kill()
    os._exit(0)
threading.Thread(target=end, daemon=True).start()
print("ready", flush=True)
for line in proc.stdout:
    now = time.time()
    if (" " + vip + "/") in line:
        print(repr(now), "del" if line.startswith("Deleted") else "add", flush=True)
"""


class Follower:
    """A script run with `podman exec -i` inside a container: it prints "ready", then "<time> <value>"
    lines, and ends when its stdin is closed. `wait` finds the first value seen at or after a moment."""

    what = "events"

    def __init__(self, container, script, *args):
        self.proc = subprocess.Popen(PODMAN + ["exec", "-i", container, "python3", "-u", "-c", script, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline().strip()
        if first != "ready":
            self.proc.kill()
            raise RuntimeError(f"cannot follow the {self.what} of {container}: {first!r}")
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                stamp, value = line.split()
                self.events.put((float(stamp), value))
            except ValueError:
                continue  # not an event (a line cut short when the script ends)

    def wait(self, value, after, timeout=30):
        """The time VALUE was first seen at or after AFTER (epoch seconds)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                stamp, seen = self.events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if seen == value and stamp >= after:
                return stamp
        raise TimeoutError(f"{self.what}: no {value} within {timeout}s")

    def drain(self, start, end):
        """Every (time, value) seen from START to END (epoch seconds) that no wait took yet, in order."""
        found = []
        while True:
            try:
                stamp, seen = self.events.get_nowait()
            except queue.Empty:
                return found
            if start <= stamp <= end:
                found.append((stamp, seen))

    def close(self):
        try:
            self.proc.stdin.close()  # the script inside ends
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# Runs inside a third container: asks URL every 10 ms (a new connection each time, so the client's
# neighbour entry for the VIP decides where it goes) and prints "ready", then "<time> <answer>" each time
# the answer changes: the answering server's host name, or "-" for no answer within 0.2 s. The time is
# taken when the answer (or the failure) arrives. Ends when its stdin is closed.
CLIENT = r"""
import os, sys, threading, time, urllib.request
url = sys.argv[1]
def end():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=end, daemon=True).start()
print("ready", flush=True)
last = None
while True:
    try:
        with urllib.request.urlopen(url, timeout=0.2) as answer:
            who = answer.read().decode("utf-8", "replace").strip() or "?"
    except Exception:  # refused, reset, timed out, cut short (IncompleteRead): no answer
        who = "-"
    now = time.time()
    if who != last:
        print(repr(now), who, flush=True)
        last = who
    time.sleep(0.01)
"""


class Client(Follower):
    """A client in a third container that keeps asking the VIP; its values are the answering host names."""

    what = "answers"

    def __init__(self, container, url):
        super().__init__(container, CLIENT, url)


class Watcher(Follower):
    """The VIP's address events inside one container: values "add" and "del"."""

    what = "VIP address events"

    def __init__(self, container, vip):
        super().__init__(container, WATCHER, vip)


def stamp_in(container, code):
    """Run Python `code` inside the container; returns the wall-clock time taken there just before it."""
    out = subprocess.run(PODMAN + ["exec", container, "python3", "-c",
                                   f"import os, subprocess, time; t = time.time(); {code}; print(repr(t))"],
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def has_vip(container, vip):
    out = subprocess.run(PODMAN + ["exec", container, "ip", "-o", "addr", "show"], capture_output=True, text=True,
                         check=True).stdout
    return f" {vip}/" in out


def wait_holder(node1, node2, vip, timeout=60):
    """Wait until node1 alone holds the VIP; False when it does not within `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if has_vip(node1, vip) and not has_vip(node2, vip):
            return True
        time.sleep(0.5)
    return False


def moves(label, node1, node2, vip, trials, fault, heal, settle=1.5, timeout=30, client=None, frozen=False):
    """Per trial: `fault` on node1 until node2 adds the VIP (over), then `heal` until node1 adds it (back).

    fault and heal are Python run inside node1 (see DOWN_FILE, unit_fault, FREEZE); both times are measured
    from the moment stamped there just before the code runs, to the address event stamped inside the other
    node. Each move's gap is the new holder's add less the old holder's removal, from the same events:
    above 0 the VIP had no holder that long, below 0 two holders (gap_over, gap_back). With `frozen` (the
    fault freezes node1's keepalived, so its kernel keeps the VIP) back is until node2 removes the VIP, and
    there are no gaps. With `client` (a Client asking the VIP, and the host names of node1 and node2 as the
    answers to expect: (Client, name1, name2)), also until the client's first answer from node2
    (served_over) and from node1 again (served_back).
    Returns {"over": [...], "back": [...], "gap_over": [...], "gap_back": [...], "served_over": [...],
    "served_back": [...]}.
    """
    if not wait_holder(node1, node2, vip):
        raise RuntimeError(f"{label}: {node1} does not hold {vip} alone")
    watch1, watch2 = Watcher(node1, vip), Watcher(node2, vip)
    times = {"over": [], "back": [], "gap_over": [], "gap_back": [], "served_over": [], "served_back": []}
    try:
        for trial in range(trials):
            time.sleep(settle)  # let the pair settle
            start = stamp_in(node1, fault)
            added = watch2.wait("add", start, timeout)
            times["over"].append(added - start)
            if not frozen:
                times["gap_over"].append(added - watch1.wait("del", start, timeout))
            if client:
                times["served_over"].append(client[0].wait(client[2], start, timeout) - start)
            time.sleep(1.0)
            start = stamp_in(node1, heal)
            if frozen:
                times["back"].append(watch2.wait("del", start, timeout) - start)
            else:
                added = watch1.wait("add", start, timeout)
                times["back"].append(added - start)
                times["gap_back"].append(added - watch2.wait("del", start, timeout))
            if client:
                times["served_back"].append(client[0].wait(client[1], start, timeout) - start)
            served = (f"; answered by node2 after {times['served_over'][-1]:.3f} s, by node1 again after "
                      f"{times['served_back'][-1]:.3f} s" if client else "")
            gaps = (f"; gaps {times['gap_over'][-1] * 1000:+.1f} ms, {times['gap_back'][-1] * 1000:+.1f} ms"
                    if not frozen else "")
            print(f"  {label} trial {trial + 1}: over {times['over'][-1]:.3f} s, back {times['back'][-1]:.3f} s"
                  f"{gaps}{served}", flush=True)
    finally:
        watch1.close()
        watch2.close()
    return times


def cpu_busy():
    """(busy, total) jiffies of all CPUs from /proc/stat; idle and iowait are not busy."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def netns_iptables(container, *args):
    """iptables of this machine run in the container's network namespace (the lab image has none)."""
    pid = subprocess.run(PODMAN + ["inspect", "--format", "{{.State.Pid}}", container], capture_output=True,
                         text=True, check=True).stdout.strip()
    return subprocess.run(["nsenter", "-t", pid, "-n", "iptables", "-w", *args], capture_output=True, text=True,
                          check=True).stdout


# The two rules of the loss condition, first in INPUT: one that counts every VRRP packet (no target), then
# one that drops each with the given probability.
def loss_rules(probability):
    return (["-p", "112"], ["-p", "112", "-m", "statistic", "--mode", "random", "--probability", str(probability),
                            "-j", "DROP"])


def vrrp_counts(container):
    """(VRRP packets received, dropped) by the loss rules in the container's INPUT chain."""
    lines = netns_iptables(container, "-L", "INPUT", "-n", "-v", "-x", "--line-numbers").splitlines()
    counts = {int(line.split()[0]): int(line.split()[1]) for line in lines if line[:1].isdigit()}
    return counts.get(1, 0), counts.get(2, 0)


def steady(pairs, seconds, condition, loss=0.05):
    """False moves of running pairs over `seconds` with no fault, under a condition; node1 is the holder.

    pairs: [(label, node1, node2, vip)]. condition "cpu": one busy loop per core on this machine for the
    whole time (the containers share its cores); "loss": in each node's network namespace, `loss` of the
    VRRP packets it receives dropped at random (iptables statistic). Every VIP event in the window is
    counted: node2 taking the VIP is a false move, node1 losing it too. Returns {label: {"false_moves",
    "node1_lost", "seconds", and per condition "cpu_busy" or "vrrp_received"/"vrrp_dropped"}}.
    """
    for label, node1, node2, vip in pairs:
        if not wait_holder(node1, node2, vip):
            raise RuntimeError(f"steady {label}: {node1} does not hold {vip} alone")
    watches = {label: (Watcher(node1, vip), Watcher(node2, vip)) for label, node1, node2, vip in pairs}
    burners, ruled, facts = [], [], {}
    try:
        if condition == "cpu":
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _core in range(os.cpu_count())]
            before = cpu_busy()
        else:
            for _label, node1, node2, _vip in pairs:
                for container in (node1, node2):
                    for rule in reversed(loss_rules(loss)):
                        netns_iptables(container, "-I", "INPUT", "1", *rule)
                    ruled.append(container)
        start = time.time()
        time.sleep(seconds)
        end = time.time()
        if condition == "cpu":
            after = cpu_busy()
            busy = round((after[0] - before[0]) / max(1, after[1] - before[1]), 3)
        else:
            counts = {container: vrrp_counts(container) for container in ruled}
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
        for container in ruled:
            for rule in loss_rules(loss):
                netns_iptables(container, "-D", "INPUT", *rule)
        for watch1, watch2 in watches.values():
            watch1.close()
            watch2.close()
    for label, node1, node2, _vip in pairs:
        watch1, watch2 = watches[label]
        facts[label] = {"seconds": round(end - start, 1),
                        "false_moves": sum(1 for _t, seen in watch2.drain(start, end) if seen == "add"),
                        "node1_lost": sum(1 for _t, seen in watch1.drain(start, end) if seen == "del")}
        if condition == "cpu":
            facts[label]["cpu_busy"] = busy
        else:
            facts[label].update(vrrp_received=counts[node1][0] + counts[node2][0],
                                vrrp_dropped=counts[node1][1] + counts[node2][1], loss=loss)
        print(f"  steady {label}, {condition}: {facts[label]}", flush=True)
    return facts


def timing(label, node1, node2, vip, trials):
    """Down-file failover and failback of a running pair (node1 the preferred master)."""
    stamp_in(node1, f"os.path.exists({DOWN!r}) and os.unlink({DOWN!r})")
    times = moves(label, node1, node2, vip, trials, *DOWN_FILE)
    return times["over"], times["back"]


def process_cpu(pid):
    """CPU seconds of a running process.

    The sum of its threads' on-CPU time from /proc/PID/task/*/schedstat (nanoseconds), because
    /proc/PID/stat counts in clock ticks (10 ms), too coarse for a runner that uses a few ticks a
    minute. The runner's threads live as long as it does, so no thread's time goes missing. Falls
    back to user+system from /proc/PID/stat where schedstat is not available.
    """
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as handle:
                total += int(handle.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(start_fn, seconds):
    """CPU seconds (user+system) per minute used by what start_fn starts, measured over `seconds`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = start_fn(seconds)
    if measured is not None:
        return measured
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used * 60 / seconds


def cpu_table(seconds, counts=(1, 5, 20), show=True):
    """Measure and (with show) print the CPU table; returns its rows:
    (checks, runner 1 s, runner 0.05 s, forked keepalived-check 1 s, shell one-liner 1 s, the interpreter
    alone 1 s), CPU seconds per minute. The interpreter alone is what the launcher starts (`python3 -I -S`)
    running nothing: the floor under any check written in Python that keepalived forks."""
    work = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    lib = work / "lib"
    lib.mkdir()
    shutil.copytree(PACKAGE, lib / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(lib)], check=True)
    launcher = [sys.executable, "-I", "-S", "-c", "import sys; sys.argv[0] = 'keepalived-check'; "
                f"sys.path.insert(0, {str(lib)!r}); from keepalived_check.cli import main; sys.exit(main())"]
    down = work / "down"

    def runner(count, interval):
        config = work / f"runner-{count}-{interval}.json"
        config.write_text(json.dumps({"track_dir": str(work / "track"), "checks": [
            {"name": f"c{index}", "argv": ["file", "--path", str(down)], "interval": interval, "timeout": 0.5}
            for index in range(count)]}))

        def run(secs):
            """CPU per minute of the running runner, its start-up (once per boot) left out."""
            proc = subprocess.Popen(launcher + ["runner", "--config", str(config)], stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            before = process_cpu(proc.pid)
            time.sleep(secs)
            used = process_cpu(proc.pid) - before
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            return used * 60 / secs
        return run

    def forked(count, argv):
        def run(secs):
            end = time.monotonic() + secs
            tick = time.monotonic()
            while tick < end:  # what keepalived does: every interval, one process per script
                procs = [subprocess.Popen(argv) for _index in range(count)]
                for proc in procs:
                    proc.wait()
                tick += 1.0
                time.sleep(max(0.0, tick - time.monotonic()))
        return run

    rows = []
    for count in counts:
        rows.append((count,
                     cpu_of(runner(count, 1.0), seconds),
                     cpu_of(runner(count, 0.05), seconds),
                     cpu_of(forked(count, launcher + ["file", "--path", str(down)]), seconds),
                     cpu_of(forked(count, ["sh", "-c", f"[ ! -e {down} ]"]), seconds),
                     cpu_of(forked(count, [sys.executable, "-I", "-S", "-c", "pass"]), seconds)))
        print(f"  measured {count} check(s)", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if show:
        print("\nCPU seconds per minute (user+system), file checks:")
        print("| checks | runner, 1 s interval | runner, 0.05 s interval | forked keepalived-check, 1 s | shell one-liner, 1 s "
              "| python3 -I -S alone, 1 s |")
        print("|---:|---:|---:|---:|---:|---:|")
        for count, run1, run005, fork1, shell1, python1 in rows:
            print(f"| {count} | {run1:.3f} | {run005:.3f} | {fork1:.3f} | {shell1:.3f} | {python1:.3f} |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("timing", help="down-file failover and failback of running pairs")
    p.add_argument("--pair", action="append", required=True, metavar="LABEL=NODE1,NODE2,VIP")
    p.add_argument("--trials", type=int, default=10)
    p = sub.add_parser("cpu", help="CPU per minute of 1, 5 and 20 checks")
    p.add_argument("--seconds", type=float, default=10.0, help="measuring time per cell (default 10)")
    args = parser.parse_args(argv)
    if args.what == "cpu":
        cpu_table(args.seconds)
        return 0
    results = []
    for pair in args.pair:
        label, rest = pair.split("=", 1)
        node1, node2, vip = rest.split(",")
        results.append((label,) + timing(label, node1, node2, vip, args.trials))
    print("\n| profile | trials | failover median | failover worst | failback median | failback worst |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, over, back in results:
        print(f"| {label} | {len(over)} | {statistics.median(over):.3f} s | {max(over):.3f} s | "
              f"{statistics.median(back):.3f} s | {max(back):.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
