# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory model of a keepalived cluster: defaults, preflight checks, per-host plan.

Pure functions only (no Ansible imports), so that the rules an operator meets in
the preflight are unit-tested as tables. The role hands every host's view of its
variables to :func:`preflight` once for the whole play, and each host's own view
to :func:`host_plan` to get the resolved values its templates render.

A host view is a plain dict::

    {
      "router_id": "KA1",
      "instances": [...],            # keepalived_instances
      "scripts": [...],              # keepalived_scripts
      "script_user": "keepalived_script",
      "check_command": "/usr/local/bin/keepalived-check",
      "addresses": {"eth0": ["192.168.157.11", ...]},   # from facts
    }
"""

from __future__ import annotations

import ipaddress
import re

# Defaults of the optional fields of one keepalived_instances item. The role's
# meta/argument_specs.yml documents the same values (a unit test keeps them equal).
INSTANCE_DEFAULTS = {
    "state": "auto",
    "advert_int": 1,
    "vrrp_version": 2,
    "auth_type": "PASS",
    "auth_pass": None,
    "unicast": True,
    "unicast_src_ip": None,
    "unicast_peers": None,
    "track_scripts": [],
    "track_interfaces": [],
    "nopreempt": False,
    "preempt_delay": None,
    "garp_master_delay": None,
    "garp_master_repeat": None,
    "garp_master_refresh": None,
    "notify_master": None,
    "notify_backup": None,
    "notify_fault": None,
    "notify_stop": None,
    "notify": None,
    "extra_options": [],
}

# Defaults of the optional fields of one keepalived_scripts item.
SCRIPT_DEFAULTS = {
    "check": None,
    "script": None,
    "args": {},
    "interval": 1,
    "timeout": None,
    "weight": 0,
    "fall": 1,
    "rise": 1,
    "user": None,
    "init_fail": False,
    "remediate": None,
    "runner": False,
}

# Defaults of keepalived_scripts[].remediate.
REMEDIATE_DEFAULTS = {
    "unit": None,
    "command": None,
    "max": 3,
    "window": 3600,
    "settle": 2,
}

# Subcommands of the keepalived-check program installed by the healthcheck role.
CHECK_TYPES = (
    "file", "process", "systemd", "http", "tcp", "mysql",
    "mysql-replication", "haproxy", "apiserver", "all", "any",
)

# The check's own hard timeout is this share of keepalived's script timeout,
# so the check always reports before keepalived kills it.
CHECK_TIMEOUT_SHARE = 0.8

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
IFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
UNSAFE_ARG_RE = re.compile(r"[\s\"'\\{}#!]")


def _listify(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def with_defaults(item, defaults):
    """Return a copy of ``item`` with every missing optional field filled in."""
    merged = dict(defaults)
    merged.update({k: v for k, v in (item or {}).items() if v is not None or k not in defaults})
    return merged


def addresses_from_facts(facts):
    """Map interface name -> list of its addresses (IPv4 first, primary first)."""
    result = {}
    facts = facts or {}
    for iface in facts.get("interfaces", []) or []:
        data = facts.get(str(iface).replace("-", "_").replace(":", "_").replace(".", "_")) or {}
        addrs = []
        ipv4 = data.get("ipv4") or {}
        if isinstance(ipv4, dict) and ipv4.get("address"):
            addrs.append(ipv4["address"])
        for sec in data.get("ipv4_secondaries") or []:
            if sec.get("address"):
                addrs.append(sec["address"])
        for v6 in data.get("ipv6") or []:
            if v6.get("address") and v6.get("scope") != "link":
                addrs.append(v6["address"])
        result[iface] = addrs
    return result


def parse_vip(vip, default_dev):
    """Normalise one virtual_ipaddresses entry; raise ValueError with the reason."""
    if isinstance(vip, str):
        vip = {"address": vip}
    if not isinstance(vip, dict) or not vip.get("address"):
        raise ValueError("each entry needs an address such as 192.168.1.100/24")
    unknown = set(vip) - {"address", "dev", "label", "scope", "brd"}
    if unknown:
        raise ValueError("unknown field(s) %s; use address, dev, label, scope, brd" % ", ".join(sorted(unknown)))
    text = str(vip["address"]).strip()
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError("%r is not an address with an optional /prefix" % text) from None
    if "/" in text:
        prefix = text.split("/", 1)[1]
        if not prefix.isdigit():
            raise ValueError("%r: write the prefix as a length such as /24" % text)
    if iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_unspecified:
        raise ValueError("%r cannot be a virtual address" % text)
    if iface.version == 4 and "/" in text and iface.network.prefixlen < 32 and iface.ip in (
            iface.network.network_address, iface.network.broadcast_address):
        raise ValueError("%r is the network or broadcast address of its subnet" % text)
    dev = vip.get("dev") or default_dev
    if not IFACE_RE.match(str(dev)):
        raise ValueError("dev %r is not an interface name" % dev)
    label = vip.get("label")
    if label is not None:
        if not str(label).startswith(str(dev) + ":") or len(str(label)) > 15:
            raise ValueError("label %r must start with '%s:' and be at most 15 characters" % (label, dev))
    scope = vip.get("scope")
    if scope is not None and scope not in ("global", "site", "link", "host", "nowhere"):
        raise ValueError("scope %r is not one of global, site, link, host, nowhere" % scope)
    return {
        "address": text,
        "ip": str(iface.ip),
        "version": iface.version,
        "dev": vip.get("dev"),
        "label": label,
        "scope": scope,
        "brd": vip.get("brd"),
    }


def vip_line(vip):
    """The virtual_ipaddress line keepalived reads for one normalised VIP."""
    parts = [vip["address"]]
    if vip.get("brd"):
        parts += ["brd", str(vip["brd"])]
    if vip.get("dev"):
        parts += ["dev", str(vip["dev"])]
    if vip.get("scope"):
        parts += ["scope", str(vip["scope"])]
    if vip.get("label"):
        parts += ["label", str(vip["label"])]
    return " ".join(parts)


def _track_items(value, kind):
    """Normalise track_scripts / track_interfaces entries to dicts {name, weight}."""
    items = []
    for entry in _listify(value):
        if isinstance(entry, str):
            items.append({"name": entry, "weight": None})
        elif isinstance(entry, dict) and entry.get("name"):
            items.append({"name": str(entry["name"]), "weight": entry.get("weight")})
        else:
            raise ValueError("%s entries are names or {name, weight} dicts, got %r" % (kind, entry))
    return items


def check_args(args):
    """Render a check's args dict as command-line options (``--max-lag 30``)."""
    out = []
    for key in sorted(args or {}):
        value = args[key]
        opt = "--" + str(key).replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(opt)
            continue
        for one in _listify(value):
            out += [opt, str(one)]
    return out


def runner_checks(scripts):
    """The checks of ``scripts`` with runner: true, as ``keepalived-check runner`` reads them."""
    checks = []
    for raw in scripts or []:
        scr = with_defaults(raw, SCRIPT_DEFAULTS)
        if not scr.get("runner"):
            continue
        interval = float(scr["interval"] or 1)
        timeout = float(scr["timeout"]) if scr.get("timeout") else max(interval, 0.5)
        checks.append({
            "name": scr["name"],
            "argv": [scr["check"]] + check_args(scr.get("args")),
            "interval": interval,
            "timeout": timeout,
            "fall": int(scr["fall"] or 1),
            "rise": int(scr["rise"] or 1),
        })
    return checks


def script_command(script, check_command):
    """The command line keepalived runs for one normalised keepalived_scripts item."""
    if script.get("script"):
        return str(script["script"])
    timeout = script_timeout(script)
    check_timeout = round(max(0.1, timeout * CHECK_TIMEOUT_SHARE), 2)
    words = [check_command, "--timeout", _num(check_timeout)]
    if script.get("remediate"):
        rem = with_defaults(script["remediate"], REMEDIATE_DEFAULTS)
        if rem.get("unit"):
            words += ["--remediate-unit", str(rem["unit"])]
        else:
            words += ["--remediate-command", "'%s'" % rem["command"]]
        words += ["--remediate-max", _num(rem["max"]), "--remediate-window", _num(rem["window"]),
                  "--remediate-settle", _num(rem["settle"])]
    words += [script["check"]] + check_args(script.get("args"))
    return " ".join(words)


def script_timeout(script):
    return script["timeout"] if script.get("timeout") is not None else script["interval"]


def _num(value):
    """Render a number the way keepalived reads it (no trailing .0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _err(errors, host, var, problem, fix):
    errors.append("%s: %s %s. Fix: %s." % (host, var, problem, fix))


def _instances(view):
    return [i for i in (view.get("instances") or []) if isinstance(i, dict)]


def members_of(views, name):
    """Hosts that run the instance ``name``: keys of its priorities map, else every host defining it."""
    members = []
    for host, view in views.items():
        for inst in _instances(view):
            if inst.get("name") != name:
                continue
            prios = inst.get("priorities")
            if isinstance(prios, dict) and prios:
                if host in prios:
                    members.append(host)
            else:
                members.append(host)
    return sorted(set(members))


def host_priority(inst, host):
    prios = inst.get("priorities")
    if isinstance(prios, dict) and prios:
        return prios.get(host)
    return inst.get("priority")


def _named_items(errors, host, variable, items, defaults, hint, example):
    """Yield (variable path, item with defaults, name) for each well-formed, well-named item."""
    for idx, raw in enumerate(items or []):
        var = "%s[%d]" % (variable, idx)
        if not isinstance(raw, dict):
            _err(errors, host, var, "is not a dict", hint)
            continue
        item = with_defaults(raw, defaults)
        name = item.get("name")
        if not name or not NAME_RE.match(str(name)):
            _err(errors, host, var + ".name", "is %r, not a valid name" % (name,),
                 "use letters, digits, '_', '.', '-' (e.g. %s)" % example)
            continue
        yield "%s (%s)" % (var, name), item, name


def _validate_scripts(errors, host, view):
    scripts = {}
    for var, scr, name in _named_items(errors, host, "keepalived_scripts", view.get("scripts"), SCRIPT_DEFAULTS,
                                       "give each check a name plus check/args or script", "check_web"):
        if name in scripts:
            _err(errors, host, var, "is defined twice", "give each check a unique name")
        scripts[name] = scr
        if bool(scr.get("check")) == bool(scr.get("script")):
            _err(errors, host, var, "must set exactly one of 'check' (a keepalived-check type) or 'script' (a command)",
                 "e.g. check: file with args: {path: /etc/keepalived/down}")
        if scr.get("check") and scr["check"] not in CHECK_TYPES:
            _err(errors, host, var + ".check", "is %r, an unknown check type" % scr["check"],
                 "use one of " + ", ".join(CHECK_TYPES))
        if scr.get("check"):
            args = scr.get("args") or {}
            if not isinstance(args, dict):
                _err(errors, host, var + ".args", "is not a dict", "write args as option: value, e.g. {path: /etc/keepalived/down}")
            else:
                for key, value in args.items():
                    if not re.match(r"^[a-z][a-z0-9_-]*$", str(key)):
                        _err(errors, host, var + ".args", "has an invalid option name %r" % key,
                             "use lower-case option names such as max_lag")
                    for one in _listify(value):
                        if isinstance(one, (dict, list)) or UNSAFE_ARG_RE.search(str(one)):
                            _err(errors, host, "%s.args.%s" % (var, key),
                                 "value %r contains spaces, quotes or characters keepalived's script line cannot carry" % (one,),
                                 "use a value without them (paths with spaces: use a symlink)")
        if scr.get("remediate") is not None:
            _validate_remediate(errors, host, var + ".remediate", scr)
        if scr.get("script") and '"' in str(scr["script"]):
            _err(errors, host, var + ".script", "contains a double quote", "use single quotes inside the command")
        weight = scr.get("weight")
        if not _is_int(weight) or not -253 <= weight <= 253:
            _err(errors, host, var + ".weight", "is %r, outside -253..253" % (weight,),
                 "use a negative weight to lower the priority on failure, positive to raise it on success, 0 for FAULT")
        for field in ("interval", "timeout"):
            value = scr.get(field)
            if value is not None and (not _is_number(value) or value <= 0):
                _err(errors, host, "%s.%s" % (var, field), "is %r, not a positive number of seconds" % (value,),
                     "set e.g. %s: 2" % field)
        for field in ("fall", "rise"):
            value = scr.get(field)
            if not _is_int(value) or value < 1:
                _err(errors, host, "%s.%s" % (var, field), "is %r, not a whole number >= 1" % (value,),
                     "set e.g. %s: 2" % field)
        if not isinstance(scr.get("runner"), bool):
            _err(errors, host, var + ".runner", "is %r, not true or false" % (scr.get("runner"),), "write runner: true")
        elif scr["runner"]:
            for field, why in (("script", "the runner runs keepalived-check checks in-process, not commands"),
                               ("remediate", "the runner does not restart units"),
                               ("user", "the runner runs every check as the healthcheck role's user"),
                               ("init_fail", "a runner check always reports failed until its first result")):
                if scr.get(field):
                    _err(errors, host, "%s.%s" % (var, field), "is set on a check with runner: true (%s)" % why,
                         "remove %s, or set runner: false to run it as a vrrp_script" % field)
        user = scr.get("user")
        if user is not None and not re.match(r"^[a-z_][a-z0-9_-]*\$?$", str(user)):
            _err(errors, host, var + ".user", "is %r, not a user name" % (user,), "name an existing unprivileged user")
    return scripts


def _validate_remediate(errors, host, var, scr):
    rem = scr["remediate"]
    if not isinstance(rem, dict):
        _err(errors, host, var, "is not a dict", "write e.g. remediate: {unit: nginx.service}")
        return
    rem = with_defaults(rem, REMEDIATE_DEFAULTS)
    if not scr.get("check"):
        _err(errors, host, var, "is set on a check with 'script'", "remediation is done by keepalived-check: use 'check'")
    if bool(rem.get("unit")) == bool(rem.get("command")):
        _err(errors, host, var, "must set exactly one of 'unit' (a systemd unit to restart) or 'command'",
             "e.g. remediate: {unit: nginx.service}")
    if rem.get("unit") and not re.match(r"^[A-Za-z0-9@_.:-]+$", str(rem["unit"])):
        _err(errors, host, var + ".unit", "is %r, not a unit name" % (rem["unit"],), "name a unit such as nginx.service")
    if rem.get("command") and re.search(r"['\"\\]", str(rem["command"])):
        _err(errors, host, var + ".command", "contains quotes or backslashes", "wrap the command in a script file")
    for field, low in (("max", 1), ("window", 1), ("settle", 0)):
        value = rem.get(field)
        if not _is_number(value) or value < low:
            _err(errors, host, "%s.%s" % (var, field), "is %r" % (value,), "use a number >= %d" % low)
    settle = rem.get("settle")
    if _is_number(settle):
        budget = script_timeout(scr) * CHECK_TIMEOUT_SHARE if _is_number(script_timeout(scr)) else 0
        if budget <= settle + 1:
            _err(errors, host, var, "needs time to restart, wait %s s and check again, but the check may only run "
                 "%.1f s (%d%% of the script timeout)" % (_num(settle), budget, CHECK_TIMEOUT_SHARE * 100),
                 "set the script's timeout to at least %s" % _num(int((settle + 2) / CHECK_TIMEOUT_SHARE) + 1))


def _validate_instance_fields(errors, host, var, inst, view, scripts):
    name = inst["name"]
    if not inst.get("interface") or not IFACE_RE.match(str(inst["interface"])):
        _err(errors, host, var + ".interface", "is %r, not an interface name" % (inst.get("interface"),),
             "set the interface that carries VRRP, e.g. eth0")
    vrid = inst.get("virtual_router_id")
    if not _is_int(vrid) or not 1 <= vrid <= 255:
        _err(errors, host, var + ".virtual_router_id", "is %r, outside 1..255" % (vrid,),
             "pick a number from 1 to 255 that no other VRRP router on this network uses")
    prio = host_priority(inst, host)
    if prio is None:
        _err(errors, host, var, "has no priority for this host",
             "set priorities: {%s: 100, ...} on the instance (or priority in this host's vars)" % host)
    elif not _is_int(prio) or not 1 <= prio <= 254:
        _err(errors, host, var + ".priority", "is %r for this host, outside 1..254" % (prio,),
             "use 1..254 (255 is reserved for the address owner)")
    state = inst.get("state")
    if state not in ("auto", "MASTER", "BACKUP"):
        _err(errors, host, var + ".state", "is %r" % (state,), "use auto, MASTER or BACKUP")
    version = inst.get("vrrp_version")
    if version not in (2, 3):
        _err(errors, host, var + ".vrrp_version", "is %r" % (version,), "use 2 or 3")
    adv = inst.get("advert_int")
    if not _is_number(adv) or adv <= 0:
        _err(errors, host, var + ".advert_int", "is %r, not a positive number of seconds" % (adv,), "set e.g. advert_int: 1")
    elif version == 2 and (adv < 1 or float(adv) != int(adv) or adv > 255):
        _err(errors, host, var + ".advert_int", "is %r, but VRRPv2 only carries whole seconds 1..255" % (adv,),
             "use a whole number of seconds, or vrrp_version: 3 for sub-second adverts")
    elif version == 3 and not 0.01 <= adv <= 40.95:
        _err(errors, host, var + ".advert_int", "is %r, outside VRRPv3's 0.01..40.95 s" % (adv,), "use a value in that range")
    if inst.get("auth_pass") is not None:
        pw = str(inst["auth_pass"])
        if len(pw) > 8:
            _err(errors, host, var + ".auth_pass", "is %d characters long; VRRP PASS authentication carries at most 8 "
                 "(keepalived would silently truncate it)" % len(pw), "use a password of 1 to 8 characters")
        if not pw or re.search(r"[\s\"'#!]", pw):
            _err(errors, host, var + ".auth_pass", "is empty or contains spaces, quotes, '#' or '!'",
                 "use 1 to 8 plain characters")
        if version == 3:
            _err(errors, host, var + ".auth_pass", "is set, but VRRPv3 has no authentication",
                 "remove auth_pass or use vrrp_version: 2")
        if inst.get("auth_type") not in ("PASS", "AH"):
            _err(errors, host, var + ".auth_type", "is %r" % (inst.get("auth_type"),), "use PASS or AH")
    if inst.get("nopreempt") and state == "MASTER":
        _err(errors, host, var + ".nopreempt", "is set on an instance with state MASTER; keepalived ignores nopreempt "
             "unless the initial state is BACKUP", "set state: BACKUP (or auto, which renders BACKUP with nopreempt)")
    if inst.get("preempt_delay") is not None:
        pd = inst["preempt_delay"]
        if not _is_number(pd) or not 0 <= pd <= 1000:
            _err(errors, host, var + ".preempt_delay", "is %r, outside 0..1000 s" % (pd,), "use a number of seconds")
        elif state == "MASTER":
            _err(errors, host, var + ".preempt_delay", "is set on an instance with state MASTER, where keepalived "
                 "ignores it", "set state: BACKUP or auto")
    vips = _listify(inst.get("virtual_ipaddresses"))
    if not vips:
        _err(errors, host, var + ".virtual_ipaddresses", "is empty", "list at least one address such as 192.168.1.100/24")
    families = set()
    for vidx, vip in enumerate(vips):
        try:
            parsed = parse_vip(vip, inst.get("interface"))
            families.add(parsed["version"])
        except ValueError as exc:
            _err(errors, host, "%s.virtual_ipaddresses[%d]" % (var, vidx), "is malformed: %s" % exc,
                 "write e.g. '192.168.1.100/24' or {address: 192.168.1.100/24, dev: eth0, label: 'eth0:0'}")
    if len(families) > 1:
        _err(errors, host, var + ".virtual_ipaddresses", "mixes IPv4 and IPv6 addresses",
             "use one instance per address family")
    try:
        tracked = _track_items(inst.get("track_scripts"), "track_scripts")
    except ValueError as exc:
        _err(errors, host, var + ".track_scripts", str(exc), "list script names")
        tracked = []
    for item in tracked:
        if item["name"] not in scripts:
            _err(errors, host, var + ".track_scripts", "names %r, which keepalived_scripts does not define" % item["name"],
                 "define it in keepalived_scripts or remove it from track_scripts")
        weight = item["weight"]
        if weight is not None and (not _is_int(weight) or not -253 <= weight <= 253):
            _err(errors, host, "%s.track_scripts (%s).weight" % (var, item["name"]), "is %r, outside -253..253" % (weight,),
                 "use a whole number from -253 to 253")
    try:
        _track_items(inst.get("track_interfaces"), "track_interfaces")
    except ValueError as exc:
        _err(errors, host, var + ".track_interfaces", str(exc), "list interface names")
    for field in ("unicast_peers", "extra_options"):
        if inst.get(field) is not None and not isinstance(inst[field], list):
            _err(errors, host, "%s.%s" % (var, field), "is not a list", "write it as a YAML list")
    for field in ("unicast_src_ip",):
        if inst.get(field):
            try:
                ipaddress.ip_address(str(inst[field]))
            except ValueError:
                _err(errors, host, "%s.%s" % (var, field), "is %r, not an IP address" % (inst[field],),
                     "set the host's own address on %s" % inst.get("interface"))
    for pidx, peer in enumerate(inst.get("unicast_peers") or []):
        try:
            ipaddress.ip_address(str(peer))
        except ValueError:
            _err(errors, host, "%s.unicast_peers[%d]" % (var, pidx), "is %r, not an IP address" % (peer,),
                 "list the peers' addresses")


def _src_ip(inst, view):
    """This host's own VRRP source address for the instance, or None."""
    if inst.get("unicast_src_ip"):
        return str(inst["unicast_src_ip"])
    addrs = (view.get("addresses") or {}).get(inst.get("interface")) or []
    want = 6 if any(_vip_version(v) == 6 for v in _listify(inst.get("virtual_ipaddresses"))) else 4
    vip_ips = set()
    for vip in _listify(inst.get("virtual_ipaddresses")):
        try:
            vip_ips.add(parse_vip(vip, inst.get("interface"))["ip"])
        except ValueError:
            pass
    for addr in addrs:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            continue
        if ip.version == want and str(ip) not in vip_ips:
            return str(ip)
    return None


def _vip_version(vip):
    try:
        return parse_vip(vip, "x")["version"]
    except ValueError:
        return 4


def _own_addresses(view):
    own = set()
    for addrs in (view.get("addresses") or {}).values():
        own.update(str(a) for a in addrs)
    return own


def _effective(prio, weights, failing=None):
    """Effective priority with every tracked script passing except ``failing`` (an index)."""
    eff = prio
    for idx, weight in enumerate(weights):
        passing = idx != failing
        if weight > 0 and passing:
            eff += weight
        elif weight < 0 and not passing:
            eff += weight
    return eff


def _instance_weights(inst, scripts):
    weights = []
    for item in _track_items(inst.get("track_scripts"), "track_scripts"):
        scr = scripts.get(item["name"])
        if scr is None:
            continue
        weight = item["weight"] if item["weight"] is not None else scr.get("weight")
        weights.append((item["name"], weight if _is_int(weight) else 0))
    return weights


def preflight(views):
    """Check every host's view; return a list of messages (empty when the inventory is good).

    ``views`` maps inventory host name -> host view (see module docstring).
    """
    errors = []
    hosts = sorted(views)
    known = set(hosts)
    router_ids = {}
    scripts_by_host = {}
    insts_by_name = {}
    for host in hosts:
        view = views[host]
        if not isinstance(view, dict):
            errors.append("%s: has no keepalived settings in this run (unreachable, or failed before the preflight). "
                          "Fix: bring the host back, or leave it out of the play together with every instance it is a "
                          "member of." % host)
            continue
        rid = view.get("router_id")
        if not rid or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", str(rid)):
            _err(errors, host, "keepalived_router_id", "is %r" % (rid,), "use a short name such as KA1")
        else:
            router_ids.setdefault(str(rid), []).append(host)
        scripts_by_host[host] = _validate_scripts(errors, host, view)
        raw_instances = view.get("instances")
        if raw_instances is not None and not isinstance(raw_instances, list):
            _err(errors, host, "keepalived_instances", "is not a list", "write it as a list of instances")
            continue
        seen = {}
        vrids = {}
        for var, inst, name in _named_items(errors, host, "keepalived_instances", raw_instances, INSTANCE_DEFAULTS,
                                            "give each instance name, interface, virtual_router_id, ...", "VI_1"):
            prios = inst.get("priorities")
            if isinstance(prios, dict) and prios and host not in prios:
                continue  # this host is not a member of the instance
            if isinstance(prios, dict) and prios:
                outside = sorted(set(map(str, prios)) - known)
                if outside and inst.get("unicast") and inst.get("unicast_peers") is None:
                    _err(errors, host, var + ".priorities", "names %s, not in this play (a --limit?); their addresses "
                         "are needed for unicast_peer" % ", ".join(outside),
                         "run the play on every member of the instance, or set unicast_peers explicitly")
            if name in seen:
                _err(errors, host, var, "is defined twice", "give each instance a unique name")
                continue
            seen[name] = inst
            _validate_instance_fields(errors, host, var, inst, view, scripts_by_host[host])
            key = (inst.get("interface"), inst.get("virtual_router_id"), 6 if any(
                _vip_version(v) == 6 for v in _listify(inst.get("virtual_ipaddresses"))) else 4)
            if key in vrids:
                _err(errors, host, var + ".virtual_router_id",
                     "%s is also used by instance %s on %s" % (key[1], vrids[key], key[0]),
                     "give every instance on one interface its own virtual_router_id")
            vrids[key] = name
            insts_by_name.setdefault(name, {})[host] = inst
            if inst.get("unicast"):
                own = _own_addresses(view)
                src = _src_ip(inst, view)
                if src is None:
                    _err(errors, host, var + ".unicast_src_ip",
                         "cannot be found: the host has no address on %s in its facts" % inst.get("interface"),
                         "gather facts (network subset) or set unicast_src_ip")
                else:
                    own.add(src)
                for peer in inst.get("unicast_peers") or []:
                    if str(peer) in own:
                        _err(errors, host, var + ".unicast_peers", "contains %s, an address of this host itself" % peer,
                             "list only the other hosts' addresses (or leave it out to use the other members)")
    for rid, owners in sorted(router_ids.items()):
        if len(owners) > 1:
            errors.append("%s: keepalived_router_id %r is shared by %s. Fix: give every host its own router_id "
                          "(e.g. KA1, KA2)." % (", ".join(owners), rid, ", ".join(owners)))
    for name, per_host in sorted(insts_by_name.items()):
        _validate_cluster_instance(errors, name, per_host, scripts_by_host, views)
    return errors


def _validate_cluster_instance(errors, name, per_host, scripts_by_host, views):
    """Rules that span the members of one instance."""
    members = sorted(per_host)
    first = per_host[members[0]]
    for field in ("virtual_router_id", "advert_int", "vrrp_version", "auth_type", "auth_pass", "unicast"):
        values = {h: per_host[h].get(field) for h in members}
        if len({repr(v) for v in values.values()}) > 1:
            shown = "(hidden)" if field == "auth_pass" else ", ".join("%s=%r" % hv for hv in sorted(values.items()))
            errors.append("%s: instance %s has different %s on its members: %s. Fix: set one %s for the whole instance."
                          % (", ".join(members), name, field, shown, field))
    vip_sets = {}
    for host in members:
        ips = []
        for vip in _listify(per_host[host].get("virtual_ipaddresses")):
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
        if _is_int(prio):
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


def host_plan(views, host):
    """Resolved values for one host's templates: router_id, scripts and instances."""
    view = views[host]
    scripts_all = {}
    for raw in view.get("scripts") or []:
        scr = with_defaults(raw, SCRIPT_DEFAULTS)
        scripts_all[scr["name"]] = scr
    instances = []
    used = []
    for raw in view.get("instances") or []:
        inst = with_defaults(raw, INSTANCE_DEFAULTS)
        prios = inst.get("priorities")
        if isinstance(prios, dict) and prios and host not in prios:
            continue
        name = inst["name"]
        members = members_of(views, name)
        prio = host_priority(inst, host)
        state = inst["state"]
        if state == "auto":
            if inst.get("nopreempt") or inst.get("preempt_delay") is not None:
                state = "BACKUP"
            else:
                member_prios = [host_priority(_instance_of(views[m], name), m) for m in members]
                state = "MASTER" if prio == max(p for p in member_prios if p is not None) else "BACKUP"
        src = None
        peers = []
        if inst.get("unicast"):
            src = _src_ip(inst, view)
            if inst.get("unicast_peers") is not None:
                peers = [str(p) for p in inst["unicast_peers"]]
            else:
                for other in members:
                    if other == host:
                        continue
                    other_inst = _instance_of(views[other], name)
                    peer = _src_ip(with_defaults(other_inst, INSTANCE_DEFAULTS), views[other])
                    if peer:
                        peers.append(peer)
        tracked = []
        track_files = []
        for item in _track_items(inst.get("track_scripts"), "track_scripts"):
            if (scripts_all.get(item["name"]) or {}).get("runner"):
                track_files.append(item)
            else:
                tracked.append(item)
            if item["name"] not in used:
                used.append(item["name"])
        instances.append({
            "name": name,
            "state": state,
            "interface": inst["interface"],
            "virtual_router_id": inst["virtual_router_id"],
            "priority": prio,
            "advert_int": _num(inst["advert_int"]),
            "vrrp_version": inst["vrrp_version"],
            "auth_type": inst["auth_type"],
            "auth_pass": None if inst.get("auth_pass") is None else str(inst["auth_pass"]),
            "virtual_ipaddresses": [vip_line(parse_vip(v, inst["interface"]))
                                    for v in _listify(inst.get("virtual_ipaddresses"))],
            "unicast_src_ip": src if peers else None,
            "unicast_peers": peers,
            "track_scripts": tracked,
            "track_files": track_files,
            "track_interfaces": _track_items(inst.get("track_interfaces"), "track_interfaces"),
            "nopreempt": bool(inst.get("nopreempt")),
            "preempt_delay": None if inst.get("preempt_delay") is None else _num(inst["preempt_delay"]),
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
        })
    scripts = []
    track_files = []
    for name in used:
        scr = scripts_all[name]
        if scr.get("runner"):
            track_files.append({"name": name, "weight": scr["weight"]})
            continue
        scripts.append({
            "name": name,
            "command": script_command(scr, view.get("check_command") or "keepalived-check"),
            "interval": _num(scr["interval"]),
            "timeout": _num(script_timeout(scr)),
            "weight": scr["weight"],
            "fall": scr["fall"],
            "rise": scr["rise"],
            "user": scr.get("user"),
            "init_fail": bool(scr.get("init_fail")),
        })
    return {
        "router_id": view.get("router_id"),
        "script_user": view.get("script_user"),
        "instances": instances,
        "scripts": scripts,
        "track_files": track_files,
    }


def _instance_of(view, name):
    for inst in _instances(view):
        if inst.get("name") == name:
            return inst
    return {}
