# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every host's plan: the resolved values its templates, files and runner are made from.

The plans of all hosts are computed together from one index of the inventory
(each instance's members, their priorities and source addresses, built once), so
planning costs time in proportion to the number of hosts, not to its square.
"""

from __future__ import annotations

from ansible_collections.failover.keepalived.plugins.module_utils._model import (
    host_config, host_system, instance_options, sync_groups, tracking, virtual_servers,
)
from ansible_collections.failover.keepalived.plugins.module_utils._model.checks import maintenance_file, runner_check, script_command
from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    INSTANCE_DEFAULTS, REMEDIATE_DEFAULTS, SCRIPT_DEFAULTS, host_priority, instances_of, listify, num, parse_vip,
    script_timeout, src_ip, track_items, vip_line, with_defaults,
)


class Index:
    """Each instance's members (by their own priorities map), with defaults applied, built in one pass."""

    def __init__(self, views):
        self.views = views
        self.members = {}   # instance name -> {host: instance with defaults}
        for host in sorted(views):
            view = views[host]
            if not isinstance(view, dict):
                continue
            for raw in instances_of(view):
                inst = with_defaults(raw, INSTANCE_DEFAULTS)
                prios = inst.get("priorities")
                if isinstance(prios, dict) and prios and host not in prios:
                    continue
                self.members.setdefault(inst.get("name"), {}).setdefault(host, inst)
        self._sources = {}

    def source(self, name, host):
        """The VRRP source address ``host`` uses for instance ``name`` (computed once)."""
        key = (name, host)
        if key not in self._sources:
            self._sources[key] = src_ip(self.members[name][host], self.views[host])
        return self._sources[key]

    def top_priority(self, name):
        prios = [host_priority(inst, host) for host, inst in self.members[name].items()]
        return max((p for p in prios if p is not None), default=None)


def plans(views):
    """host -> plan for every host of ``views`` (an inventory the preflight accepted)."""
    index = Index(views)
    return {host: _host_plan(index, host) for host in views if isinstance(views[host], dict)}


def _instance_plan(index, host, inst, scripts_all, used):
    name = inst["name"]
    members = sorted(index.members[name])
    prio = host_priority(inst, host)
    state = inst["state"]
    if state == "auto" and index.views[host].get("start_in_maintenance"):
        # Joining drained: a MASTER would take the VIP at start, before its first check has run.
        state = "BACKUP"
    elif state == "auto":
        if inst.get("nopreempt") or inst.get("preempt_delay") is not None or (
                inst.get("auth_pass") is not None and inst.get("auth_type") == "AH"):
            state = "BACKUP"  # the top priority still takes over once the first adverts are missed
        else:
            state = "MASTER" if prio == index.top_priority(name) else "BACKUP"
    src = None
    peers = []
    if inst.get("unicast"):
        src = index.source(name, host)
        if inst.get("unicast_peers") is not None:
            peers = [str(p) for p in inst["unicast_peers"]]
        else:
            peers = [peer for peer in (index.source(name, other) for other in members if other != host) if peer]
    tracked = []
    track_files = []
    for item in track_items(inst.get("track_scripts"), "track_scripts"):
        if (scripts_all.get(item["name"]) or {}).get("runner"):
            track_files.append(item)
        else:
            tracked.append(item)
        _use(used["track_scripts"], item["name"])
    operator_files = track_items(inst.get("track_files"), "track_files")
    processes = track_items(inst.get("track_processes"), "track_processes")
    for field, items in (("track_files", operator_files), ("track_processes", processes)):
        for item in items:
            _use(used[field], item["name"])
    return {
        "name": name,
        "state": state,
        "interface": inst["interface"],
        "virtual_router_id": inst["virtual_router_id"],
        "priority": prio,
        "advert_int": num(inst["advert_int"]),
        "vrrp_version": inst["vrrp_version"],
        "auth_type": inst["auth_type"],
        "auth_pass": None if inst.get("auth_pass") is None else str(inst["auth_pass"]),
        "virtual_ipaddresses": [vip_line(parse_vip(v, inst["interface"]))
                                for v in listify(inst.get("virtual_ipaddresses"))],
        "unicast_src_ip": src if peers else None,
        "unicast_peers": peers,
        "track_scripts": tracked,
        "track_files": track_files + operator_files,
        "track_processes": processes,
        "track_interfaces": track_items(inst.get("track_interfaces"), "track_interfaces"),
        "nopreempt": bool(inst.get("nopreempt")),
        "preempt_delay": None if inst.get("preempt_delay") is None else num(inst["preempt_delay"]),
        "garp_master_delay": inst.get("garp_master_delay"),
        "garp_master_repeat": inst.get("garp_master_repeat"),
        "garp_master_refresh": inst.get("garp_master_refresh"),
        "notify_master": inst.get("notify_master"),
        "notify_backup": inst.get("notify_backup"),
        "notify_fault": inst.get("notify_fault"),
        "notify_stop": inst.get("notify_stop"),
        "notify": inst.get("notify"),
        "extra_options": list(inst.get("extra_options") or []),
        "members": members,
        **instance_options.render(inst),
    }


def _use(names, name):
    if name not in names:
        names.append(name)


def _host_plan(index, host):
    view = index.views[host]
    scripts_all = {}
    for raw in view.get("scripts") or []:
        scr = with_defaults(raw, SCRIPT_DEFAULTS)
        scripts_all[scr["name"]] = scr
    instances = []
    # What the instances and groups of this host track, in the order first named.
    used = {"track_scripts": [], "track_files": [], "track_processes": []}
    seen = set()
    for raw in instances_of(view):
        name = raw.get("name")
        if name in seen or host not in index.members.get(name, {}):
            continue
        seen.add(name)
        instances.append(_instance_plan(index, host, index.members[name][host], scripts_all, used))
    runner_names = {name for name, scr in scripts_all.items() if scr.get("runner")}
    groups = []
    for raw in view.get("sync_groups") or []:
        if not sync_groups.runs_here(raw, seen):
            continue
        group = with_defaults(raw, sync_groups.SYNC_GROUP_DEFAULTS)
        for field in ("track_scripts", "track_files", "track_processes", "track_interfaces"):
            group[field] = track_items(group.get(field), field)
        for field in used:
            for item in group[field]:
                _use(used[field], item["name"])
        groups.append(sync_groups.render(group, runner_names))
    defined = {field: {item.get("name"): item for item in view.get(field) or [] if isinstance(item, dict)}
               for field in ("track_files", "track_processes")}
    scripts = []
    track_files = []
    runner = []
    remediate_units = []
    maintenance_files = []
    for name in used["track_scripts"]:
        scr = scripts_all[name]
        down = maintenance_file(scr)
        if down and down not in maintenance_files:
            maintenance_files.append(down)
        if scr.get("runner"):
            track_files.append({"name": name, "weight": scr["weight"], "down_file": down})
            runner.append(runner_check(scr))
            continue
        if scr.get("remediate"):
            unit = with_defaults(scr["remediate"], REMEDIATE_DEFAULTS).get("unit")
            if unit and unit not in remediate_units:
                remediate_units.append(str(unit))
        scripts.append({
            "name": name,
            "command": script_command(scr, view.get("check_command") or "keepalived-check", view.get("state_dir")),
            "interval": num(scr["interval"]),
            "timeout": num(script_timeout(scr)),
            "weight": scr["weight"],
            "fall": scr["fall"],
            "rise": scr["rise"],
            "user": scr.get("user"),
            # The down file it watches (check: file), for the failover plan and the drill.
            "down_file": down,
            # A node that joins drained starts its down-file checks failed, not passing until they first run.
            "init_fail": bool(scr.get("init_fail")) or bool(down and view.get("start_in_maintenance")),
        })
    host_plan = {
        "router_id": view.get("router_id"),
        "script_user": view.get("script_user"),
        "global_defs": host_config.global_defs(view),
        # keepalived_extra_config, written to conf.d (see conf_d) and validated with the rest.
        "extra_config": view.get("extra_config") or None,
        # Outside keepalived.conf: the kernel settings and the daemon's arguments.
        "sysctls": host_system.sysctls(view),
        "daemon_args": host_system.daemon_args(view),
        # One run at a time changes this host (keepalived_lock_*).
        "lock": host_system.lock(view),
        # The Prometheus textfile writer and node-exporter (keepalived_metrics_*).
        "metrics": host_system.metrics(view),
        # The down files this host's instances track; created before keepalived first starts when
        # keepalived_start_in_maintenance is true.
        "maintenance_files": maintenance_files,
        "start_in_maintenance": bool(view.get("start_in_maintenance")),
        "instances": instances,
        "sync_groups": groups,
        # keepalived's own load balancing (needs the kernel's IPVS to take effect).
        "virtual_servers": virtual_servers.render(view),
        "scripts": scripts,
        "track_files": track_files,
        # The operator's own track files and the processes, those an instance or group tracks.
        "operator_track_files": tracking.render_files(
            [with_defaults(defined["track_files"][n], tracking.TRACK_FILE_DEFAULTS) for n in used["track_files"]]),
        "track_processes": tracking.render_processes(
            [with_defaults(defined["track_processes"][n], tracking.TRACK_PROCESS_DEFAULTS) for n in used["track_processes"]]),
        # What the healthcheck role installs for this host: the runner's checks (only those an
        # instance of this host tracks) and the units a check may restart through sudo.
        "runner_checks": runner,
        "remediate_units": remediate_units,
    }
    host_plan["conf_d"] = conf_d(host_plan)
    return host_plan


def conf_d(host_plan):
    """The files of conf.d (keepalived.conf includes conf.d/*.conf), in order, each with the role's template
    that writes it: [{"file", "template", "instance"}], "instance" the index in host_plan["instances"] of
    the instance a file holds (else None). Read by the role's configure step and by the preflight, which
    refuses a host whose list is empty."""
    files = [{"file": inst["name"] + ".conf", "template": "instance.conf.j2", "instance": index}
             for index, inst in enumerate(host_plan["instances"])]
    for part, name, template in (("sync_groups", sync_groups.FILE_NAME, "sync_groups.conf.j2"),
                                 ("virtual_servers", virtual_servers.FILE_NAME, "virtual_servers.conf.j2"),
                                 ("extra_config", host_config.EXTRA_NAME, "extra.conf.j2")):
        if host_plan[part]:
            files.append({"file": name + ".conf", "template": template, "instance": None})
    return files
