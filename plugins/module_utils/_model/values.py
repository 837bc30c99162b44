# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory's values: defaults of every item, their parsing and the small helpers every rule uses."""

from __future__ import annotations

import difflib

import ipaddress
import re

from ansible.module_utils.parsing import convert_bool

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
    "track_files": [],
    "track_processes": [],
    "nopreempt": False,
    "preempt_delay": None,
    "down_timer_adverts": None,
    "garp_master_delay": None,
    "garp_master_repeat": None,
    "garp_master_refresh": None,
    "notify_master": None,
    "notify_backup": None,
    "notify_fault": None,
    "notify_stop": None,
    "notify": None,
    "extra_options": [],
    "virtual_ipaddress_excluded": [],
    "virtual_routes": [],
    "virtual_rules": [],
    "use_vmac": False,
    "vmac_xmit_base": False,
    "unicast_ttl": None,
    "accept": None,
    "dont_track_primary": False,
    "notify_master_rx_lower_pri": None,
    "smtp_alert": False,
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
    "confirm_interval": None,
}

# Defaults of keepalived_scripts[].remediate.
REMEDIATE_DEFAULTS = {
    "unit": None,
    "command": None,
    "max": 3,
    "window": 3600,
    "settle": 2,
}

# The check's own hard timeout is this share of keepalived's script timeout,
# so the check always reports before keepalived kills it.
CHECK_TIMEOUT_SHARE = 0.8

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
IFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
UNSAFE_ARG_RE = re.compile(r"[\s\"'\\{}#!]")


def listify(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
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
    if iface.version == 6 and label is not None:
        raise ValueError("%r: an IPv6 address takes no label (keepalived drops it); remove label" % text)
    if iface.version == 6 and scope not in (None, "global"):
        raise ValueError("%r: an IPv6 address takes its scope from the address itself (keepalived drops scope %s); "
                         "remove scope" % (text, scope))
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


def track_items(value, kind):
    """Normalise track_scripts / track_interfaces entries to dicts {name, weight}."""
    items = []
    for entry in listify(value):
        if isinstance(entry, str):
            items.append({"name": entry, "weight": None})
        elif isinstance(entry, dict) and entry.get("name"):
            items.append({"name": str(entry["name"]), "weight": entry.get("weight")})
        else:
            raise ValueError("%s entries are names or {name, weight} dicts, got %r" % (kind, entry))
    return items


def script_timeout(script):
    return script["timeout"] if script.get("timeout") is not None else script["interval"]


def boolean(value):
    """True or False for a value Ansible's bool type accepts (true, 'yes', 1, ...); None for anything else."""
    if value is None or isinstance(value, (dict, list, float)):
        return None
    try:
        return convert_bool.boolean(value, strict=True)
    except TypeError:
        return None


def number(value):
    """A float for a number or a numeric string (-e var=5); None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        return float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        return None


def num(value):
    """Render a number the way keepalived reads it (no trailing .0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def nearest(word, choices):
    """The choice closest to a mistyped ``word`` (for "did you mean ...?"), or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


def err(errors, host, var, problem, fix):
    errors.append("%s: %s %s. Fix: %s." % (host, var, problem, fix))


def instances_of(view):
    return [i for i in (view.get("instances") or []) if isinstance(i, dict)]


def named_items(errors, host, variable, items, defaults, hint, example):
    """Yield (variable path, item with defaults, name) for each well-formed, well-named item."""
    for idx, raw in enumerate(items or []):
        var = "%s[%d]" % (variable, idx)
        if not isinstance(raw, dict):
            err(errors, host, var, "is not a dict", hint)
            continue
        item = with_defaults(raw, defaults)
        name = item.get("name")
        if not name or not NAME_RE.match(str(name)):
            err(errors, host, var + ".name", "is %r, not a valid name" % (name,),
                "use letters, digits, '_', '.', '-' (e.g. %s)" % example)
            continue
        yield "%s (%s)" % (var, name), item, name


def host_priority(inst, host):
    prios = inst.get("priorities")
    if isinstance(prios, dict) and prios:
        return prios.get(host)
    return inst.get("priority")


def src_ip(inst, view):
    """This host's own VRRP source address for the instance, or None."""
    if inst.get("unicast_src_ip"):
        return str(inst["unicast_src_ip"])
    addrs = (view.get("addresses") or {}).get(inst.get("interface")) or []
    want = 6 if any(vip_version(v) == 6 for v in listify(inst.get("virtual_ipaddresses"))) else 4
    vip_ips = set()
    for vip in listify(inst.get("virtual_ipaddresses")):
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


def vip_version(vip):
    try:
        return parse_vip(vip, "x")["version"]
    except ValueError:
        return 4


def own_addresses(view):
    own = set()
    for addrs in (view.get("addresses") or {}).values():
        own.update(str(a) for a in addrs)
    return own
