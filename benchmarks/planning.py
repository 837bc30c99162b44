# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller time of the inventory model: the preflight and every host's plan, for N hosts in pairs.

    python3 benchmarks/planning.py [--sizes 1000,2000,5000]

The model is what the keepalived role's preflight builds once per play (the
keepalived_model filter); this times that pure Python on the controller, before
any templating, for inventories of 2-node instances (one VIP, a down-file check,
unicast peers from the hosts' addresses). Linear growth means the seconds per
1,000 hosts stay about the same from the smallest size to the largest.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]


def _import_model(root):
    """The collection's model from this checkout (through ROOT/ansible_collections/failover/keepalived)."""
    link = Path(root) / "ansible_collections" / "failover" / "keepalived"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or link.resolve() != TOP:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(TOP)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from ansible_collections.failover.keepalived.plugins.module_utils import _model  # pylint: disable=import-outside-toplevel
    return _model


def views_in_pairs(count):
    """``count`` host views (as the role's preflight describes each host), one instance per pair of hosts."""
    views = {}
    script = {"name": "check_down", "check": "file", "args": {"path": "/etc/keepalived/down"},
              "interval": 1, "weight": -30, "fall": 2, "rise": 2}
    for pair in range(count // 2):
        net = "10.%d.%d" % (pair // 250, pair % 250)
        first, second = "lb%05d-a" % pair, "lb%05d-b" % pair
        instance = {"name": "VIP%05d" % pair, "interface": "eth0", "virtual_router_id": pair % 255 + 1,
                    "auth_pass": "secret", "priorities": {first: 100, second: 80},
                    "virtual_ipaddresses": [net + ".100/24"], "track_scripts": ["check_down"]}
        for host, octet in ((first, 11), (second, 12)):
            views[host] = {"router_id": host, "instances": [copy.deepcopy(instance)], "scripts": [dict(script)],
                           "script_user": "keepalived_script", "check_command": "/usr/local/bin/keepalived-check",
                           "state_dir": "/run/keepalived-check", "track_dir": "/run/keepalived-check/track",
                           "addresses": {"lo": ["127.0.0.1"], "eth0": ["%s.%d" % (net, octet)]}}
    return views


def measure(sizes, root):
    """[{hosts, seconds, per_1000_s}]: CPU seconds of one model build for each size."""
    model = _import_model(root)
    results = []
    for size in sizes:
        views = views_in_pairs(size)
        started = time.process_time()
        built = model.build(views)
        seconds = time.process_time() - started
        if built["errors"] or len(built["plans"]) != size:
            raise RuntimeError("the generated inventory of %d hosts was refused: %s" % (size, built["errors"][:3]))
        results.append({"hosts": size, "seconds": round(seconds, 3), "per_1000_s": round(seconds * 1000 / size, 3)})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000,5000", help="host counts (default 1000,2000,5000)")
    parser.add_argument("--root", default=str(TOP / ".lab" / "bench" / "collections"),
                        help="where the collection link is made (default .lab/bench/collections)")
    args = parser.parse_args(argv)
    for row in measure([int(s) for s in args.sizes.split(",")], args.root):
        print("%6d hosts  %7.3f s  %.3f s per 1,000 hosts" % (row["hosts"], row["seconds"], row["per_1000_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
