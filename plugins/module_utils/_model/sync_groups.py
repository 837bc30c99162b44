# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_sync_groups: instances that move together (vrrp_sync_group), their rules and their lines.

A group's members change state together: when one goes to FAULT or BACKUP, all of them do, so a
router's inside and outside addresses, or a service's VIPs on two networks, always sit on one node.
keepalived itself sets three traps that would turn a green converge into a cluster that never moves
or keeps re-electing, and the rules here refuse each of them first:

- it drops every *weighted* track_script of a member instance (and zeroes its weighted
  track_interface / track_file / track_process), so a check that should move the group would do
  nothing: weighted checks belong on the group, which applies them to every member;
- members whose priorities rank the hosts differently re-elect for ever (one member wants node1,
  another node2, and the group drags both back and forth);
- an instance named in two groups is silently left in the first.

A host that runs none of a group's instances (groups shared in group_vars) simply has no such group.
"""

from __future__ import annotations

from ansible_collections.failover.keepalived.plugins.module_utils._model.instance_options import SAFE_COMMAND_RE
from ansible_collections.failover.keepalived.plugins.module_utils._model.tracking import references, weight_of
from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    err, host_priority, is_int, listify, named_items, track_items,
)

# The conf.d file the groups of a host are written to; no instance may be called like it.
FILE_NAME = "keepalived-sync-groups"
SYNC_GROUP_DEFAULTS = {
    "track_scripts": [],
    "track_files": [],
    "track_processes": [],
    "track_interfaces": [],
    "notify_master": None,
    "notify_backup": None,
    "notify_fault": None,
    "notify_stop": None,
    "notify": None,
    "smtp_alert": False,
}
NOTIFY_FIELDS = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")


def validate(errors, host, view, instances, tables, smtp_ready):
    """This host's groups; return {group name: group} of the valid ones.

    ``instances``: {name: instance with defaults} this host runs; ``tables``: {track field: {name: item}}
    of the host's scripts, track files and track processes.
    """
    raw = view.get("sync_groups")
    if raw is not None and not isinstance(raw, list):
        err(errors, host, "keepalived_sync_groups", "is not a list", "write it as a list of {name, instances} items")
        return {}
    groups = {}
    owner = {}
    for var, group, name in named_items(errors, host, "keepalived_sync_groups", raw, SYNC_GROUP_DEFAULTS,
                                        "give each group a name and its instances", "ROUTER"):
        if name in groups:
            err(errors, host, var + ".name", "is defined twice", "give each group its own name")
            continue
        count = len(errors)
        members = group.get("instances")
        if not isinstance(members, list) or len(members) < 2 or not all(isinstance(m, str) for m in members):
            err(errors, host, var + ".instances", "is %r, not a list of two or more instance names" % (members,),
                "list the instances that must move together, e.g. [OUTSIDE, INSIDE]")
            members = []
        elif len(set(members)) != len(members):
            err(errors, host, var + ".instances", "names an instance twice", "list each instance once")
        elif not any(member in instances for member in members):
            continue  # a group of other hosts' instances (shared group_vars): nothing of it runs here
        for member in members:
            if member not in instances:
                err(errors, host, var + ".instances", "names %s, which this host does not run (not in "
                    "keepalived_instances, or not in its priorities)" % member,
                    "define %s on this host, or leave %s out of the group here" % (member, member))
            elif member in owner:
                err(errors, host, var + ".instances", "names %s, which is already in group %s (keepalived would "
                    "silently leave it there)" % (member, owner[member]), "put each instance in one group")
            else:
                owner[member] = name
        for field in ("track_scripts", "track_files", "track_processes", "track_interfaces"):
            group[field] = references(errors, host, var, field, group.get(field), tables)
        for field in NOTIFY_FIELDS:
            command = group.get(field)
            if command is not None and (not isinstance(command, str) or not SAFE_COMMAND_RE.match(command)):
                err(errors, host, "%s.%s" % (var, field), "is empty or has double quotes, backslashes, braces or "
                    "newlines", "point it at a script file, e.g. /usr/local/bin/notify-group")
        if group.get("smtp_alert") not in (True, False):
            err(errors, host, var + ".smtp_alert", "is %r, not true or false" % (group.get("smtp_alert"),),
                "write smtp_alert: true")
        elif group.get("smtp_alert") and not smtp_ready:
            err(errors, host, var + ".smtp_alert", "is set, but this host has no keepalived_notification_email or "
                "keepalived_smtp_server", "set both, or remove smtp_alert")
        _validate_members(errors, host, var, [instances[m] for m in members if m in instances], tables)
        if len(errors) == count:
            groups[name] = group
    return groups


def _validate_members(errors, host, var, members, tables):
    """What keepalived would silently change on a member, and settings that would split the group."""
    for inst in members:
        for field in ("track_scripts", "track_files", "track_processes", "track_interfaces"):
            try:
                items = track_items(inst.get(field), field)
            except ValueError:
                continue  # refused with the instance
            for item in items:
                weight = weight_of(field, item, tables)
                if is_int(weight) and weight != 0:
                    err(errors, host, "keepalived_instances (%s).%s" % (inst["name"], field),
                        "gives %s weight %d, but %s is in a sync group, where keepalived ignores the weighted "
                        "tracking of a member, so it would never move anything" % (item["name"], weight, inst["name"]),
                        "track %s on the group instead (%s.%s), or give it weight 0 here (FAULT, which moves the "
                        "whole group)" % (item["name"], var, field))
    for field in ("nopreempt", "preempt_delay", "state"):
        seen = {repr(inst.get(field)) for inst in members}
        if len(seen) > 1:
            err(errors, host, var + ".instances", "mixes %s across its members (%s)" % (field, ", ".join(
                "%s=%r" % (inst["name"], inst.get(field)) for inst in members)),
                "give every member of the group the same %s, so that they start and preempt together" % field)


def validate_cluster(errors, groups_by_host, insts_by_name):
    """Rules across hosts: one definition of each group, on every host of its members, one order of hosts."""
    where = {}   # group name -> {host: group}
    member_of = {}   # (host, instance) -> group name
    for host, groups in sorted(groups_by_host.items()):
        for name, group in groups.items():
            where.setdefault(name, {})[host] = group
            for member in group["instances"]:
                member_of[(host, member)] = name
    for name, per_host in sorted(where.items()):
        hosts = sorted(per_host)
        shapes = {h: sorted(per_host[h]["instances"]) for h in hosts}
        if len({tuple(s) for s in shapes.values()}) > 1:
            errors.append("%s: sync group %s has different instances on its hosts: %s. Fix: define the group once "
                          "for all its hosts (e.g. in group_vars)." % (", ".join(hosts), name, "; ".join(
                              "%s=%s" % (h, shapes[h]) for h in hosts)))
            continue
        members = shapes[hosts[0]]
        for member in members:
            outside = sorted(h for h in insts_by_name.get(member, {}) if member_of.get((h, member)) != name)
            if outside:
                errors.append("%s: instance %s is in sync group %s on %s but not on %s, so its VIP would move apart "
                              "from the group's there. Fix: define keepalived_sync_groups the same on every host of %s."
                              % (", ".join(outside), member, name, ", ".join(hosts), ", ".join(outside), member))
        rankings = {}
        for member in members:
            prios = {h: host_priority(inst, h) for h, inst in insts_by_name.get(member, {}).items()}
            if all(is_int(p) for p in prios.values()):
                rankings[member] = tuple(sorted(prios, key=lambda h, p=prios: -p[h]))
        if len(set(rankings.values())) > 1:
            errors.append("%s: sync group %s has members whose priorities rank the hosts differently (%s); the "
                          "group would be pulled between hosts and re-elect for ever. Fix: give every member of %s the "
                          "same order of priorities (e.g. node1 100, node2 90 on each)." % (
                              ", ".join(hosts), name, "; ".join("%s: %s" % (m, " > ".join(r))
                                                                for m, r in sorted(rankings.items())), name))
    return member_of


def with_group_tracking(insts_by_name, groups_by_host, member_of):
    """The instances as the priority rules must see them: each member also tracks its group's checks."""
    out = {}
    for name, per_host in insts_by_name.items():
        out[name] = {}
        for host, inst in per_host.items():
            group = member_of.get((host, name))
            if group is None:
                out[name][host] = inst
                continue
            extra = groups_by_host[host][group]["track_scripts"]
            out[name][host] = dict(inst, track_scripts=list(listify(inst.get("track_scripts"))) + extra)
    return out


def runs_here(group, instance_names):
    """Whether a group (of a host the preflight accepted) has members on this host; others are not rendered."""
    return any(member in instance_names for member in group.get("instances") or [])


def render(group, runner_names):
    """One group of a host the preflight accepted, for the template; runner checks become track_file."""
    tracked = [item for item in group["track_scripts"] if item["name"] not in runner_names]
    files = [item for item in group["track_scripts"] if item["name"] in runner_names] + list(group["track_files"])
    return {
        "name": group["name"],
        "instances": list(group["instances"]),
        "track_scripts": tracked,
        "track_files": files,
        "track_processes": list(group["track_processes"]),
        "track_interfaces": list(group["track_interfaces"]),
        "notify": [(field, group[field]) for field in NOTIFY_FIELDS if group.get(field)],
        "smtp_alert": bool(group.get("smtp_alert")),
    }
