# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover plan: who holds each VIP, who takes it under each single failure, and how fast.

Pure functions over the inventory model's per-host plans (``_model.build``), so it runs on the
controller from the inventory alone. The timings follow VRRP as keepalived runs it:

- a backup takes over after its master down interval, 3 x advert + skew (down_timer_adverts x advert +
  skew where the instance sets it), counted from the last advert it accepted; skew is (256 - priority) / 256 s for VRRPv2 and (256 - priority) x advert / 256
  for VRRPv3;
- a master whose priority drops keeps advertising; the backups discard its lower adverts and take
  over when their own timer runs out (master down minus up to one advert after the drop);
- a master that stops, or enters FAULT (a failing check of weight 0), sends priority 0: the
  backups take over after their skew time alone;
- a check is failed after ``fall`` failing runs and healthy after ``rise`` passing ones, one run per
  interval (per confirm interval, for a runner check, once the first has seen the change), the last
  one counted when it ends (at most its timeout after it starts);
- a recovered node with the higher priority discards the current master's lower adverts and takes
  the VIP back when its own master down interval runs out (after preempt_delay; never with nopreempt).
"""

from __future__ import annotations

from ansible_collections.failover.keepalived.plugins.module_utils._model.instance_options import RFC_DOWN_TIMER_ADVERTS

# Two backups whose takeover timers are closer than this race on a busy host.
RACE_S = 0.05
# Added to every upper bound: a check program's start, keepalived's processing, a loaded host.
SLACK_S = 0.35
# With sub-second adverts, a first backup whose skew is longer than this leaves the VIP unheld after a
# priority-0 advert for longer than the priorities need to.
SLOW_SKEW_S = 0.01


def _num(value, default=1.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _skew(member, advert):
    prio = member["priority"]
    return (256 - prio) / 256.0 if member["version"] == 2 else (256 - prio) * advert / 256.0


def _checks(plan, inst, groups):
    """Each check an instance follows on one host: name, weight, interval, fall, rise (its group's too)."""
    scripts = {s["name"]: s for s in plan.get("scripts") or []}
    runner = {c["name"]: c for c in plan.get("runner_checks") or []}
    files = {f["name"]: f for f in list(plan.get("track_files") or []) + list(plan.get("operator_track_files") or [])}
    items = list(inst.get("track_scripts") or []) + list(inst.get("track_files") or [])
    for group in groups:
        if inst["name"] in group["instances"]:
            items += list(group.get("track_scripts") or []) + list(group.get("track_files") or [])
    out = []
    for item in items:
        name = item["name"]
        source = scripts.get(name) or runner.get(name)
        weight = item.get("weight")
        if weight is None:
            weight = (scripts.get(name) or files.get(name) or {}).get("weight", 0)
        if source is None:  # the operator's own track file: its value is not known in advance
            out.append({"name": name, "weight": weight, "interval": None, "confirm": None, "fall": 1, "rise": 1,
                        "down_file": None})
            continue
        interval = _num(source.get("interval"))
        out.append({"name": name, "weight": int(weight or 0), "interval": interval,
                    "confirm": _num(source.get("confirm_interval"), interval),
                    "timeout": _num(source.get("timeout"), interval),
                    "fall": int(source.get("fall") or 1), "rise": int(source.get("rise") or 1),
                    "down_file": (scripts.get(name) or files.get(name) or {}).get("down_file")})
    return out


def _members(plans):
    """Instance name -> [member], from every host's plan."""
    out = {}
    for host in sorted(plans):
        plan = plans[host]
        for inst in plan.get("instances") or []:
            checks = _checks(plan, inst, plan.get("sync_groups") or [])
            healthy = inst["priority"] + sum(c["weight"] for c in checks if c["weight"] > 0)
            out.setdefault(inst["name"], []).append({
                "host": host, "priority": inst["priority"], "healthy": healthy, "checks": checks,
                "advert": _num(inst.get("advert_int")),
                "down_adverts": int(inst.get("down_timer_adverts") or RFC_DOWN_TIMER_ADVERTS), "version": 3 if str(inst.get("vrrp_version")) == "3" or any(
                    ":" in v.split()[0] for v in inst.get("virtual_ipaddresses") or []) else 2,
                "nopreempt": bool(inst.get("nopreempt")), "preempt_delay": _num(inst.get("preempt_delay"), 0.0),
                "vips": [v.split()[0] for v in inst.get("virtual_ipaddresses") or []],
            })
    return out


def _failed(member, checks):
    """The member's effective priority with these checks failing, or None for FAULT."""
    if any(check["weight"] == 0 for check in checks):
        return None
    return member["healthy"] - sum(abs(check["weight"]) for check in checks)


def _counted(checks, runs):
    """When the checks are counted failed (runs: "fall") or healthy again ("rise"): (low, high) seconds.

    None for the operator's track files: keepalived counts them the moment their value changes. Several
    checks (those watching one down file) are bounded by the quickest and the slowest of them.
    """
    timed = [c for c in checks if c["interval"] is not None]
    if not timed:
        return None
    # The first run that sees the change starts up to an interval after it, each further one a confirm
    # interval later (the runner's; a vrrp_script's is its interval), and the last ends up to its timeout later.
    return (min((c[runs] - 1) * c["confirm"] for c in timed),
            max(c["interval"] + (c[runs] - 1) * c["confirm"] + c["timeout"] for c in timed))


def _holder(priorities):
    """The host with the highest effective priority (None: FAULT or down), and hosts tied with it."""
    alive = {h: p for h, p in priorities.items() if p is not None}
    if not alive:
        return None, []
    top = max(alive.values())
    tied = sorted(h for h, p in alive.items() if p == top)
    return tied[0], tied


def _overlaps(unheld):
    """How long a move and its failback may leave the VIPs with no holder (``unheld`` and the slack), and with two.

    A master that leaves (FAULT, stopped, lost) holds nothing until the backup takes over; one whose
    priority only drops keeps the VIPs until the new master's first advert reaches it, and so does a
    master preempted on failback: a few milliseconds of two holders, no moment of none.
    """
    return {"max_unheld_s": round(max(unheld, 0.0) + SLACK_S, 2), "max_two_holders_s": round(2 * SLACK_S, 2)}


def _rng(low, high):
    return [round(max(low, 0.0), 2), round(max(high, low, 0.0), 2)]


def instance_plan(name, members):
    """The plan of one instance: holder, succession, each single failure, warnings."""
    by_host = {m["host"]: m for m in members}
    healthy = {m["host"]: m["healthy"] for m in members}
    holder, tied = _holder(healthy)
    succession = sorted(healthy, key=lambda h: -healthy[h])
    advert = by_host[holder]["advert"] if holder else 1.0
    failures, warnings = [], []
    if len(tied) > 1:
        warnings.append("%s tie at priority %d while healthy: the higher IP address holds the VIP"
                        % (" and ".join(tied), healthy[holder]))
    if len(members) < 2:
        warnings.append("instance %s has one member (%s): nothing takes its VIP when it fails" % (name, holder))

    def down(host):
        member = by_host[host]
        return member["down_adverts"] * member["advert"] + _skew(member, member["advert"]), member["advert"]

    def takeover(new, dropped):
        """When ``new`` holds the VIP after the holder leaves: (low, high) seconds from the leaving."""
        if dropped:  # the old master keeps advertising: its last accepted advert came up to one advert earlier
            interval, advert = down(new)
            return interval - advert, interval + SLACK_S
        skew = _skew(by_host[new], by_host[new]["advert"])
        return skew, skew + SLACK_S

    def failback(back, restarted=False):
        """When ``back`` holds the VIP again once it is healthy (or restarted): it discards the lower adverts
        of the current master and waits out its own master down interval, then its preempt_delay."""
        member = by_host[back]
        if member["nopreempt"]:
            return None
        interval, advert = down(back)
        low = interval if restarted else interval - advert
        return member["preempt_delay"] + low, member["preempt_delay"] + interval + SLACK_S

    def failing(member, checks, what, entry_extra=None):
        """The entry for these checks of ``member`` failing together."""
        priorities = dict(healthy, **{member["host"]: _failed(member, checks)})
        new, tied = _holder(priorities)
        entry = dict({"what": what, "priorities": priorities, "holder": new}, **(entry_extra or {}))
        if len(tied) > 1 and (entry_extra is None or len(checks) > 1):  # a drain on one check: said once
            warnings.append("when %s, %s tie at priority %d: the higher IP address wins"
                            % (what, " and ".join(tied), priorities[tied[0]]))
        if member["host"] == holder and new != holder and new is not None:
            dropped = priorities[holder] is not None
            detect, recover = _counted(checks, "fall"), _counted(checks, "rise")
            if detect is None:
                detect = (0.0, 0.0)
                entry["note"] = "a track file counts the moment its value changes"
            low, high = takeover(new, dropped)
            entry["failover_s"] = _rng(detect[0] + low, detect[1] + high)
            back = failback(holder)
            if back is None:
                entry["failback_s"] = None
                entry["note"] = "nopreempt: the VIP stays on %s" % new
            elif recover is not None:
                entry["failback_s"] = _rng(recover[0] + back[0], recover[1] + back[1])
            entry.update(_overlaps(0.0 if dropped else low))
        return entry

    for member in members:
        for check in member["checks"]:
            failures.append(failing(member, [check], "check %s fails on %s" % (check["name"], member["host"])))
        # Draining the member with a down file fails every check that watches it at once.
        for path in sorted({c["down_file"] for c in member["checks"] if c.get("down_file")}):
            failures.append(failing(member, [c for c in member["checks"] if c.get("down_file") == path],
                                    "%s drained (down file %s)" % (member["host"], path),
                                    {"drained": member["host"], "down_file": path}))
        priorities = dict(healthy, **{member["host"]: None})
        new, _tied = _holder(priorities)
        stopped = {"what": "%s stops (keepalived stopped, a clean shutdown)" % member["host"],
                   "priorities": priorities, "holder": new}
        lost = {"what": "%s is lost (crash, power, network)" % member["host"], "priorities": priorities, "holder": new}
        if member["host"] == holder and new is not None:
            stopped["failover_s"] = _rng(*takeover(new, False))
            lost["failover_s"] = _rng(*takeover(new, True))
            stopped.update(_overlaps(takeover(new, False)[0]))
            lost.update(_overlaps(takeover(new, True)[1] - SLACK_S))
            back = failback(holder, restarted=True)
            for entry in (stopped, lost):
                entry["failback_s"] = None if back is None else _rng(back[0], back[1])
                entry["failback_from"] = "keepalived's start on %s" % holder
        failures += [stopped, lost]
    backups = [h for h in succession if h != holder]
    if len(backups) > 1:
        first, second = by_host[backups[0]], by_host[backups[1]]
        gap = abs(_skew(first, first["advert"]) - _skew(second, second["advert"]))
        if gap < RACE_S:
            warnings.append("%s and %s start their takeover %.0f ms apart: on a busy host %s may hold the VIP for a "
                            "moment before %s (priorities further apart widen the gap)"
                            % (backups[0], backups[1], gap * 1000, backups[1], backups[0]))
    if holder and backups and by_host[holder]["advert"] < 1:
        first = by_host[backups[0]]
        skew = _skew(first, first["advert"])
        if skew > SLOW_SKEW_S:
            top = dict(first, priority=253)
            warnings.append("%s takes over %.0f ms after %s's priority-0 advert (the skew of priority %d at advert "
                            "%g s): priorities near the top, e.g. %s 254 and %s 253, take %.1f ms"
                            % (backups[0], skew * 1000, holder, first["priority"], first["advert"], holder,
                               backups[0], _skew(top, top["advert"]) * 1000))
    never = [c["name"] for c in by_host[holder]["checks"] if _holder(dict(healthy, **{
        holder: _failed(by_host[holder], [c])}))[0] == holder] if holder else []
    for check in never:
        warnings.append("check %s can never move the VIP off %s" % (check, holder))
    return {"name": name, "vips": by_host[holder]["vips"] if holder else [], "holder": holder,
            "succession": succession, "priorities": healthy, "advert_int": advert,
            # The members that never take the VIP back from a healthy master (nopreempt).
            "nopreempt": [m["host"] for m in members if m["nopreempt"]],
            "failures": failures, "warnings": warnings}


def failover_plan(plans):
    """The plan of every instance of the model's ``plans`` (host -> plan)."""
    return {"instances": [instance_plan(name, members) for name, members in sorted(_members(plans).items())]}


def _seconds(pair):
    if pair is None:
        return "never (nopreempt)"
    if not pair:
        return "-"
    return "%.2f-%.2f s" % tuple(pair)


def render(result):
    """Lines for people: per instance its succession, then one row per failure that moves the VIP."""
    lines = []
    for inst in result["instances"]:
        lines.append("instance %s (%s): holder %s; succession %s" % (
            inst["name"], ", ".join(inst["vips"]) or "no VIP", inst["holder"] or "none",
            " > ".join("%s %d" % (h, inst["priorities"][h]) for h in inst["succession"])))
        rows = [["failure", "then held by", "failover", "failback"]]
        for entry in inst["failures"]:
            if entry["holder"] == inst["holder"]:
                continue
            rows.append([entry["what"], entry["holder"] or "nobody", _seconds(entry.get("failover_s", [])),
                         _seconds(entry.get("failback_s", []))])
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for index, row in enumerate(rows):
            lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if index == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines += ["  warning: " + w for w in inst["warnings"]]
    return lines
