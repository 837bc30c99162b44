"""Watch which lab containers hold a VIP, from the kernel's view inside each container.

    python3 lab/vip.py holders --vip 192.168.157.100 node1=fk-demo-node1 node2=fk-demo-node2
    python3 lab/vip.py wait --vip ... --holder node2 [--timeout 30] [--since EPOCH] NAME=CONTAINER ...
    python3 lab/vip.py sample --vip ... --seconds 30 [--expect node1] NAME=CONTAINER ...

`wait` polls every 0.1 s until exactly HOLDER holds the VIP (HOLDER `none`: no
one) and prints the seconds since --since (default: its start). `sample`
records the holders every 0.1 s and prints one line of figures: time with no
holder, time with more than one, number of moves. Only `podman exec` is used:
nothing is sent on any network.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["holders", "wait", "sample"])
    parser.add_argument("--vip", required=True)
    parser.add_argument("--holder", help="for wait: the node expected to hold the VIP alone, or none")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--since", type=float, help="epoch seconds to measure from (default: now)")
    parser.add_argument("--seconds", type=float, default=30.0, help="for sample: how long")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("nodes", nargs="+", metavar="NAME=CONTAINER")
    args = parser.parse_args(argv)
    nodes = parse_nodes(args.nodes)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        if args.action == "holders":
            now = holders(nodes, args.vip, pool)
            print(json.dumps(now) if args.json else (" ".join(now) or "none"))
            return 0
        start = args.since if args.since is not None else time.time()
        if args.action == "wait":
            want = [] if args.holder == "none" else [args.holder]
            deadline = time.time() + args.timeout
            now = []
            while time.time() < deadline:
                now = holders(nodes, args.vip, pool)
                if now == want:
                    print("%.2f" % (time.time() - start))
                    return 0
                time.sleep(0.1)
            print("timeout: after %.0f s the VIP is held by %s, expected %s"
                  % (args.timeout, " and ".join(now) or "no node", args.holder), file=sys.stderr)
            return 1
        # sample
        end = time.time() + args.seconds
        last, moves, unheld, multi = None, 0, 0.0, 0.0
        prev_t = time.time()
        while time.time() < end:
            now = holders(nodes, args.vip, pool)
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
