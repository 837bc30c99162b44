# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived's own load balancing (LVS/IPVS): keepalived_virtual_servers and _virtual_server_groups.

A virtual server is an address and port, a firewall mark or a group of them, balanced over real
servers that keepalived's checker process health-checks (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK,
DNS_CHECK). Each rule answers with (variable suffix, problem, fix); ``render`` gives the lines of
the conf.d file. keepalived needs the kernel's IPVS for these to take effect; without it the
checker process logs the failure and VRRP runs on (the collection's lab has no IPVS, so it proves
the rendering with ``keepalived -t`` only).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.failover.keepalived.plugins.module_utils._model.instance_options import SAFE_COMMAND_RE
from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    err, is_int, is_number, named_items, num, with_defaults,
)

# The conf.d file of the virtual servers and their groups; no instance may be called like it.
FILE_NAME = "keepalived-virtual-servers"
LB_ALGOS = ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos")
LB_KINDS = ("NAT", "DR", "TUN")
PROTOCOLS = ("TCP", "UDP", "SCTP")
CHECK_TYPES = ("TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "DNS_CHECK")
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")
# Checks that speak TCP to the real server; a UDP service needs MISC_CHECK or DNS_CHECK.
TCP_CHECKS = ("TCP_CHECK", "HTTP_GET", "SSL_GET")
VIRTUAL_SERVER_DEFAULTS = {
    "address": None, "port": None, "fwmark": None, "group": None,
    "protocol": None, "lb_algo": "wlc", "lb_kind": "NAT",
    "persistence_timeout": None, "persistence_granularity": None,
    "delay_loop": None, "quorum": None, "hysteresis": None, "quorum_up": None, "quorum_down": None,
    "sorry_server": None, "sorry_server_inhibit": False, "alpha": False, "omega": False,
    "ha_suspend": False, "virtualhost": None, "real_servers": [],
}
REAL_SERVER_DEFAULTS = {"port": None, "weight": 1, "inhibit_on_failure": False, "notify_up": None,
                        "notify_down": None, "checks": []}
CHECK_FIELDS = {
    "common": ("type", "connect_timeout", "connect_port", "retry", "delay_before_retry", "delay_loop"),
    "HTTP_GET": ("urls",), "SSL_GET": ("urls",), "TCP_CHECK": (),
    "MISC_CHECK": ("misc_path", "misc_timeout", "misc_dynamic"),
    "DNS_CHECK": ("dns_type", "dns_name"),
}
DIGEST_RE = re.compile(r"^[0-9a-f]{32}$")
STATUS_RE = re.compile(r"^([1-5][0-9]{2})(-([1-5][0-9]{2}))?$")
PATH_RE = re.compile(r"^/[^\s\"'#!{}\\]*$")
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9.])?$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
RANGE_RE = re.compile(r"^([0-9a-fA-F.:]+)-([0-9a-fA-F.:]+)$")


def _address(text):
    return ipaddress.ip_address(str(text))


def _port_problem(port, required):
    if port is None:
        return "is missing" if required else None
    if not is_int(port) or not 1 <= port <= 65535:
        return "is %r, outside 1..65535" % (port,)
    return None


def _endpoint(found, where, item, port_required, what):
    """The address family of {address, port} (appending problems), or None."""
    if not isinstance(item, dict):
        found.append((where, "is not a dict", "write {address: 10.0.0.21, port: 80}"))
        return None
    try:
        family = _address(item.get("address")).version
    except ValueError:
        found.append((where + ".address", "is %r, not an IP address" % (item.get("address"),),
                      "give the %s's address" % what))
        family = None
    problem = _port_problem(item.get("port"), port_required)
    if problem:
        found.append((where + ".port", problem, "give the %s's port, 1..65535" % what))
    return family


def group_member_problems(member):
    """Why one keepalived_virtual_server_groups member is wrong ([] when right), and its address family."""
    if not isinstance(member, dict):
        return ["is not a dict such as {address: 10.0.0.100, port: 80} or {fwmark: 7}"], None
    if member.get("fwmark") is not None:
        if set(member) - {"fwmark"}:
            return ["mixes fwmark with %s" % ", ".join(sorted(set(member) - {"fwmark"}))], None
        if not is_int(member["fwmark"]) or not 1 <= member["fwmark"] <= 4294967295:
            return ["fwmark %r is not a whole number >= 1" % (member["fwmark"],)], None
        return [], None
    found = []
    text = str(member.get("address"))
    family = None
    try:
        if "/" in text:
            family = ipaddress.ip_network(text, strict=True).version
        elif RANGE_RE.match(text):
            first, last = RANGE_RE.match(text).groups()
            start = _address(first)
            if "." in last or ":" in last:
                end = _address(last)
            elif start.version == 4:
                end = _address(first.rsplit(".", 1)[0] + "." + last)
            else:
                end = _address(first.rsplit(":", 1)[0] + ":" + last)
            if end.version != start.version or end < start:
                raise ValueError
            family = start.version
        else:
            family = _address(text).version
    except ValueError:
        found.append("address %r is not an address, a range such as 10.0.0.100-110 or a network such as "
                     "10.0.0.96/29" % (member.get("address"),))
    problem = _port_problem(member.get("port"), False)
    if problem:
        found.append("port " + problem)
    unknown = set(member) - {"address", "port"}
    if unknown:
        found.append("has unknown field(s) %s" % ", ".join(sorted(unknown)))
    return found, family


def check_problems(check, protocol):
    """(suffix, problem, fix) of one real server's health check."""
    found = []
    if not isinstance(check, dict):
        return [("", "is not a dict", "write e.g. {type: TCP_CHECK, connect_timeout: 3}")]
    kind = check.get("type")
    if kind not in CHECK_TYPES:
        return [(".type", "is %r" % (kind,), "use one of " + ", ".join(CHECK_TYPES))]
    unknown = sorted(set(check) - set(CHECK_FIELDS["common"]) - set(CHECK_FIELDS[kind]))
    if unknown:
        found.append(("", "has field(s) %s, which a %s does not take" % (", ".join(unknown), kind),
                      "use %s" % ", ".join(CHECK_FIELDS["common"] + CHECK_FIELDS[kind])))
    if protocol == "UDP" and kind in TCP_CHECKS:
        found.append((".type", "is %s on a UDP virtual server; it connects over TCP, which a UDP service does not "
                      "answer, so every real server would be marked down" % kind,
                      "use DNS_CHECK (for DNS) or MISC_CHECK with a check of your own"))
    for field in ("connect_timeout", "delay_before_retry", "delay_loop"):
        value = check.get(field)
        if value is not None and (not is_number(value) or value <= 0):
            found.append(("." + field, "is %r, not a positive number of seconds" % (value,), "give seconds, e.g. 3"))
    if check.get("retry") is not None and (not is_int(check["retry"]) or check["retry"] < 0):
        found.append((".retry", "is %r, not a whole number >= 0" % (check["retry"],), "give e.g. retry: 2"))
    problem = _port_problem(check.get("connect_port"), False)
    if problem:
        found.append((".connect_port", problem, "give the port to check, 1..65535"))
    if kind in ("HTTP_GET", "SSL_GET"):
        urls = check.get("urls")
        if not isinstance(urls, list) or not urls:
            found.append((".urls", "is empty", "list at least one {path: /health, status_code: 200}"))
            urls = []
        for idx, url in enumerate(urls):
            where = ".urls[%d]" % idx
            if not isinstance(url, dict) or not isinstance(url.get("path"), str) or not PATH_RE.match(url["path"]):
                found.append((where + ".path", "is missing, or not a path starting with / without spaces or quotes",
                              "write e.g. {path: /health}"))
                continue
            unknown = sorted(set(url) - {"path", "status_code", "digest"})
            if unknown:
                found.append((where, "has unknown field(s) %s" % ", ".join(unknown), "use path, status_code, digest"))
            codes = url.get("status_code")
            for code in (codes if isinstance(codes, list) else [] if codes is None else [codes]):
                match = STATUS_RE.match(str(code))
                if not match or (match.group(3) and int(match.group(3)) < int(match.group(1))):
                    found.append((where + ".status_code", "has %r, not an HTTP status such as 200 or a range such "
                                  "as 200-299" % (code,), "write e.g. status_code: [200, 301-302]"))
            digest = url.get("digest")
            if digest is not None and (not isinstance(digest, str) or not DIGEST_RE.match(digest)):
                found.append((where + ".digest", "is not an MD5 digest of 32 lowercase hexadecimal digits",
                              "compute it with genhash (e.g. 9b3a0c85a887a256d6939da88aabd8cd)"))
    elif kind == "MISC_CHECK":
        path = check.get("misc_path")
        if not isinstance(path, str) or not path.startswith("/") or not SAFE_COMMAND_RE.match(path):
            found.append((".misc_path", "is %r, not a command with an absolute path, without double quotes, "
                          "backslashes or braces" % (path,), "write e.g. /usr/local/bin/check-real-server 10.0.0.21"))
        if check.get("misc_timeout") is not None and (not is_int(check["misc_timeout"]) or check["misc_timeout"] < 1):
            found.append((".misc_timeout", "is %r, not a whole number of seconds >= 1" % (check["misc_timeout"],),
                          "give e.g. misc_timeout: 5"))
        if check.get("misc_dynamic") not in (None, True, False):
            found.append((".misc_dynamic", "is %r, not true or false" % (check["misc_dynamic"],), "write true"))
    elif kind == "DNS_CHECK":
        if check.get("dns_type") is not None and check["dns_type"] not in DNS_TYPES:
            found.append((".dns_type", "is %r" % (check["dns_type"],), "use one of " + ", ".join(DNS_TYPES)))
        name = check.get("dns_name")
        if name is not None and (not isinstance(name, str) or (name != "." and not NAME_RE.match(name))):
            found.append((".dns_name", "is %r, not a domain name" % (name,), "write e.g. example.com"))
    return found


def server_problems(server, groups, groups_members=None):
    """(suffix, problem, fix) of one keepalived_virtual_servers item (with defaults)."""
    found = []
    groups_members = groups_members or {}
    kinds = [field for field in ("address", "fwmark", "group") if server.get(field) is not None]
    if len(kinds) != 1:
        return [("", "sets %s" % (" and ".join(kinds) if kinds else "none of address, fwmark and group"),
                 "set exactly one: address (with port), fwmark, or group (a keepalived_virtual_server_groups name)")]
    family = None
    if kinds == ["address"]:
        family = _endpoint(found, "", server, True, "virtual server")
    elif kinds == ["fwmark"]:
        if not is_int(server["fwmark"]) or not 1 <= server["fwmark"] <= 4294967295:
            found.append((".fwmark", "is %r, not a whole number >= 1" % (server["fwmark"],), "give the firewall mark"))
        if server.get("port") is not None:
            found.append((".port", "is set on a fwmark virtual server", "remove port (the mark selects the traffic)"))
    else:
        if server["group"] not in groups:
            found.append((".group", "is %r, which keepalived_virtual_server_groups does not define" % (server["group"],),
                          "define the group, or use address and port"))
        if server.get("port") is not None:
            found.append((".port", "is set on a group virtual server", "give the ports in the group's members"))
        family = groups.get(server["group"])
    members = groups_members.get(server.get("group")) or [] if kinds == ["group"] else []
    if (kinds == ["fwmark"] or (members and _marks_only(members))) and server.get("protocol") is not None:
        found.append((".protocol", "is set on a fwmark virtual server, where keepalived ignores it",
                      "remove protocol (the mark selects the traffic)"))
    marks = kinds == ["fwmark"] or any(isinstance(m, dict) and m.get("fwmark") is not None for m in members)
    if server.get("ha_suspend") is True and marks:
        found.append((".ha_suspend", "is set on a service selected by a firewall mark, where keepalived cannot use it",
                      "remove ha_suspend (it needs a service address to watch)"))
    if server.get("persistence_timeout") is None and any(
            isinstance(m, dict) and m.get("fwmark") is None and m.get("port") is None for m in members):
        found.append((".persistence_timeout", "is unset, but group %s has members without a port, which only a "
                      "persistent service may have (keepalived would make it persistent)" % server["group"],
                      "give the group's members ports, or set persistence_timeout"))
    for field, choices in (("protocol", PROTOCOLS), ("lb_algo", LB_ALGOS), ("lb_kind", LB_KINDS)):
        value = server.get(field)
        if value is not None and value not in choices:
            found.append(("." + field, "is %r" % (value,), "use one of " + ", ".join(choices)))
    timeout = server.get("persistence_timeout")
    if timeout is not None and (not is_int(timeout) or not 1 <= timeout <= 2678400):
        found.append((".persistence_timeout", "is %r, outside 1..2678400 s" % (timeout,), "give seconds, e.g. 300"))
    mask = server.get("persistence_granularity")
    if mask is not None:
        try:
            ipaddress.ip_network("0.0.0.0/%s" % mask)
        except ValueError:
            found.append((".persistence_granularity", "is %r, not a netmask" % (mask,), "write e.g. 255.255.255.0"))
    if server.get("delay_loop") is not None and (not is_number(server["delay_loop"]) or server["delay_loop"] <= 0):
        found.append((".delay_loop", "is %r, not a positive number of seconds" % (server["delay_loop"],),
                      "give e.g. delay_loop: 6"))
    quorum, hysteresis = server.get("quorum"), server.get("hysteresis")
    if quorum is not None and (not is_int(quorum) or quorum < 1):
        found.append((".quorum", "is %r, not a whole number >= 1" % (quorum,), "give the least total weight alive"))
    if hysteresis is not None and (not is_int(hysteresis) or hysteresis < 0 or
                                   hysteresis >= (quorum if is_int(quorum) else 1)):
        found.append((".hysteresis", "is %r, not a whole number from 0 to below quorum (%s)" % (
            hysteresis, quorum if quorum is not None else "1, keepalived's default"), "give e.g. hysteresis: 0"))
    for field in ("quorum_up", "quorum_down"):
        command = server.get(field)
        if command is not None and (not isinstance(command, str) or not SAFE_COMMAND_RE.match(command)):
            found.append(("." + field, "is empty or has double quotes, backslashes, braces or newlines",
                          "point it at a script file"))
    if server.get("sorry_server") is not None:
        sorry = _endpoint(found, ".sorry_server", server["sorry_server"], False, "sorry server")
        if family and sorry and sorry != family:
            found.append((".sorry_server", "is IPv%d on an IPv%d virtual server" % (sorry, family),
                          "use a sorry server of the same family"))
    elif server.get("sorry_server_inhibit"):
        found.append((".sorry_server_inhibit", "is set without sorry_server", "set sorry_server, or remove this"))
    for field in ("sorry_server_inhibit", "alpha", "omega", "ha_suspend"):
        if server.get(field) not in (True, False):
            found.append(("." + field, "is %r, not true or false" % (server.get(field),), "write %s: true" % field))
    host = server.get("virtualhost")
    if host is not None and (not isinstance(host, str) or not HOST_RE.match(host)):
        found.append((".virtualhost", "is %r, not a host name" % (host,), "write e.g. www.example.com"))
    reals = server.get("real_servers")
    if not isinstance(reals, list) or not reals:
        found.append((".real_servers", "is empty", "list the servers to balance over, e.g. [{address: 10.0.0.21, "
                      "port: 80, checks: [{type: TCP_CHECK}]}]"))
        reals = []
    seen = set()
    ports = _service_ports(server, groups_members) if server.get("lb_kind") in ("DR", "TUN") else None
    if ports is not None and server.get("sorry_server") and isinstance(server["sorry_server"], dict):
        problem = _port_rule(server["sorry_server"].get("port"), ports, server.get("lb_kind"))
        if problem:
            found.append((".sorry_server.port", problem[0], problem[1]))
    total = 0
    for idx, raw in enumerate(reals):
        where = ".real_servers[%d]" % idx
        real = with_defaults(raw, REAL_SERVER_DEFAULTS) if isinstance(raw, dict) else raw
        rfamily = _endpoint(found, where, real, False, "real server")
        if not isinstance(real, dict):
            continue
        key = (str(real.get("address")), real.get("port"))
        if key in seen:
            found.append((where, "is listed twice (%s port %s)" % key, "list each real server once"))
        seen.add(key)
        if family and rfamily and rfamily != family and server.get("lb_kind") != "TUN":
            found.append((where + ".address", "is IPv%d on an IPv%d virtual server, which only TUN forwards"
                          % (rfamily, family), "use a real server of the same family, or lb_kind: TUN"))
        unknown = sorted(set(real) - set(REAL_SERVER_DEFAULTS) - {"address"})
        if unknown:
            found.append((where, "has unknown field(s) %s" % ", ".join(unknown),
                          "use address, %s" % ", ".join(REAL_SERVER_DEFAULTS)))
        weight = real.get("weight")
        if not is_int(weight) or not 0 <= weight <= 65535:
            found.append((where + ".weight", "is %r, outside 0..65535" % (weight,), "give a relative weight, e.g. 1"))
        else:
            total += weight
        if ports is not None:
            problem = _port_rule(real.get("port"), ports, server.get("lb_kind"))
            if problem:
                found.append((where + ".port", problem[0], problem[1]))
        sorry = server.get("sorry_server")
        if isinstance(sorry, dict) and (str(sorry.get("address")), sorry.get("port")) == key and \
                bool(server.get("sorry_server_inhibit")) != bool(real.get("inhibit_on_failure")):
            found.append((where + ".inhibit_on_failure", "differs from sorry_server_inhibit, and the real server is "
                          "also the sorry server (keepalived would change one to match)",
                          "give both the same setting"))
        if real.get("inhibit_on_failure") not in (True, False):
            found.append((where + ".inhibit_on_failure", "is %r, not true or false" % (real.get("inhibit_on_failure"),),
                          "write inhibit_on_failure: true"))
        for field in ("notify_up", "notify_down"):
            command = real.get(field)
            if command is not None and (not isinstance(command, str) or not SAFE_COMMAND_RE.match(command)):
                found.append(("%s.%s" % (where, field), "is empty or has double quotes, backslashes, braces or "
                              "newlines", "point it at a script file"))
        checks = real.get("checks")
        if not isinstance(checks, list):
            found.append((where + ".checks", "is not a list", "list checks such as {type: TCP_CHECK}"))
            checks = []
        for cidx, check in enumerate(checks):
            for suffix, problem, fix in check_problems(check, server.get("protocol") or "TCP"):
                found.append(("%s.checks[%d]%s" % (where, cidx, suffix), problem, fix))
    needed = quorum if is_int(quorum) else 1
    if reals and total < needed:
        whose = "" if quorum is not None else " (keepalived's default)"
        found.append((".real_servers", "weigh %d in all, below the quorum of %d%s, so the service could never come "
                      "up (keepalived would lower the quorum)" % (total, needed, whose),
                      "give the real servers weights that reach the quorum, or lower quorum"))
    return found


def _marks_only(members):
    """Whether a group's members are all firewall marks (a service keepalived takes no protocol for)."""
    return all(isinstance(m, dict) and m.get("fwmark") is not None for m in members)


def _service_ports(server, groups_members):
    """The ports a DR or TUN service forwards to unchanged: {port}, or {None} for a firewall mark."""
    if server.get("address") is not None:
        return {server.get("port")}
    if server.get("fwmark") is not None:
        return {None}
    members = groups_members.get(server.get("group")) or []
    return {None if m.get("fwmark") is not None else m.get("port") for m in members if isinstance(m, dict)}


def _port_rule(port, ports, kind):
    """(problem, fix) when a real or sorry server's port cannot work with a DR or TUN service, else None."""
    if port is None:
        return None
    if None in ports:
        return ("is %d, but a %s firewall-mark service forwards packets unchanged, so keepalived ignores it" % (port, kind),
                "remove port (or use lb_kind: NAT)")
    if ports != {port}:
        return ("is %d, but %s forwards packets unchanged to the service's port %s (keepalived would reset it)"
                % (port, kind, "/".join(str(p) for p in sorted(p for p in ports if p is not None))),
                "remove port, or give the service's port (or use lb_kind: NAT, which can change the port)")
    return None


def validate(errors, host, view):
    """Check both lists on one host."""
    groups = {}
    members_of = {}
    raw_groups = view.get("virtual_server_groups")
    if raw_groups is not None and not isinstance(raw_groups, list):
        err(errors, host, "keepalived_virtual_server_groups", "is not a list", "write it as a list of {name, members}")
        raw_groups = []
    for var, group, name in named_items(errors, host, "keepalived_virtual_server_groups", raw_groups, {"members": []},
                                        "give each group a name and its members", "web_vips"):
        members = group.get("members")
        if name in groups:
            err(errors, host, var + ".name", "is defined twice", "give each group its own name")
            continue
        if not isinstance(members, list) or not members:
            err(errors, host, var + ".members", "is empty", "list {address, port} or {fwmark} members")
            continue
        families = set()
        for idx, member in enumerate(members):
            problems, family = group_member_problems(member)
            for problem in problems:
                err(errors, host, "%s.members[%d]" % (var, idx), problem,
                    "write {address: 10.0.0.100, port: 80}, {address: 10.0.0.100-110, port: 80} or {fwmark: 7}")
            families.add(family)
        families.discard(None)
        if len(families) > 1:
            err(errors, host, var + ".members", "mixes IPv4 and IPv6", "use one group per address family")
        groups[name] = families.pop() if len(families) == 1 else None
        members_of[name] = members
    servers = view.get("virtual_servers")
    if servers is not None and not isinstance(servers, list):
        err(errors, host, "keepalived_virtual_servers", "is not a list", "write it as a list of virtual servers")
        return
    seen = {}
    for idx, raw in enumerate(servers or []):
        var = "keepalived_virtual_servers[%d]" % idx
        if not isinstance(raw, dict):
            err(errors, host, var, "is not a dict", "write {address, port, protocol, real_servers, ...}")
            continue
        server = with_defaults(raw, VIRTUAL_SERVER_DEFAULTS)
        unknown = sorted(set(server) - set(VIRTUAL_SERVER_DEFAULTS))
        if unknown:
            err(errors, host, var, "has unknown field(s) %s" % ", ".join(unknown),
                "use %s" % ", ".join(VIRTUAL_SERVER_DEFAULTS))
        for suffix, problem, fix in server_problems(server, groups, members_of):
            err(errors, host, var + suffix, problem, fix)
        key = (str(server.get("address") or ""), server.get("port"), server.get("fwmark"), server.get("group"),
               server.get("protocol"))
        if key in seen:
            err(errors, host, var, "is the same service as keepalived_virtual_servers[%d]" % seen[key],
                "define each address, port and protocol (or fwmark, or group) once")
        seen.setdefault(key, idx)
    if servers and "--vrrp" in (view.get("daemon_options") or []):
        err(errors, host, "keepalived_daemon_options", "has --vrrp, which runs VRRP only, so keepalived_virtual_servers "
            "would never be checked or balanced", "remove --vrrp, or the virtual servers")


def _endpoint_words(item):
    return "%s%s" % (item["address"], "" if item.get("port") is None else " %d" % item["port"])


def _check_lines(check):
    lines = ["%s {" % check["type"]]
    for field in ("connect_timeout", "connect_port", "retry", "delay_before_retry", "delay_loop"):
        if check.get(field) is not None:
            lines.append("    %s %s" % (field, num(check[field])))
    for url in check.get("urls") or []:
        lines.append("    url {")
        lines.append("        path %s" % url["path"])
        codes = url.get("status_code")
        if codes is not None:
            lines.append("        status_code %s" % " ".join(str(c) for c in (codes if isinstance(codes, list) else [codes])))
        if url.get("digest"):
            lines.append("        digest %s" % url["digest"])
        lines.append("    }")
    if check.get("misc_path"):
        lines.append('    misc_path "%s"' % check["misc_path"])
    if check.get("misc_timeout") is not None:
        lines.append("    misc_timeout %d" % check["misc_timeout"])
    if check.get("misc_dynamic"):
        lines.append("    misc_dynamic")
    if check.get("dns_type"):
        lines.append("    type %s" % check["dns_type"])
    if check.get("dns_name"):
        lines.append("    name %s" % check["dns_name"])
    return lines + ["}"]


def render(view):
    """The lines of the conf.d file for a host the preflight accepted ([] when it has no virtual servers)."""
    lines = []
    groups = {group["name"]: group["members"] for group in view.get("virtual_server_groups") or []}
    for group in view.get("virtual_server_groups") or []:
        lines += ["virtual_server_group %s {" % group["name"]]
        for member in group["members"]:
            lines.append("    " + ("fwmark %d" % member["fwmark"] if member.get("fwmark") is not None
                                   else _endpoint_words(member)))
        lines += ["}", ""]
    for raw in view.get("virtual_servers") or []:
        server = with_defaults(raw, VIRTUAL_SERVER_DEFAULTS)
        if server.get("address") is not None:
            head = _endpoint_words(server)
        elif server.get("fwmark") is not None:
            head = "fwmark %d" % server["fwmark"]
        else:
            head = "group %s" % server["group"]
        lines.append("virtual_server %s {" % head)
        members = groups.get(server.get("group"), []) if server.get("group") is not None else []
        if server.get("fwmark") is None and not (members and _marks_only(members)):
            # keepalived warns of a service without one, and ignores it on a mark
            lines.append("    protocol %s" % (server.get("protocol") or "TCP"))
        for field, keyword in (("lb_algo", "lvs_sched"), ("lb_kind", "lvs_method"),
                               ("persistence_timeout", "persistence_timeout"),
                               ("persistence_granularity", "persistence_granularity"), ("delay_loop", "delay_loop"),
                               ("quorum", "quorum"), ("hysteresis", "hysteresis"), ("virtualhost", "virtualhost")):
            if server.get(field) is not None:
                lines.append("    %s %s" % (keyword, num(server[field])))
        for field in ("quorum_up", "quorum_down"):
            if server.get(field):
                lines.append('    %s "%s"' % (field, server[field]))
        for flag in ("alpha", "omega", "ha_suspend"):
            if server.get(flag):
                lines.append("    " + flag)
        if server.get("sorry_server"):
            lines.append("    sorry_server %s" % _endpoint_words(server["sorry_server"]))
            if server.get("sorry_server_inhibit"):
                lines.append("    sorry_server_inhibit")
        for raw_real in server["real_servers"]:
            real = with_defaults(raw_real, REAL_SERVER_DEFAULTS)
            lines += ["", "    real_server %s {" % _endpoint_words(real), "        weight %d" % real["weight"]]
            if real.get("inhibit_on_failure"):
                lines.append("        inhibit_on_failure")
            for field in ("notify_up", "notify_down"):
                if real.get(field):
                    lines.append('        %s "%s"' % (field, real[field]))
            for check in real.get("checks") or []:
                lines += ["        " + line for line in _check_lines(check)]
            lines.append("    }")
        lines += ["}", ""]
    return lines
