"""Watch which lab containers hold a VIP, from the kernel's view inside each container.

    python3 lab/vip.py holders --vip 192.168.157.100 node1=fk-demo-node1 node2=fk-demo-node2
    python3 lab/vip.py wait --vip ... [--vip ...] --holder node2 [--timeout 30] [--since EPOCH] NAME=CONTAINER ...
    python3 lab/vip.py sample --vip ... --seconds 30 NAME=CONTAINER ...
    python3 lab/vip.py watch --vip ... [--vip ...] --seconds 120 [--until-back node1] [--ready-file F] NAME=CONTAINER ...

`wait` polls every 0.1 s until exactly HOLDER holds the VIP (HOLDER `none`: no
one) and prints the seconds since --since (default: its start). `sample`
records the holders every 0.1 s and prints one line of figures: time with no
holder, time with more than one, number of moves. `watch` gives the same
figures from the kernel's address events instead of polling (`ip monitor`
inside each container, timed on arrival), so they are exact to a few
milliseconds; a container that stops counts as holding nothing from that
moment. With --until-back NAME it ends once NAME, after having been anything
but the only holder, has held the VIP alone for --settle seconds. It also
reports the sequence of holder sets (`path`), when each node first took the
VIP (`first_held`, epoch seconds) and when NAME became the only holder again
(`back_at`). Given several VIPs (a sync group's), `watch` follows them all with one
monitor per container and also reports how long they were held apart (`apart_s`, and the
longest stretch, `apart_longest_s`: any time the VIPs did not all have the same holders), and
--until-back waits for NAME to hold every one of them. Only `podman exec` is used: nothing
is sent on any network.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import subprocess
import sys
import threading
import time


def holds(container, vip):
    """True when the container has VIP on one of its interfaces."""
    proc = subprocess.run(
        ["podman", "exec", container, "ip", "-o", "addr", "show", "to", vip],
        capture_output=True, text=True, timeout=10, check=False,
    )
    if proc.returncode != 0:
        return False  # a stopped container holds nothing
    return bool(proc.stdout.strip())


def holders(nodes, vip, pool):
    names = list(nodes)
    results = pool.map(lambda n: holds(nodes[n], vip), names)
    return sorted(n for n, held in zip(names, results) if held)


def parse_nodes(pairs):
    nodes = {}
    for pair in pairs:
        name, _sep, container = pair.partition("=")
        nodes[name] = container or name
    return nodes


# Run inside each container by `watch`: address events from the moment the
# monitor runs, then one SNAPSHOT line per VIP with the current state, then
# events until the controller closes stdin (or the time is up).
WATCH_SCRIPT = ("timeout %d ip -o monitor address & m=$!; sleep 0.2; "
                "for vip in %s; do echo SNAPSHOT $vip $(ip -o addr show to $vip | wc -l); done; "
                "timeout %d cat >/dev/null; kill $m 2>/dev/null; wait")


class Watch:
    """Who holds each VIP over time, from each container's address events."""

    def __init__(self, nodes, vips, seconds):
        self.nodes, self.vips = nodes, list(vips)
        self.deadline = time.time() + seconds
        self.events = {vip: re.compile(r"\binet6? %s/" % re.escape(vip)) for vip in self.vips}
        self.lock = threading.Lock()
        self.held = {vip: dict.fromkeys(nodes) for vip in self.vips}  # None until known
        self.changes = {vip: [] for vip in self.vips}  # (epoch, holders) each time a VIP's holders change
        self.first_held = {vip: {} for vip in self.vips}
        self.attached = {n: threading.Event() for n in nodes}
        self.stop = threading.Event()
        self.procs = {}

    def set(self, vip, node, held, when):
        with self.lock:
            if self.held[vip][node] == held:
                return
            self.held[vip][node] = held
            if held and self.changes[vip]:
                self.first_held[vip].setdefault(node, when)
            if None not in self.held[vip].values():
                now = sorted(n for n, h in self.held[vip].items() if h)
                if not self.changes[vip] or self.changes[vip][-1][1] != now:
                    self.changes[vip].append((when, now))

    def follow(self, node):
        while not self.stop.is_set() and time.time() < self.deadline:
            left = int(self.deadline - time.time()) + 2
            proc = subprocess.Popen(
                ["podman", "exec", "-i", self.nodes[node], "sh", "-c",
                 WATCH_SCRIPT % (left, " ".join(self.vips), left)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
            self.procs[node] = proc
            for line in proc.stdout:
                when = time.time()
                if line.startswith("SNAPSHOT"):
                    _word, vip, count = line.split()
                    self.set(vip, node, count != "0", when)
                    if vip == self.vips[-1]:
                        self.attached[node].set()
                    continue
                for vip, event in self.events.items():
                    if event.search(line):
                        self.set(vip, node, not line.startswith("Deleted"), when)
            proc.wait()
            if self.stop.is_set():
                break
            # The container stopped (or cannot be entered): it holds nothing.
            for vip in self.vips:
                self.set(vip, node, False, time.time())
            self.attached[node].set()
            self.stop.wait(0.2)

    def close(self):
        self.stop.set()
        for proc in self.procs.values():
            try:
                proc.stdin.close()
            except OSError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def last(self, vip):
        with self.lock:
            return self.changes[vip][-1] if self.changes[vip] else (None, None)

    def figures(self, vip, end, back_at):
        unheld = multi = 0.0
        moves, last_single = 0, None
        with self.lock:
            changes = [change for change in self.changes[vip] if change[0] <= end]
        for idx, (when, now) in enumerate(changes):
            until = changes[idx + 1][0] if idx + 1 < len(changes) else end
            if not now:
                unheld += until - when
            elif len(now) > 1:
                multi += until - when
            else:
                if last_single is not None and now != last_single:
                    moves += 1
                last_single = now
        return {
            "seconds": round(end - changes[0][0], 2) if changes else 0.0,
            "unheld_s": round(unheld, 3), "multiple_holders_s": round(multi, 3), "moves": moves,
            "holder_at_end": changes[-1][1] if changes else None,
            "path": ["+".join(now) or "none" for _when, now in changes],
            "changes": [[round(when, 3), now] for when, now in changes],
            "first_held": {n: round(t, 3) for n, t in self.first_held[vip].items()},
            "back_at": round(back_at, 3) if back_at else None,
        }

    def apart(self, end):
        """(total, longest) seconds during which the VIPs did not all have the same holders."""
        with self.lock:
            timeline = sorted((when, vip, now) for vip in self.vips for when, now in self.changes[vip] if when <= end)
        current, total, longest, since = {}, 0.0, 0.0, None
        for when, vip, now in timeline + [(end, None, None)]:
            if since is not None:
                total += when - since
                longest = max(longest, when - since)
            if vip is None:
                break
            current[vip] = now
            split = len(current) == len(self.vips) and len({tuple(v) for v in current.values()}) > 1
            since = (since if since is not None else when) if split else None
        return round(total, 3), round(longest, 3)


def watch(args, nodes):
    """The `watch` action; returns the figures dict (one VIP), or each VIP's and how long they were apart."""
    watcher = Watch(nodes, args.vip, args.seconds)
    threads = [threading.Thread(target=watcher.follow, args=(n,), daemon=True) for n in nodes]
    for thread in threads:
        thread.start()
    for node in nodes:
        watcher.attached[node].wait(max(0.0, watcher.deadline - time.time()))
    if args.ready_file:
        with open(args.ready_file, "w", encoding="ascii") as ready:
            ready.write("%.3f\n" % time.time())
    back_at, departed = None, False
    while time.time() < watcher.deadline:
        time.sleep(0.05)
        if not args.until_back:
            continue
        lasts = [watcher.last(vip) for vip in watcher.vips]
        if any(now != [args.until_back] for _when, now in lasts):
            departed = departed or any(now is not None for _when, now in lasts)
            continue
        if departed:
            back_at = max(when for when, _now in lasts)
            if time.time() - back_at >= args.settle:
                break
    end = time.time()
    watcher.close()
    back_at = back_at if departed else None
    if len(watcher.vips) == 1:
        return watcher.figures(watcher.vips[0], end, back_at)
    total, longest = watcher.apart(end)
    return {"vips": {vip: watcher.figures(vip, end, back_at) for vip in watcher.vips},
            "apart_s": total, "apart_longest_s": longest, "back_at": round(back_at, 3) if back_at else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["holders", "wait", "sample", "watch"])
    parser.add_argument("--vip", required=True, action="append",
                        help="the VIP; wait and watch take it more than once (wait: HOLDER holds them all; "
                             "watch: each VIP's figures, and how long the VIPs were held apart)")
    parser.add_argument("--holder", help="for wait: the node expected to hold the VIP alone, or none")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--since", type=float, help="epoch seconds to measure from (default: now)")
    parser.add_argument("--seconds", type=float, default=30.0, help="for sample: how long")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--until-back", metavar="NAME",
                        help="for watch: stop once NAME holds the VIP alone again (after anything else)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="for watch --until-back: seconds NAME must hold it alone before the end")
    parser.add_argument("--ready-file", metavar="PATH",
                        help="for watch: write this file once every container is watched")
    parser.add_argument("nodes", nargs="+", metavar="NAME=CONTAINER")
    args = parser.parse_args(argv)
    nodes = parse_nodes(args.nodes)
    if len(args.vip) > 1 and args.action in ("holders", "sample"):
        parser.error("%s takes one --vip" % args.action)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        if args.action == "holders":
            now = holders(nodes, args.vip[0], pool)
            print(json.dumps(now) if args.json else (" ".join(now) or "none"))
            return 0
        start = args.since if args.since is not None else time.time()
        if args.action == "watch":
            figures = watch(args, nodes)
            if args.json:
                print(json.dumps(figures))
                return 0
            for vip, one in (figures["vips"] if "vips" in figures else {args.vip[0]: figures}).items():
                print("%s watched %.0f s: no holder %.3f s, several holders %.3f s, %d moves, path %s"
                      % (vip, one["seconds"], one["unheld_s"], one["multiple_holders_s"], one["moves"],
                         " > ".join(one["path"])))
            if "vips" in figures:
                print("held apart %.3f s (longest %.3f s)" % (figures["apart_s"], figures["apart_longest_s"]))
            return 0
        if args.action == "wait":
            want = [] if args.holder == "none" else [args.holder]
            deadline = time.time() + args.timeout
            now = []
            while time.time() < deadline:
                everyone = {vip: holders(nodes, vip, pool) for vip in args.vip}
                if all(now == want for now in everyone.values()):
                    print("%.2f" % (time.time() - start))
                    return 0
                time.sleep(0.1)
            print("timeout: after %.0f s %s, expected %s" % (args.timeout, "; ".join(
                "%s is held by %s" % (vip, " and ".join(now) or "no node") for vip, now in everyone.items()),
                args.holder), file=sys.stderr)
            return 1
        # sample
        end = time.time() + args.seconds
        last, moves, unheld, multi = None, 0, 0.0, 0.0
        prev_t = time.time()
        while time.time() < end:
            now = holders(nodes, args.vip[0], pool)
            t = time.time()
            if last is not None:
                if not last:
                    unheld += t - prev_t
                elif len(last) > 1:
                    multi += t - prev_t
                if now != last and len(now) == 1:
                    moves += 1
            last, prev_t = now, t
            time.sleep(0.1)
        figures = {"seconds": round(args.seconds, 1), "unheld_s": round(unheld, 2),
                   "multiple_holders_s": round(multi, 2), "moves": moves, "holder_at_end": last}
        print(json.dumps(figures) if args.json else
              "sampled %.0f s: no holder %.2f s, several holders %.2f s, %d moves, holder at end %s"
              % (args.seconds, unheld, multi, moves, " ".join(last or []) or "none"))
        return 0


if __name__ == "__main__":
    sys.exit(main())
