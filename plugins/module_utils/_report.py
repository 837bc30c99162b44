# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group-wide views over keepalived_status results: the status table, VIP ownership, drain decisions.

Pure functions only. ``results`` maps inventory host name -> the dict the
keepalived_status module returned for that host (``running``, ``instances``...).
"""

from __future__ import annotations

HEALTHY_STATES = ("MASTER", "BACKUP")


def _instances(result):
    if not isinstance(result, dict) or not result.get("running"):
        return {}
    return result.get("instances") or {}


def status_rows(results):
    """One row per host and instance: host, instance, state, effective priority, VIPs held."""
    rows = []
    for host in sorted(results):
        result = results[host] or {}
        instances = _instances(result)
        if not instances:
            reason = "keepalived not running" if not result.get("running") else "no instance"
            rows.append([host, "-", reason, "-", "-"])
            continue
        for name in sorted(instances):
            inst = instances[name]
            held = inst.get("vips_present") or []
            prio = inst.get("effective_priority")
            base = inst.get("base_priority")
            shown = "-" if prio is None else ("%s" % prio if prio == base else "%s (base %s)" % (prio, base))
            rows.append([host, name, str(inst.get("state", "UNKNOWN")), shown, ", ".join(held) or "-"])
    return rows


def render_table(rows, headers=("host", "instance", "state", "priority", "VIPs held")):
    """Plain-text table with aligned columns."""
    table = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for idx, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if idx == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def vip_holders(results):
    """VIP -> sorted list of hosts holding it now, for every VIP any instance is configured with."""
    holders = {}
    for host in sorted(results):
        for inst in _instances(results[host]).values():
            for vip in inst.get("vips") or []:
                holders.setdefault(vip, [])
            for vip in inst.get("vips_present") or []:
                holders.setdefault(vip, [])
                if host not in holders[vip]:
                    holders[vip].append(host)
    return {vip: sorted(hosts) for vip, hosts in sorted(holders.items())}


def vip_problems(results):
    """Messages for every VIP held by no host or by more than one."""
    problems = []
    for host in sorted(results):
        if not (results[host] or {}).get("running"):
            problems.append("%s: keepalived is not running" % host)
    for vip, hosts in vip_holders(results).items():
        if not hosts:
            problems.append("VIP %s is held by no host" % vip)
        elif len(hosts) > 1:
            problems.append("VIP %s is held by %d hosts at once: %s" % (vip, len(hosts), ", ".join(hosts)))
    return problems


def _healthy(inst):
    if inst.get("state") not in HEALTHY_STATES:
        return False
    return all(s.get("status") != "BAD" for s in inst.get("track_scripts") or [])


def drain_plan(results, host):
    """What draining ``host`` means, from a status reading of the group taken before the drain.

    Returns a dict: ``vips`` (held by ``host`` now), ``owners`` (VIP -> the peer expected to take it:
    the healthy peer of that instance with the highest effective priority), ``blockers`` (messages
    for instances whose VIPs no healthy peer could take).
    """
    plan = {"vips": [], "owners": {}, "blockers": []}
    for name, inst in sorted(_instances(results.get(host)).items()):
        held = inst.get("vips_present") or []
        plan["vips"].extend(v for v in held if v not in plan["vips"])
        candidates = []
        for peer in sorted(results):
            if peer == host:
                continue
            other = _instances(results[peer]).get(name)
            if other and _healthy(other):
                candidates.append((other.get("effective_priority") or 0, peer))
        if not candidates:
            if held or inst.get("state") == "MASTER":
                plan["blockers"].append(
                    "%s is the last healthy node of instance %s (no peer is running it in MASTER or BACKUP state "
                    "with all its checks passing); draining it would leave %s with no holder"
                    % (host, name, ", ".join(held or inst.get("vips") or [])))
            continue
        owner = sorted(candidates, key=lambda c: (-c[0], c[1]))[0][1]
        for vip in held:
            plan["owners"][vip] = owner
    return plan


def undrain_instances(results, host):
    """Instances ``host`` should be MASTER of again once its down file is gone.

    Those where its base priority is above every peer's effective priority. The live
    state does not say whether an instance has nopreempt (the node would then not take
    it back); the drill and the upgrade take that from the failover plan instead.
    """
    names = []
    for name, inst in sorted(_instances(results.get(host)).items()):
        base = inst.get("base_priority") or 0
        peers = [
            _instances(results[peer]).get(name) for peer in results if peer != host
        ]
        peer_prios = [p.get("effective_priority") or 0 for p in peers if p]
        if all(base > prio for prio in peer_prios):
            names.append(name)
    return names
