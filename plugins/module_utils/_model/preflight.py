# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight: every rule on the inventory of the whole play, as messages naming host, variable and fix."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.failover.keepalived.plugins.module_utils._model import (
    host_config, host_system, instance_options, sync_groups, tracking, virtual_servers,
)
from ansible_collections.failover.keepalived.plugins.module_utils._model.checks import maintenance_file, validate_scripts
from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    IFACE_RE, INSTANCE_DEFAULTS, err, host_priority, is_int, is_number, listify, named_items, own_addresses,
    parse_vip, src_ip, track_items, vip_version,
)

# The check user, as systemd-sysusers creates it (at most 31 characters, which must fit utmp).
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
# A track directory systemd can create as the runner's RuntimeDirectory.
TRACK_DIR_RE = re.compile(r"^/run/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
PATH_RE = re.compile(r"^(/[A-Za-z0-9_.@+-]+)+$")
# conf.d files the role writes besides the instances' own.
RESERVED_NAMES = {host_config.EXTRA_NAME: "keepalived_extra_config", sync_groups.FILE_NAME: "keepalived_sync_groups",
                  virtual_servers.FILE_NAME: "keepalived_virtual_servers"}
V6_NOTE = " (keepalived runs an IPv6 instance as VRRPv3 whatever vrrp_version says)"


def validate_host_settings(errors, host, view):
    """The values both roles use on this host: the check user, the check program, its directories."""
    user = view.get("script_user")
    if not isinstance(user, str) or not USER_RE.match(user) or user == "root":
        err(errors, host, "keepalived_script_user", "is %r, not an unprivileged user name" % (user,),
            "use a system user name such as keepalived_script: lower-case letters, digits, _ and -, at most 31 "
            "characters (systemd-sysusers creates it), never root (keepalived refuses to run checks as root under "
            "script security)")
    for var, key, regex, example in (
            ("keepalived_check_command", "check_command", PATH_RE, "/usr/local/bin/keepalived-check"),
            ("keepalived_check_state_dir", "state_dir", PATH_RE, "/run/keepalived-check"),
            ("keepalived_track_dir", "track_dir", TRACK_DIR_RE, "/run/keepalived-check/track")):
        value = view.get(key)
        if not isinstance(value, str) or not regex.match(value):
            err(errors, host, var, "is %r, not %s" % (value, "a directory under /run" if key == "track_dir"
                                                      else "an absolute path without spaces or quotes"),
                "use e.g. %s" % example)


def _validate_instance_fields(errors, host, var, inst, view, tables):
    scripts = tables["track_scripts"]
    name = inst["name"]
    if not inst.get("interface") or not IFACE_RE.match(str(inst["interface"])):
        err(errors, host, var + ".interface", "is %r, not an interface name" % (inst.get("interface"),),
            "set the interface that carries VRRP, e.g. eth0")
    vrid = inst.get("virtual_router_id")
    if not is_int(vrid) or not 1 <= vrid <= 255:
        err(errors, host, var + ".virtual_router_id", "is %r, outside 1..255" % (vrid,),
            "pick a number from 1 to 255 that no other VRRP router on this network uses")
    prio = host_priority(inst, host)
    if prio is None:
        err(errors, host, var, "has no priority for this host",
            "set priorities: {%s: 100, ...} on the instance (or priority in this host's vars)" % host)
    elif not is_int(prio) or not 1 <= prio <= 254:
        err(errors, host, var + ".priority", "is %r for this host, outside 1..254" % (prio,),
            "use 1..254 (255 is reserved for the address owner)")
    state = inst.get("state")
    if state not in ("auto", "MASTER", "BACKUP"):
        err(errors, host, var + ".state", "is %r" % (state,), "use auto, MASTER or BACKUP")
    vips = listify(inst.get("virtual_ipaddresses"))
    if not vips:
        err(errors, host, var + ".virtual_ipaddresses", "is empty", "list at least one address such as 192.168.1.100/24")
    families = set()
    for vidx, vip in enumerate(vips):
        try:
            parsed = parse_vip(vip, inst.get("interface"))
            families.add(parsed["version"])
        except ValueError as exc:
            err(errors, host, "%s.virtual_ipaddresses[%d]" % (var, vidx), "is malformed: %s" % exc,
                "write e.g. '192.168.1.100/24' or {address: 192.168.1.100/24, dev: eth0, label: 'eth0:0'}")
    if len(families) > 1:
        err(errors, host, var + ".virtual_ipaddresses", "mixes IPv4 and IPv6 addresses",
            "for one dual-stack VIP list the other family's address in virtual_ipaddress_excluded (it moves with "
            "the VIPs, in one election), or use one instance per address family")
    version = inst.get("vrrp_version")
    if version not in (2, 3):
        err(errors, host, var + ".vrrp_version", "is %r" % (version,), "use 2 or 3")
    elif families == {6}:
        version = 3  # keepalived runs an IPv6 instance as VRRPv3 whatever vrrp_version says
    adv = inst.get("advert_int")
    if not is_number(adv) or adv <= 0:
        err(errors, host, var + ".advert_int", "is %r, not a positive number of seconds" % (adv,), "set e.g. advert_int: 1")
    elif version == 2 and (adv < 1 or float(adv) != int(adv) or adv > 255):
        err(errors, host, var + ".advert_int", "is %r, but VRRPv2 only carries whole seconds 1..255" % (adv,),
            "use a whole number of seconds, or vrrp_version: 3 for sub-second adverts")
    elif version == 3 and not 0.01 <= adv <= 40.95:
        err(errors, host, var + ".advert_int", "is %r, outside VRRPv3's 0.01..40.95 s%s" % (adv, V6_NOTE if families == {6} else ""),
            "use a value in that range")
    if inst.get("auth_pass") is not None:
        pw = str(inst["auth_pass"])
        if len(pw) > 8:
            err(errors, host, var + ".auth_pass", "is %d characters long; VRRP PASS authentication carries at most 8 "
                "(keepalived would silently truncate it)" % len(pw), "use a password of 1 to 8 characters")
        if not pw or re.search(r"[\s\"'#!]", pw):
            err(errors, host, var + ".auth_pass", "is empty or contains spaces, quotes, '#' or '!'",
                "use 1 to 8 plain characters")
        if version == 3:
            err(errors, host, var + ".auth_pass", "is set, but VRRPv3 has no authentication%s" % (V6_NOTE if families == {6} else ""),
                "remove auth_pass" if families == {6} else "remove auth_pass or use vrrp_version: 2")
        if inst.get("auth_type") not in ("PASS", "AH"):
            err(errors, host, var + ".auth_type", "is %r" % (inst.get("auth_type"),), "use PASS or AH")
        elif inst["auth_type"] == "AH" and state == "MASTER":
            err(errors, host, var + ".auth_type", "is AH on an instance with state MASTER; keepalived cannot start an AH "
                "instance as MASTER and drops the authentication", "set state: BACKUP or auto (which renders BACKUP with AH)")
    if inst.get("nopreempt") and state == "MASTER":
        err(errors, host, var + ".nopreempt", "is set on an instance with state MASTER; keepalived ignores nopreempt "
            "unless the initial state is BACKUP", "set state: BACKUP (or auto, which renders BACKUP with nopreempt)")
    if inst.get("preempt_delay") is not None and inst.get("nopreempt"):
        err(errors, host, var + ".preempt_delay", "is set together with nopreempt; keepalived ignores preempt_delay "
            "when it never preempts", "remove preempt_delay, or nopreempt to preempt after the delay")
    elif inst.get("preempt_delay") is not None:
        pd = inst["preempt_delay"]
        if not is_number(pd) or not 0 <= pd <= 1000:
            err(errors, host, var + ".preempt_delay", "is %r, outside 0..1000 s" % (pd,), "use a number of seconds")
        elif state == "MASTER":
            err(errors, host, var + ".preempt_delay", "is set on an instance with state MASTER, where keepalived "
                "ignores it", "set state: BACKUP or auto")
    try:
        tracked = track_items(inst.get("track_scripts"), "track_scripts")
    except ValueError as exc:
        err(errors, host, var + ".track_scripts", str(exc), "list script names")
        tracked = []
    for item in tracked:
        if item["name"] not in scripts:
            err(errors, host, var + ".track_scripts", "names %r, which keepalived_scripts does not define" % item["name"],
                "define it in keepalived_scripts or remove it from track_scripts")
        weight = item["weight"]
        if weight is not None and (not is_int(weight) or not -253 <= weight <= 253):
            err(errors, host, "%s.track_scripts (%s).weight" % (var, item["name"]), "is %r, outside -253..253" % (weight,),
                "use a whole number from -253 to 253")
    try:
        watched = track_items(inst.get("track_interfaces"), "track_interfaces")
    except ValueError as exc:
        err(errors, host, var + ".track_interfaces", str(exc), "list interface names")
        watched = []
    for item in watched:
        if item["name"] == inst.get("interface"):
            err(errors, host, var + ".track_interfaces", "names %s, the instance's own interface, which keepalived "
                "always watches and ignores here" % item["name"], "remove it (a down %s already means FAULT)" % item["name"])
    for field in ("unicast_peers", "extra_options"):
        if inst.get(field) is not None and not isinstance(inst[field], list):
            err(errors, host, "%s.%s" % (var, field), "is not a list", "write it as a YAML list")
    for field in ("unicast_src_ip",):
        if inst.get(field):
            try:
                ipaddress.ip_address(str(inst[field]))
            except ValueError:
                err(errors, host, "%s.%s" % (var, field), "is %r, not an IP address" % (inst[field],),
                    "set the host's own address on %s" % inst.get("interface"))
    smtp_ready = bool(view.get("notification_email")) and view.get("smtp_server") is not None
    options = view.get("global_options")
    strict = isinstance(options, dict) and options.get("vrrp_strict") not in (None, False)
    for suffix, problem, fix in instance_options.problems(inst, smtp_ready, strict):
        err(errors, host, var + suffix, problem, fix)
    if name in RESERVED_NAMES:
        err(errors, host, var + ".name", "is %s, the name of the role's file of %s" % (name, RESERVED_NAMES[name]),
            "give the instance another name")
    for field in ("track_files", "track_processes"):
        tracking.references(errors, host, var, field, inst.get(field), tables)
    for pidx, peer in enumerate(inst.get("unicast_peers") or []):
        try:
            ipaddress.ip_address(str(peer))
        except ValueError:
            err(errors, host, "%s.unicast_peers[%d]" % (var, pidx), "is %r, not an IP address" % (peer,),
                "list the peers' addresses")


def _effective(prio, weights, failing=None):
    """Effective priority with every tracked script passing except ``failing`` (an index, or a set of them)."""
    eff = prio
    failing = failing if isinstance(failing, (set, frozenset)) else {failing}
    for idx, weight in enumerate(weights):
        passing = idx not in failing
        if weight > 0 and passing:
            eff += weight
        elif weight < 0 and not passing:
            eff += weight
    return eff


def _instance_weights(inst, scripts):
    weights = []
    for item in track_items(inst.get("track_scripts"), "track_scripts"):
        scr = scripts.get(item["name"])
        if scr is None:
            continue
        weight = item["weight"] if item["weight"] is not None else scr.get("weight")
        weights.append((item["name"], weight if is_int(weight) else 0))
    return weights


def preflight(views):
    """Check every host's view; return a list of messages (empty when the inventory is good).

    ``views`` maps inventory host name -> host view (see the package's docstring).
    """
    errors = []
    hosts = sorted(views)
    known = set(hosts)
    router_ids = {}
    scripts_by_host = {}
    insts_by_name = {}
    groups_by_host = {}
    for host in hosts:
        view = views[host]
        if not isinstance(view, dict):
            errors.append("%s: has no keepalived settings in this run (unreachable, or failed before the preflight). "
                          "Fix: bring the host back, or leave it out of the play together with every instance it is a "
                          "member of." % host)
            continue
        rid = view.get("router_id")
        if not rid or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", str(rid)):
            err(errors, host, "keepalived_router_id", "is %r" % (rid,), "use a short name such as KA1")
        else:
            router_ids.setdefault(str(rid), []).append(host)
        validate_host_settings(errors, host, view)
        smtp_ready = host_config.validate(errors, host, view)
        host_system.validate(errors, host, view)
        virtual_servers.validate(errors, host, view)
        scripts_by_host[host] = validate_scripts(errors, host, view)
        track_files, track_processes = tracking.validate(errors, host, view)
        tables = {"track_scripts": scripts_by_host[host], "track_files": track_files,
                  "track_processes": track_processes}
        raw_instances = view.get("instances")
        if raw_instances is not None and not isinstance(raw_instances, list):
            err(errors, host, "keepalived_instances", "is not a list", "write it as a list of instances")
            continue
        seen = {}
        vrids = {}
        for var, inst, name in named_items(errors, host, "keepalived_instances", raw_instances, INSTANCE_DEFAULTS,
                                           "give each instance name, interface, virtual_router_id, ...", "VI_1"):
            prios = inst.get("priorities")
            if isinstance(prios, dict) and prios and host not in prios:
                continue  # this host is not a member of the instance
            if isinstance(prios, dict) and prios:
                outside = sorted(set(map(str, prios)) - known)
                if outside and inst.get("unicast") and inst.get("unicast_peers") is None:
                    err(errors, host, var + ".priorities", "names %s, not in this play (a --limit?); their addresses "
                        "are needed for unicast_peer" % ", ".join(outside),
                        "run the play on every member of the instance, or set unicast_peers explicitly")
            if name in seen:
                err(errors, host, var, "is defined twice", "give each instance a unique name")
                continue
            seen[name] = inst
            _validate_instance_fields(errors, host, var, inst, view, tables)
            key = (inst.get("interface"), inst.get("virtual_router_id"), 6 if any(
                vip_version(v) == 6 for v in listify(inst.get("virtual_ipaddresses"))) else 4)
            if key in vrids:
                err(errors, host, var + ".virtual_router_id",
                    "%s is also used by instance %s on %s" % (key[1], vrids[key], key[0]),
                    "give every instance on one interface its own virtual_router_id")
            vrids[key] = name
            insts_by_name.setdefault(name, {})[host] = inst
            if inst.get("unicast") and view.get("addresses") is not None:  # None: planning without the hosts
                own = own_addresses(view)
                src = src_ip(inst, view)
                if src is None:
                    err(errors, host, var + ".unicast_src_ip",
                        "cannot be found: the host has no address on %s in its facts" % inst.get("interface"),
                        "gather facts (network subset) or set unicast_src_ip")
                else:
                    own.add(src)
                for peer in inst.get("unicast_peers") or []:
                    if str(peer) in own:
                        err(errors, host, var + ".unicast_peers", "contains %s, an address of this host itself" % peer,
                            "list only the other hosts' addresses (or leave it out to use the other members)")
        groups_by_host[host] = sync_groups.validate(errors, host, view, seen, tables, smtp_ready)
    for rid, owners in sorted(router_ids.items()):
        if len(owners) > 1:
            errors.append("%s: keepalived_router_id %r is shared by %s. Fix: give every host its own router_id "
                          "(e.g. KA1, KA2)." % (", ".join(owners), rid, ", ".join(owners)))
    member_of = sync_groups.validate_cluster(errors, groups_by_host, insts_by_name)
    # A member of a sync group also follows its group's checks, which the priority rules must count.
    tracked = sync_groups.with_group_tracking(insts_by_name, groups_by_host, member_of)
    for name, per_host in sorted(tracked.items()):
        _validate_cluster_instance(errors, name, per_host, scripts_by_host, views)
    for host in hosts:
        if isinstance(views[host], dict):
            _validate_start_in_maintenance(errors, host, views[host], tracked, scripts_by_host)
    return errors


def _validate_start_in_maintenance(errors, host, view, insts_by_name, scripts_by_host):
    """A node that joins drained must hold no VIP while its down files exist."""
    start = view.get("start_in_maintenance")
    if start is None or start is False:
        return
    if start is not True:
        err(errors, host, "keepalived_start_in_maintenance", "is %r, not true or false" % (start,), "set true or false")
        return
    scripts = scripts_by_host.get(host, {})
    for name, per_host in sorted(insts_by_name.items()):
        inst = per_host.get(host)
        if inst is None:
            continue
        if inst.get("state") == "MASTER":
            err(errors, host, "keepalived_start_in_maintenance", "is true, but instance %s has state MASTER, which "
                "takes the VIP as keepalived starts, before its down-file check has run" % name,
                "leave state: auto (a node that joins drained starts as BACKUP), or set false")
            continue
        weights = _instance_weights(inst, scripts)
        downs = {idx for idx, (script, _w) in enumerate(weights) if maintenance_file(scripts.get(script))}
        if not downs:
            err(errors, host, "keepalived_start_in_maintenance",
                "is true, but instance %s tracks no check: file (a down file), so the node would take its VIP as it "
                "joins" % name, "track a script with check: file (path /etc/keepalived/down) in %s, or set false" % name)
            continue
        if any(weights[idx][1] == 0 for idx in downs):
            continue  # the down file puts the instance into FAULT
        prio = host_priority(inst, host)
        others = [_effective(host_priority(other, peer), [w for _s, w in _instance_weights(
            other, scripts_by_host.get(peer, {}))]) for peer, other in per_host.items() if peer != host]
        others = [p for p in others if is_int(p)]
        if not is_int(prio) or not others:
            continue
        drained = _effective(prio, [w for _s, w in weights], failing=downs)
        if drained >= max(others):
            err(errors, host, "keepalived_start_in_maintenance",
                "is true, but with the down file instance %s still has priority %d, not below the other members' %d, "
                "so the node would take the VIP as it joins" % (name, drained, max(others)),
                "give the down-file check of %s a weight of %d or lower (or 0, which puts the instance into FAULT)"
                % (name, weights[min(downs)][1] - (drained - max(others) + 1)))


def _validate_cluster_instance(errors, name, per_host, scripts_by_host, views):
    """Rules that span the members of one instance."""
    members = sorted(per_host)
    for field in ("virtual_router_id", "advert_int", "vrrp_version", "auth_type", "auth_pass", "unicast",
                  "virtual_ipaddress_excluded"):
        values = {h: per_host[h].get(field) for h in members}
        if len({repr(v) for v in values.values()}) > 1:
            shown = "(hidden)" if field == "auth_pass" else ", ".join("%s=%r" % hv for hv in sorted(values.items()))
            errors.append("%s: instance %s has different %s on its members: %s. Fix: set one %s for the whole instance."
                          % (", ".join(members), name, field, shown, field))
    vip_sets = {}
    for host in members:
        ips = []
        for vip in listify(per_host[host].get("virtual_ipaddresses")):
            try:
                ips.append(parse_vip(vip, per_host[host].get("interface"))["address"])
            except ValueError:
                ips.append(repr(vip))
        vip_sets[host] = tuple(sorted(ips))
    if len(set(vip_sets.values())) > 1:
        errors.append("%s: instance %s has different virtual_ipaddresses on its members: %s. Fix: define the VIPs once "
                      "for the whole instance." % (", ".join(members), name,
                                                   "; ".join("%s=%s" % (h, list(v)) for h, v in sorted(vip_sets.items()))))
    prios = {}
    for host in members:
        prio = host_priority(per_host[host], host)
        if is_int(prio):
            prios[host] = prio
    by_prio = {}
    for host, prio in prios.items():
        by_prio.setdefault(prio, []).append(host)
    for prio, hosts in sorted(by_prio.items()):
        if len(hosts) > 1:
            errors.append("%s: instance %s gives the same priority %d to %s; the master would then be chosen by IP "
                          "address. Fix: give each host of the instance its own priority (e.g. 100, 90, 80)."
                          % (", ".join(sorted(hosts)), name, prio, " and ".join(sorted(hosts))))
    masters = [h for h in members if per_host[h].get("state") == "MASTER"]
    if len(masters) > 1:
        errors.append("%s: instance %s has state MASTER on %s. Fix: set state MASTER on one host at most "
                      "(or leave state: auto)." % (", ".join(masters), name, " and ".join(masters)))
    if len(prios) < 2:
        return
    ranked = sorted(prios, key=lambda h: -prios[h])
    top, second = ranked[0], ranked[1]
    weights = _instance_weights(per_host[top], scripts_by_host.get(top, {}))
    backup_weights = [w for _script, w in _instance_weights(per_host[second], scripts_by_host.get(second, {}))]
    backup_eff = _effective(prios[second], backup_weights)
    if per_host[top].get("nopreempt"):
        for script, weight in weights:
            if weight != 0:
                errors.append("%s: instance %s has nopreempt, so no backup takes the VIP from a master whose priority "
                              "merely drops: check %s (weight %d) can never move it. Fix: give the checks of a "
                              "nopreempt instance weight 0, which puts the master into FAULT."
                              % (", ".join(members), name, script, weight))
        return
    for idx, (script, weight) in enumerate(weights):
        if weight == 0:
            continue
        values = [w for _script, w in weights]
        failed_eff = _effective(prios[top], values, failing=idx)
        if failed_eff >= backup_eff:
            healthy_eff = _effective(prios[top], values)
            if weight < 0:
                fix = "set its weight to %d or lower, or 0 to enter FAULT on failure" % (backup_eff - healthy_eff - 1)
            else:
                fix = "set its weight to %d or higher, or use a negative weight" % (healthy_eff - backup_eff + weight + 1)
            errors.append("%s: instance %s: when check %s (weight %d) fails on %s its priority only drops from %d to %d, "
                          "not below %s's %d, so the VIP never moves. Fix: %s."
                          % (top, name, script, weight, top, healthy_eff, failed_eff, second, backup_eff, fix))


def refuse_empty_conf_d(plans):
    """The rules that read the plans of an inventory the preflight accepted: a host whose plan puts nothing in
    conf.d (plan "conf_d") is refused, as keepalived -t refuses an include that matches no file ("Config files
    missing") and the host would fail after a green preflight."""
    errors = []
    for host in sorted(plans):
        if not plans[host]["conf_d"]:
            err(errors, host, "keepalived_instances", "gives this host no instance (it is in no instance's priorities) "
                "and it has no keepalived_virtual_servers or keepalived_extra_config either: keepalived refuses a "
                "configuration with nothing in conf.d", "add %s to the priorities of an instance, or leave it out of "
                "the play" % host)
    return errors
