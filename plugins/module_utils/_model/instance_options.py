# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The optional keepalived settings of one vrrp_instance: their rules, and the lines they render.

Excluded addresses, virtual routes and rules, VMAC, unicast TTL, accept, dont_track_primary,
notify_master_rx_lower_pri and smtp_alert. Each rule answers with (variable suffix, problem, fix),
which the preflight turns into a message naming the host; the plan renders the same values.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    IFACE_RE, is_int, listify, parse_vip, vip_line,
)

ROUTE_TYPES = ("blackhole", "unreachable", "prohibit", "throw")
ROUTE_FIELDS = ("to", "via", "dev", "src", "scope", "table", "metric", "type")
RULE_FIELDS = ("from", "to", "table", "priority", "iif", "oif", "fwmark")
SCOPES = ("global", "site", "link", "host", "nowhere")
TABLE_RE = re.compile(r"^([0-9]{1,10}|[A-Za-z_][A-Za-z0-9_-]{0,31})$")
SAFE_COMMAND_RE = re.compile(r"^[^\"\\\n{}]+$")


def _network(text, what):
    """A network (or 'default') for a route or rule; raise ValueError."""
    if text == "default":
        return None
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        raise ValueError("%s %r is not an address or network such as 10.1.0.0/16" % (what, text)) from None


def _address(text, what):
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        raise ValueError("%s %r is not an IP address" % (what, text)) from None


def _table(value):
    if not TABLE_RE.match(str(value)) or (str(value).isdigit() and not 1 <= int(value) <= 4294967295):
        raise ValueError("table %r is not a routing table number or name" % (value,))
    return str(value)


def route_line(route, default_dev=None):
    """The virtual_routes line of one route dict; raise ValueError with the reason.

    keepalived tracks a route by its interface: a gateway route without dev goes on ``default_dev``
    (the instance's interface), and a route of a type (blackhole, ...), which has none, is not tracked.
    """
    if not isinstance(route, dict):
        raise ValueError("is not a dict such as {to: 10.1.0.0/16, via: 10.0.0.1}")
    unknown = sorted(set(route) - set(ROUTE_FIELDS))
    if unknown:
        raise ValueError("has unknown field(s) %s; use %s" % (", ".join(unknown), ", ".join(ROUTE_FIELDS)))
    if not route.get("to"):
        raise ValueError("has no 'to' (the destination, e.g. 10.1.0.0/16 or default)")
    kind = route.get("type")
    if kind is not None and kind not in ROUTE_TYPES:
        raise ValueError("type %r is not one of %s" % (kind, ", ".join(ROUTE_TYPES)))
    dest = _network(route["to"], "to")
    families = {dest.version} if dest else set()
    words = [kind] if kind else []
    words.append(str(route["to"]))
    if route.get("src"):
        families.add(_address(route["src"], "src").version)
        words += ["src", str(route["src"])]
    if route.get("via"):
        if kind:
            raise ValueError("a %s route has no gateway; remove via" % kind)
        families.add(_address(route["via"], "via").version)
        words += ["via", str(route["via"])]
    dev = route.get("dev") or (default_dev if route.get("via") else None)
    if dev:
        if not IFACE_RE.match(str(dev)):
            raise ValueError("dev %r is not an interface name" % (dev,))
        words += ["dev", str(dev)]
    elif not kind:
        raise ValueError("needs via (a gateway) or dev (an interface), or a type such as blackhole")
    if route.get("scope") is not None:
        if route["scope"] not in SCOPES:
            raise ValueError("scope %r is not one of %s" % (route["scope"], ", ".join(SCOPES)))
        words += ["scope", str(route["scope"])]
    if route.get("table") is not None:
        words += ["table", _table(route["table"])]
    if route.get("metric") is not None:
        if not is_int(route["metric"]) or not 0 <= route["metric"] <= 4294967295:
            raise ValueError("metric %r is not a whole number >= 0" % (route["metric"],))
        words += ["metric", str(route["metric"])]
    if len(families) > 1:
        raise ValueError("mixes IPv4 and IPv6 addresses")
    if not dev:
        words.append("no_track")
    return " ".join(words)


def rule_line(rule):
    """The virtual_rules line of one rule dict; raise ValueError with the reason."""
    if not isinstance(rule, dict):
        raise ValueError("is not a dict such as {from: 10.0.0.100, table: 100, priority: 100}")
    unknown = sorted(set(rule) - set(RULE_FIELDS))
    if unknown:
        raise ValueError("has unknown field(s) %s; use %s" % (", ".join(unknown), ", ".join(RULE_FIELDS)))
    if rule.get("table") is None:
        raise ValueError("has no table (the routing table it sends matching packets to)")
    if not any(rule.get(field) is not None for field in ("from", "to", "iif", "oif", "fwmark")):
        raise ValueError("matches nothing; give from, to, iif, oif or fwmark")
    words, families = [], set()
    for field in ("from", "to"):
        if rule.get(field) is not None:
            net = _network(rule[field], field)
            if net is None:
                raise ValueError("%s cannot be 'default'; leave it out to match every address" % field)
            families.add(net.version)
            words += [field, str(rule[field])]
    for field in ("iif", "oif"):
        if rule.get(field) is not None:
            if not IFACE_RE.match(str(rule[field])):
                raise ValueError("%s %r is not an interface name" % (field, rule[field]))
            words += [field, str(rule[field])]
    if rule.get("fwmark") is not None:
        if not is_int(rule["fwmark"]) or not 1 <= rule["fwmark"] <= 4294967295:
            raise ValueError("fwmark %r is not a whole number >= 1" % (rule["fwmark"],))
        words += ["fwmark", str(rule["fwmark"])]
    if rule.get("priority") is None:
        raise ValueError("has no priority (keepalived would pick one that is probably not the order you want)")
    if not is_int(rule["priority"]) or not 1 <= rule["priority"] <= 32765:
        raise ValueError("priority %r is outside 1..32765 (0, 32766 and 32767 are the kernel's own rules)"
                         % (rule["priority"],))
    words += ["priority", str(rule["priority"])]
    words += ["table", _table(rule["table"])]
    if len(families) > 1:
        raise ValueError("mixes IPv4 and IPv6 addresses")
    return " ".join(words)


# keepalived's bounds of down_timer_adverts, and its RFC value (what the instance uses without it).
DOWN_TIMER_ADVERTS = (1, 100)
RFC_DOWN_TIMER_ADVERTS = 3


def problems(inst, smtp_ready, strict=False):
    """Every problem of one instance's optional settings, as (variable suffix, problem, fix) tuples.

    ``smtp_ready``: whether the host sets keepalived_notification_email and keepalived_smtp_server;
    ``strict``: whether its keepalived_global_options turn vrrp_strict on.
    """
    found = []
    adverts = inst.get("down_timer_adverts")
    if adverts is not None:
        low, high = DOWN_TIMER_ADVERTS
        if not is_int(adverts) or not low <= adverts <= high:
            found.append((".down_timer_adverts", "is %r, outside keepalived's %d..%d" % (adverts, low, high),
                          "use a whole number of adverts, e.g. 6 with advert_int 0.02"))
        elif strict and adverts != RFC_DOWN_TIMER_ADVERTS:
            found.append((".down_timer_adverts", "is %d on a host with vrrp_strict, where keepalived puts it back to "
                          "the RFC's %d" % (adverts, RFC_DOWN_TIMER_ADVERTS),
                          "remove down_timer_adverts, or vrrp_strict from keepalived_global_options"))

    def route(item):
        return route_line(item, inst.get("interface"))

    for idx, vip in enumerate(listify(inst.get("virtual_ipaddress_excluded"))):
        try:
            parse_vip(vip, inst.get("interface"))
        except ValueError as exc:
            found.append((".virtual_ipaddress_excluded[%d]" % idx, "is malformed: %s" % exc,
                          "write e.g. 'fd00::100/64' or {address: 10.0.0.101/24, dev: eth1}"))
    for field, render, example in (("virtual_routes", route, "{to: 10.1.0.0/16, via: 10.0.0.1}"),
                                   ("virtual_rules", rule_line, "{from: 10.0.0.100, table: 100, priority: 100}")):
        value = inst.get(field)
        if value is not None and not isinstance(value, list):
            found.append(("." + field, "is not a list", "write it as a list of dicts such as " + example))
            continue
        for idx, item in enumerate(value or []):
            try:
                render(item)
            except ValueError as exc:
                found.append((".%s[%d]" % (field, idx), str(exc), "write e.g. " + example))
    vmac = inst.get("use_vmac")
    if vmac is not None and not isinstance(vmac, bool):
        if not isinstance(vmac, str) or not IFACE_RE.match(vmac) or ":" in vmac:
            found.append((".use_vmac", "is %r, not true, false or an interface name" % (vmac,),
                          "write use_vmac: true (keepalived names it vrrp.VRID) or a name of up to 15 characters"))
        elif vmac == inst.get("interface"):
            found.append((".use_vmac", "names %s, the instance's own interface" % vmac, "name a new interface, e.g. vrrp.%s"
                          % inst.get("virtual_router_id")))
    if inst.get("vmac_xmit_base") and not vmac:
        found.append((".vmac_xmit_base", "is set without use_vmac", "set use_vmac: true, or remove vmac_xmit_base"))
    elif vmac and inst.get("unicast") and not inst.get("vmac_xmit_base"):
        found.append((".use_vmac", "is set on a unicast instance without vmac_xmit_base, which keepalived then turns "
                      "on by itself", "set vmac_xmit_base: true (or unicast: false)"))
    ttl = inst.get("unicast_ttl")
    if ttl is not None:
        if not is_int(ttl) or not 1 <= ttl <= 255:
            found.append((".unicast_ttl", "is %r, outside 1..255" % (ttl,), "use a whole number of hops, e.g. 1"))
        elif not inst.get("unicast"):
            found.append((".unicast_ttl", "is set on a multicast instance (unicast: false)",
                          "remove unicast_ttl, or use unicast"))
    for field in ("accept", "dont_track_primary", "smtp_alert", "vmac_xmit_base"):
        if inst.get(field) is not None and not isinstance(inst[field], bool):
            found.append(("." + field, "is %r, not true or false" % (inst[field],), "write %s: true" % field))
    command = inst.get("notify_master_rx_lower_pri")
    if command is not None and (not isinstance(command, str) or not SAFE_COMMAND_RE.match(command)):
        found.append((".notify_master_rx_lower_pri", "is empty or has double quotes, backslashes, braces or newlines",
                      "point it at a script file, e.g. /usr/local/bin/notify-lower-pri"))
    if inst.get("smtp_alert") is True and not smtp_ready:
        found.append((".smtp_alert", "is set, but this host has no keepalived_notification_email or "
                      "keepalived_smtp_server", "set both, or remove smtp_alert"))
    return found


def render(inst):
    """The plan's fields for these settings (an instance the preflight accepted)."""
    vmac = inst.get("use_vmac")
    return {
        "virtual_ipaddress_excluded": [vip_line(parse_vip(v, inst["interface"]))
                                       for v in listify(inst.get("virtual_ipaddress_excluded"))],
        "virtual_routes": [route_line(r, inst["interface"]) for r in inst.get("virtual_routes") or []],
        "virtual_rules": [rule_line(r) for r in inst.get("virtual_rules") or []],
        "use_vmac": None if not vmac else ("" if vmac is True else vmac),
        "vmac_xmit_base": bool(inst.get("vmac_xmit_base")),
        "unicast_ttl": inst.get("unicast_ttl"),
        "accept": inst.get("accept"),
        "dont_track_primary": bool(inst.get("dont_track_primary")),
        "notify_master_rx_lower_pri": inst.get("notify_master_rx_lower_pri"),
        "smtp_alert": bool(inst.get("smtp_alert")),
        "down_timer_adverts": inst.get("down_timer_adverts"),
    }
