# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover drill's report: what the hosts' own address events measured, against the plan.

Pure functions. A drill run drains one node with its down file and undrains it again while every
member watches the VIPs (``_vip_watch``); ``report`` lines the watches up into who held each VIP
when, measures the move and the failback, the time with no holder and with two, and holds each
figure to the failover plan's prediction (``_failover_plan``) for that node's drain.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from ansible_collections.failover.keepalived.plugins.module_utils import _report
from ansible_collections.failover.keepalived.plugins.module_utils._vip_watch import address_of


def drain_entry(inst, node):
    """The plan's entry for draining ``node`` of instance ``inst`` (by its down file), or None."""
    return next((f for f in inst["failures"] if f.get("drained") == node), None)


def _shown(priority):
    """An effective priority as keepalived shows it: within 1..254 (None, FAULT, as it is)."""
    return None if priority is None else min(max(priority, 1), 254)


def drain_effects(plan, node, down_file=None):
    """What the down file does to ``node``'s effective priorities, from the failover plan of the inventory.

    ``down_file``: the file to create; by default the one ``node``'s checks watch (refused when there
    are several, or none). Returns ``down_file``, ``drained`` (instance -> the node's effective
    priority once keepalived counts the check failed, None for FAULT), ``healthy`` (the same once it
    counts it passing again; only the instances the file moves), ``nopreempt`` (the node's instances
    with nopreempt, where an undrain never makes it master again) and ``problems`` (a drain or undrain
    that could not be waited for: nothing would tell when keepalived has acted on it).
    """
    members = [i for i in plan["instances"] if node in (i.get("priorities") or {})]
    files = sorted({f["down_file"] for i in members for f in i["failures"] if f.get("drained") == node})
    problems = []
    if not members:
        problems.append("%s is in no VRRP instance of the inventory" % node)
    elif not files:
        problems.append("no check of %s watches a down file (a check: file script), so nothing drains it: add one "
                        "to its keepalived_checks" % node)
    elif down_file in (None, "") and len(files) > 1:
        problems.append("the checks of %s watch several down files (%s): say which with -e down_file=PATH"
                        % (node, ", ".join(files)))
    elif down_file not in (None, "") and down_file not in files:
        problems.append("no check of %s watches %s (its checks watch %s): drop -e down_file, or name one of those"
                        % (node, down_file, ", ".join(files)))
    if down_file in (None, "") and len(files) == 1:
        down_file = files[0]
    drained, healthy = {}, {}
    for inst in members:
        entry = next((f for f in inst["failures"] if f.get("drained") == node and f["down_file"] == down_file), None)
        if entry is not None:
            drained[inst["name"]] = _shown(entry["priorities"][node])
            healthy[inst["name"]] = _shown(inst["priorities"][node])
    nopreempt = sorted(inst["name"] for inst in members if node in (inst.get("nopreempt") or []))
    return {"down_file": down_file, "drained": drained, "healthy": healthy, "nopreempt": nopreempt,
            "problems": problems}


def steps(results, plan, instance=None):
    """Which nodes a drill (or an upgrade) drains, one after another, and why it must not start.

    ``results``: keepalived_status results by host, read now; ``plan``: the failover plan of the
    inventory; ``instance``: only this one. Each node drained is the plan's holder of a chosen
    instance, with the down file the plan's drain entry names. It must not start while any VIP has
    no holder or two, while a live holder differs from the plan's, while a holder has no healthy
    peer, while the live state and the plan expect different peers to take over, or while a holder
    has no down file (or, for the chosen instances, several).

    Returns ``nodes`` (in order) and per node: ``down_files`` (the file to create), ``instances``
    (the chosen instances it holds), ``owners`` (VIP -> the peer expected to take it: every VIP of
    every instance the node holds, since they all move with the down file), ``back`` (the same for
    the instances that fail back, not those with nopreempt) and ``masters`` (those instances, MASTER
    again once undrained); ``vips``, every VIP to watch; and ``problems``.
    """
    chosen = [i for i in plan["instances"] if instance in (None, "", i["name"])]
    problems = list(_report.vip_problems(results))
    if not chosen:
        problems.append("no instance %s in the inventory (instances: %s)" % (
            instance, ", ".join(i["name"] for i in plan["instances"]) or "none"))
    live = {address_of(vip): hosts for vip, hosts in _report.vip_holders(results).items()}
    out = {"nodes": [], "vips": [], "down_files": {}, "instances": {}, "owners": {}, "back": {}, "masters": {},
           "problems": problems}
    for inst in chosen:
        node = inst["holder"]
        for vip in inst["vips"]:
            holders = live.get(address_of(vip), [])
            if holders and holders != [node]:
                problems.append("%s: VIP %s is held by %s, the plan says %s: converge with site.yml, or undrain "
                                "the holder, first" % (inst["name"], vip, ", ".join(holders), node))
        entry = drain_entry(inst, node) if node else None
        if entry is None:
            if node:
                problems.append("%s: no check of %s watches a down file (a check: file script), so %s cannot be "
                                "drained" % (inst["name"], node, node))
            continue
        down = out["down_files"].setdefault(node, entry["down_file"])
        if entry["down_file"] != down:
            problems.append("%s: the instances %s holds watch different down files (%s, %s): take them one at a time "
                            "with -e instance=NAME" % (inst["name"], node, down, entry["down_file"]))
        if node not in out["nodes"]:
            drain = _report.drain_plan(results, node)
            problems.extend(drain["blockers"])
            out["nodes"].append(node)
            out["owners"][node] = {address_of(vip): peer for vip, peer in drain["owners"].items()}
            out["back"][node], out["masters"][node], out["instances"][node] = {}, [], []
            for vip in (v for i in plan["instances"] if i["holder"] == node for v in i["vips"]):
                if address_of(vip) not in out["vips"]:
                    out["vips"].append(address_of(vip))
        out["instances"][node].append(inst["name"])
        for vip in inst["vips"]:
            peer = out["owners"][node].get(address_of(vip))
            if peer and peer != entry["holder"]:
                problems.append("%s: the live state has %s take VIP %s when %s is drained, the plan %s: converge with "
                                "site.yml first" % (inst["name"], peer, vip, node, entry["holder"]))
            if peer and entry.get("failback_s") is not None:
                out["back"][node][address_of(vip)] = peer
        if entry.get("failback_s") is not None:
            out["masters"][node].append(inst["name"])
    return out


def timeline(watches, vip):
    """[(start, end, holders)] for one VIP over the time every watch was running.

    ``watches`` maps a host to its keepalived_vip_watch result; ``holders`` is a sorted tuple.
    """
    start = max(w["started_at"] for w in watches.values())
    end = min(w["ended_at"] for w in watches.values())
    held = {host: bool(w["held_at_start"].get(vip)) for host, w in watches.items()}
    changes = sorted((e["at"], host, e["held"]) for host, w in watches.items() for e in w["events"] if e["vip"] == vip)
    for at, host, state in changes:  # what changed before every watch ran is the state at the start
        if at <= start:
            held[host] = state
    segments, since = [], start
    for at, host, state in changes:
        if at <= start or at > end:
            continue
        now = tuple(sorted(h for h, s in held.items() if s))
        held[host] = state
        if tuple(sorted(h for h, s in held.items() if s)) != now:
            segments.append((since, at, now))
            since = at
    segments.append((since, end, tuple(sorted(h for h, s in held.items() if s))))
    return [s for s in segments if s[1] > s[0] or len(segments) == 1]


def first_alone(segments, host, after):
    """When ``host`` first holds the VIP alone at or after ``after`` (None: never)."""
    for start, end, holders in segments:
        if end >= after and holders == (host,):
            return max(start, after)
    return None


def spent(segments, after, test):
    """Seconds after ``after`` during which ``test(holders)`` is true."""
    return sum(max(0.0, end - max(start, after)) for start, end, holders in segments if test(holders) and end > after)


def path(segments, after):
    """The holder sets one after another from ``after`` on ('none' for no holder, 'a+b' for two)."""
    out = []
    for start, end, holders in segments:
        if end < after:
            continue
        name = "+".join(holders) or "none"
        if not out or out[-1] != name:
            out.append(name)
    return out


def _within(value, pair):
    return value is not None and pair is not None and pair[0] <= value <= pair[1]


def measure(run, inst, entry):
    """One instance's figures for one drill run, and the problems against its plan ``entry``."""
    node = run["node"]
    vips = [address_of(v) for v in inst["vips"]]
    lines = {vip: timeline(run["watches"], vip) for vip in vips}
    expected = entry["holder"]
    out = {"instance": inst["name"], "vips": vips, "drained": node, "expected": expected,
           "plan": {k: entry.get(k) for k in ("failover_s", "failback_s", "max_unheld_s", "max_two_holders_s")},
           "problems": []}
    after_drain = {vip: first_alone(seg, expected, run["drained_at"]) for vip, seg in lines.items()}
    moved = None if None in after_drain.values() else max(after_drain.values())
    out["failover_s"] = None if moved is None else round(moved - run["drained_at"], 3)
    taken = [path(seg, run["drained_at"]) for seg in lines.values()]
    out["path"] = taken[0] if len(taken) == 1 else dict(zip(vips, taken))
    if entry.get("failback_s") is not None:
        back = {vip: first_alone(seg, node, run["undrained_at"]) for vip, seg in lines.items()}
        out["failback_s"] = None if None in back.values() else round(max(back.values()) - run["undrained_at"], 3)
    else:
        out["failback_s"] = None
    out["unheld_s"] = round(float(max(spent(seg, run["drained_at"], lambda h: not h) for seg in lines.values())), 4)
    out["two_holders_s"] = round(float(max(spent(seg, run["drained_at"], lambda h: len(h) > 1)
                                           for seg in lines.values())), 4)
    problems = out["problems"]
    if out["failover_s"] is None:
        others = sorted({h for seg in lines.values() for _s, _e, hs in seg for h in hs} - {node, expected})
        problems.append("%s: the VIPs never moved to %s alone, as the plan says they should%s" % (
            inst["name"], expected, " (held by %s instead)" % ", ".join(others) if others else ""))
    elif not _within(out["failover_s"], entry.get("failover_s")):
        problems.append("%s: moved to %s in %.3f s, outside the plan's %s s" % (
            inst["name"], expected, out["failover_s"], "-".join("%.2f" % v for v in entry["failover_s"])))
    if entry.get("failback_s") is not None and not _within(out["failback_s"], entry["failback_s"]):
        problems.append("%s: back on %s %s, outside the plan's %s s" % (
            inst["name"], node, "never" if out["failback_s"] is None else "in %.3f s" % out["failback_s"],
            "-".join("%.2f" % v for v in entry["failback_s"])))
    for key, what in (("unheld_s", "no holder"), ("two_holders_s", "two holders")):
        limit = entry.get("max_" + key)
        if limit is not None and out[key] > limit:
            problems.append("%s: %s for %.4f s, more than the plan's %.2f s" % (inst["name"], what, out[key], limit))
    return out


def report(runs, plan):
    """Every drill run's figures by instance, the table, a timeline picture per instance, all problems.

    ``runs``: [{node, down_file, instances (those to measure; default every one it holds), drained_at,
    undrained_at, watches: {host: keepalived_vip_watch result}}];
    ``plan``: the failover plan (``_failover_plan.failover_plan``) of the same inventory.
    """
    drills, pictures = [], {}
    for run in runs:
        for inst in plan["instances"]:
            if inst["holder"] != run["node"] or inst["name"] not in run.get("instances", [inst["name"]]):
                continue
            entry = next((f for f in inst["failures"] if f.get("drained") == run["node"]
                          and f.get("down_file") == run.get("down_file")), None)
            if entry is None:
                drills.append({"instance": inst["name"], "drained": run["node"], "problems": [
                    "%s: no check of %s watches the down file %s, so draining it cannot move the VIPs" % (
                        inst["name"], run["node"], run.get("down_file"))]})
                continue
            figures = measure(run, inst, entry)
            drills.append(figures)
            pictures[inst["name"]] = svg(run, inst, figures)
    return {"drills": drills, "table": render(drills), "svg": pictures,
            "problems": [p for d in drills for p in d["problems"]]}


def _s(value, pair=None):
    text = "-" if value is None else "%.3f s" % value
    if pair:
        text += " (%s)" % "-".join("%.2f" % v for v in pair)
    return text


def _ms(value, limit):
    return "%.1f ms (%d)" % (value * 1000, round(limit * 1000))


def render(drills):
    """Lines for people: one row per instance drilled."""
    rows = [["instance", "drained", "taken by", "failover (plan)", "no holder (max ms)", "two holders (max ms)",
             "failback (plan)", "verdict"]]
    for d in drills:
        if "plan" not in d:
            rows.append([d["instance"], d["drained"], "-", "-", "-", "-", "-", "FAILED"])
            continue
        plan = d["plan"]
        rows.append([d["instance"], d["drained"], d["expected"], _s(d["failover_s"], plan["failover_s"]),
                     _ms(d["unheld_s"], plan["max_unheld_s"]), _ms(d["two_holders_s"], plan["max_two_holders_s"]),
                     _s(d["failback_s"], plan["failback_s"]) if plan["failback_s"] else "none (nopreempt)",
                     "FAILED" if d["problems"] else "ok"])
    return _report.render_table(rows[1:], rows[0]) + ["problem: " + p for d in drills for p in d["problems"]]


COLOURS = ["#2b6cb0", "#2f855a", "#b7791f", "#6b46c1", "#c05621", "#2c7a7b"]


def svg(run, inst, figures):
    """A timeline picture of one instance's drill: who held its VIPs when, one lane per host."""
    vips = figures["vips"]
    hosts = sorted(run["watches"])
    lines = {vip: timeline(run["watches"], vip) for vip in vips}
    t0 = min(run["drained_at"] - 1.0, min(s[0][0] for s in lines.values()))
    t1 = max(seg[-1][1] for seg in lines.values())
    left, width, lane = 110, 760, 26
    scale = width / max(t1 - t0, 0.001)
    lanes = hosts + ["no holder"]
    height = 70 + lane * len(lanes) + 40

    def x(t):
        return left + (t - t0) * scale

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">'
           % (left + width + 20, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">%s: %s drained and undrained</text>'
           % (escape(inst["name"]), escape(run["node"])),
           '<text x="10" y="38">%s</text>' % escape(
               "VIP %s; to %s in %s, back in %s; no holder %.1f ms, two holders %.1f ms; times from the drain" % (
                   ", ".join(vips), figures["expected"], _s(figures["failover_s"]), _s(figures["failback_s"]),
                   figures["unheld_s"] * 1000, figures["two_holders_s"] * 1000))]
    top = 50
    for index, name in enumerate(lanes):
        y = top + index * lane
        out.append('<text x="10" y="%d">%s</text>' % (y + 17, escape(name)))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>' % (left, y + lane - 2, left + width, y + lane - 2))
    for start, end, holders in lines[vips[0]]:
        rows = [(hosts.index(h), COLOURS[hosts.index(h) % len(COLOURS)]) for h in holders] or [(len(hosts), "#c53030")]
        for row, colour in rows:
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                x(start), top + row * lane + 3, max(x(end) - x(start), 1.0), lane - 8, colour))
    bottom = top + lane * len(lanes)
    for at, label in ((run["drained_at"], "down file created"), (run["undrained_at"], "down file removed")):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-dasharray="4 3"/>'
                   % (x(at), top - 4, x(at), bottom))
        out.append('<text x="%.1f" y="%d">%s</text>' % (x(at) + 3, bottom + 14, escape(label)))
    step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300) if (t1 - t0) / s <= 12)
    tick = math.ceil((t0 - run["drained_at"]) / step) * step  # seconds from the drain, on round numbers
    while run["drained_at"] + tick <= t1:
        out.append('<text x="%.1f" y="%d" fill="#555" text-anchor="middle">%g s</text>'
                   % (x(run["drained_at"] + tick), bottom + 32, round(tick, 3)))
        tick += step
    out.append("</svg>")
    return "\n".join(out) + "\n"
