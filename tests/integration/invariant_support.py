# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The machinery of the invariant test (test_invariant.py): inventories, the role's rendering, the lab.

- ``inventories()``: a hypothesis strategy of whole inventories (host variables and the network
  facts of 1 to 4 hosts), valid-looking, with check arguments drawn from the check program's own
  option table (plugins/module_utils/_check_options.py); now and then one argument is made
  invalid on purpose, and the inventory then says so (``Inventory.invalid``).
- ``Role``: the keepalived role's own files evaluated with Ansible's templating, with the
  collection's filters: the preflight's ``__keepalived_view`` expression, the
  ``keepalived_model`` filter, the role's defaults and vars, configure.yml's ``main``, ``files`` and
  ``secret_files`` expressions (which render keepalived.conf.j2, instance.conf.j2 and auth.conf.j2
  through the template lookup), and the healthcheck role's runner.json.j2 and launcher. ``Renderer``
  runs it in a process of its own, where Ansible's collection loader is set up for the checkout.
- ``keepalived_words()``: keepalived's own splitting of a configuration line
  (``alloc_strvec_quoted_escaped`` in keepalived's lib/parser.c), applied twice to a script line
  as keepalived does (the line, then the quoted command).
- ``Lab``: one container of the lab image with the interfaces, addresses, users and check program
  the inventories use; ``keepalived -t`` on many trees in one shell loop, and one real keepalived
  start that prints how keepalived split every script line (its ``-d`` dump).
"""

from __future__ import annotations

import atexit
import importlib.util
import io
import multiprocessing
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
KEEPALIVED_ROLE = REPO / "roles" / "keepalived"
HEALTHCHECK_ROLE = REPO / "roles" / "healthcheck"
CHECK_PACKAGE = HEALTHCHECK_ROLE / "files" / "keepalived_check"
IMAGE = "localhost/failover-keepalived-lab:bookworm"
# Where a tree carries the role's /etc/default/keepalived (DAEMON_ARGS); keepalived.conf does not include it.
DAEMON_FILE = "default.keepalived"
PODMAN = ["podman", "--runtime=runc"]


def _collections_root():
    """A directory holding ansible_collections/failover/keepalived: above the checkout, or a temporary link."""
    if REPO.parts[-3:-1] == ("ansible_collections", "failover"):
        return str(REPO.parents[2])
    root = Path(tempfile.mkdtemp(prefix="failover-keepalived-invariant."))
    atexit.register(shutil.rmtree, root, True)
    (root / "ansible_collections" / "failover").mkdir(parents=True)
    (root / "ansible_collections" / "failover" / "keepalived").symlink_to(REPO)
    return str(root)


def _load_check_options():
    """plugins/module_utils/_check_options.py (plain literals), loaded from its file."""
    path = REPO / "plugins" / "module_utils" / "_check_options.py"
    spec = importlib.util.spec_from_file_location("invariant_check_options", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_options = _load_check_options()
RUNNER_FIELDS = {field["name"]: field for field in check_options.RUNNER_FIELDS}
if str(CHECK_PACKAGE.parent) not in sys.path:
    sys.path.insert(0, str(CHECK_PACKAGE.parent))

# --- the hosts the inventories may have, and what the lab container gives them -------------------------

HOSTS = ("node1", "node2", "node3", "node4")
INTERFACES = ("eth0", "eth1")
SCRIPT_USERS = ("keepalived_script", "kacheck")
CHECK_COMMANDS = ("/usr/local/bin/keepalived-check", "/opt/failover/bin/keepalived-check")
STATE_DIRS = ("/run/keepalived-check", "/var/lib/keepalived-check")
TRACK_DIRS = ("/run/keepalived-check/track", "/run/kc-track")
NOTIFY_COMMAND = "/usr/local/bin/ka-notify"
# Commands of raw `script:` checks; each exists in the lab image.
RAW_SCRIPTS = ("/usr/bin/test ! -e /etc/keepalived/down", "/bin/true", "/usr/bin/pgrep -x keepalived",
               "/usr/bin/test -f /etc/hostname")


def host_address(host, iface, version):
    """The address of an inventory host on an interface: 10.<n>.0.<11+i>, fd00:0:0:<n+1>::<11+i>."""
    index, net = HOSTS.index(host), INTERFACES.index(iface)
    if version == 4:
        return "10.%d.0.%d" % (net, 11 + index)
    return "fd00:0:0:%d::%x" % (net + 1, 0x11 + index)


def host_facts(host, ipv6):
    """ansible_facts as the network subset of setup gives them, for one host."""
    facts = {"interfaces": ["lo"] + list(INTERFACES), "lo": {"ipv4": {"address": "127.0.0.1"}}}
    for iface in INTERFACES:
        data = {"ipv4": {"address": host_address(host, iface, 4)}}
        v6 = [{"address": "fe80::%x" % (0x11 + HOSTS.index(host)), "scope": "link"}]
        if ipv6:
            v6.append({"address": host_address(host, iface, 6), "scope": "global"})
        data["ipv6"] = v6
        facts[iface] = data
    return facts


# --- hypothesis strategies -------------------------------------------------------------------------

# Realistic values by option name; a name the table adds later falls back to a generic token.
EXAMPLES = {
    "path": ["/etc/keepalived/down", "/run/maintenance", "/etc/keepalived/down.web", "/livez", "/healthz"],
    "name": ["haproxy", "nginx", "mysqld", "keepalived", "sshd"],
    "cmdline": ["nginx", "haproxy", "mysqld", "--daemonize", "-f"],
    "pidfile": ["/run/nginx.pid", "/run/haproxy.pid", "/run/mysqld/mysqld.pid"],
    "unit": ["nginx.service", "haproxy.service", "getty@tty1.service", "web-api.socket", "mariadb"],
    "url": ["http://127.0.0.1/", "https://localhost:8443/healthz", "http://[::1]:8080/status",
            "http://web.example:80/check?full=1", "https://10.0.0.5/"],
    "body_contains": ["OK", "healthy", "status:up", "-ok-", "up"],
    "host_header": ["www.example.com", "localhost", "api.internal"],
    "tls_server_name": ["www.example.com", "kubernetes.default.svc", "localhost"],
    "ca_file": ["/etc/ssl/certs/ca-certificates.crt", "/etc/kubernetes/pki/ca.crt"],
    "defaults_file": ["/etc/keepalived-check/mysql-main.cnf", "/etc/mysql/debian.cnf"],
    "client": ["mariadb", "mysql", "/usr/bin/mariadb"],
    "process_name": ["haproxy", "hapee-lb"],
    "stats_socket": ["/run/haproxy/admin.sock", "/var/lib/haproxy/stats"],
    "frontend": ["web", "https-in", "stats"],
    "backend": ["app", "web_servers", "api-v2"],
    "host": ["127.0.0.1", "::1", "localhost", "db.internal"],
}
REMEDIATE_COMMANDS = ("systemctl restart nginx", "/usr/local/sbin/fix-web --now", "systemctl try-restart haproxy.service",
                      "/usr/bin/logger -t kc restarting")
NOTIFY_ARGS = ("", " master", " backup", " fault", " --state=MASTER", " 'MASTER'")
TOKEN = r"\A[A-Za-z0-9_./:@+=,%-]{1,16}\Z"


@dataclass
class Inventory:
    """Host variables by host, and why the preflight must refuse it: (variable, what is wrong) pairs."""

    hostvars: dict
    invalid: list = field(default_factory=list)


def _str_value(option):
    """A value the option table accepts for a string option."""
    fmt = option.get("format")
    examples = EXAMPLES.get(option["name"])
    if fmt == "http_url":
        return st.sampled_from(EXAMPLES["url"])
    if fmt == "unit":
        return st.sampled_from(EXAMPLES["unit"])
    if fmt == "path":
        return st.sampled_from([e for e in (examples or EXAMPLES["path"]) if e.startswith("/")])
    token = st.from_regex(TOKEN)
    if examples:
        return st.one_of(st.sampled_from(examples), token) if option["name"] not in ("path", "pidfile") else \
            st.sampled_from(examples)
    return token


def _number_value(option):
    kind = option.get("type")
    low = option.get("min")
    high = option.get("max")
    if kind == "int":
        low = 0 if low is None else int(low)
        high = low + 1000 if high is None else int(high)
        number = st.one_of(st.sampled_from([low, high]), st.integers(low, high))
        return st.one_of(number, number.map(str)) if option["name"] != "min_count" else number
    low = 0.0 if low is None else float(low)
    high = low + 600.0 if high is None else float(high)
    return st.one_of(st.integers(int(low) if low == int(low) else int(low) + 1, int(high)),
                     st.floats(low, high, allow_nan=False).map(lambda x: round(x, 2)).filter(lambda x: x >= low))


def _spec_value(draw):
    """A --check value of all/any: another check, in the compact or the spaced form."""
    names = [name for name in check_options.CHECKS if name not in ("all", "any")]
    name = draw(st.sampled_from(names))
    args = draw(check_args(name, allow_invalid=False))[0]
    if draw(st.integers(0, 4)):
        items = []
        for key, value in sorted(args.items()):
            for one in value if isinstance(value, list) else [value]:
                items.append(key if one is True else "%s=%s" % (key, one))
        text = name + (":" + ",".join(items) if items else ":")
        return text
    words = [name]
    for key, value in sorted(args.items()):
        for one in value if isinstance(value, list) else [value]:
            words += ["--" + key.replace("_", "-")] + ([] if one is True else [str(one)])
    return " ".join(words)


def _value(draw, option):
    kind = option.get("type", "str")
    if kind == "bool":
        return True
    if option.get("choices"):
        return draw(st.sampled_from(option["choices"]))
    if option.get("format") == "check_spec":
        return _spec_value(draw)
    if kind in ("int", "float"):
        return draw(_number_value(option))
    return draw(_str_value(option))


# Ways to make one check's arguments invalid, as (args, reason) pairs, from its option table.
def _invalidations(check, options, args):
    spec = check_options.CHECKS[check]
    out = [(dict(args, bogus_option="x"), "an argument %s does not take" % check)]
    for option in options:
        name, kind = option["name"], option.get("type", "str")
        if option.get("required"):
            out.append(({k: v for k, v in args.items() if k != name}, "required %s left out" % name))
        if kind in ("int", "float"):
            out.append((dict(args, **{name: "many"}), "%s not a number" % name))
            if option.get("min") is not None:
                out.append((dict(args, **{name: option["min"] - 1}), "%s below its minimum" % name))
            if option.get("max") is not None:
                out.append((dict(args, **{name: option["max"] + 1}), "%s above its maximum" % name))
        if kind == "bool":
            out.append((dict(args, **{name: "yes"}), "flag %s given a value" % name))
        if option.get("choices"):
            out.append((dict(args, **{name: "NOT-A-CHOICE"}), "%s outside its choices" % name))
        if not option.get("repeatable") and kind != "bool":
            out.append((dict(args, **{name: ["a", "b"]}), "%s given two values" % name))
        if kind == "str" and option.get("format") != "check_spec":
            out.append((dict(args, **{name: "two words"}), "%s with a space" % name))
            out.append((dict(args, **{name: ""}), "%s empty" % name))
        if option.get("format") == "http_url":
            out.append((dict(args, **{name: "ftp://127.0.0.1/"}), "%s not http(s)" % name))
        if option.get("format") == "unit":
            out.append((dict(args, **{name: "web/unit"}), "%s not a unit name" % name))
        if option.get("format") == "check_spec":
            out.append((dict(args, **{name: "all:check=file"}), "nested all in %s" % name))
            out.append((dict(args, **{name: "nosuch:x=1"}), "unknown check in %s" % name))
            out.append((dict(args, **{name: "tcp:port=0"}), "bad argument inside %s" % name))
    for group in spec.get("one_of_required") or []:
        out.append(({k: v for k, v in args.items() if k not in group}, "none of %s" % ", ".join(group)))
    for name, needed in (spec.get("requires") or {}).items():
        if any(o["name"] == name for o in options):
            out.append(({k: v for k, v in dict(args, **{name: "x"}).items() if k not in needed},
                        "%s without %s" % (name, ", ".join(needed))))
    return out


def check_args(check, allow_invalid=True):
    """Strategy of (args, reason): args of ``check`` from its option table; reason is None when valid."""
    @st.composite
    def build(draw):
        spec = check_options.CHECKS[check]
        options = spec["options"]
        args = {}
        needed = {o["name"] for o in options if o.get("required")}
        for group in spec.get("one_of_required") or []:
            needed.add(draw(st.sampled_from(group)))
        for option in options:
            name = option["name"]
            if name not in needed and not draw(st.integers(0, 2)) == 0:
                continue
            if option.get("repeatable") and draw(st.booleans()):
                args[name] = [_value(draw, option) for _index in range(draw(st.integers(1, 3)))]
            else:
                args[name] = _value(draw, option)
        for name, others in (spec.get("requires") or {}).items():
            if name in args:
                for other in others:
                    if other not in args:
                        args[other] = _value(draw, next(o for o in options if o["name"] == other))
        if allow_invalid and draw(st.integers(0, 14)) == 0:
            bad = _invalidations(check, options, args)
            bad_args, reason = draw(st.sampled_from(bad))
            return bad_args, reason
        return args, None

    return build()


def _scripts(draw):
    """keepalived_scripts: (items, invalid reasons)."""
    items, invalid = [], []
    count = draw(st.integers(0, 4))
    for index in range(count):
        name = draw(st.sampled_from(["chk_%d" % index, "check-%d.web" % index, "C%d" % index]))
        item = {"name": name}
        timeout = None
        if draw(st.integers(0, 7)) == 0:
            item["script"] = draw(st.sampled_from(RAW_SCRIPTS))
        else:
            item["check"] = draw(st.sampled_from(list(check_options.CHECKS)))
            args, reason = draw(check_args(item["check"]))
            if args or draw(st.booleans()):
                item["args"] = args
            if reason:
                invalid.append(("keepalived_scripts[%d] (%s)" % (index, name), reason))
        runner = "check" in item and draw(st.integers(0, 3)) == 0
        # Fractions of a second: the runner's; keepalived's vrrp_script takes whole seconds (now and then
        # one anyway, which the preflight must refuse).
        fractions = runner or draw(st.integers(0, 9)) == 0
        interval = draw(st.one_of(st.integers(1, 5), st.sampled_from([1, 2, 10] + ([0.5, 1.5] if fractions else []))))
        if runner:
            # The runner's own bounds (RUNNER_FIELDS) and values on them; now and then one outside.
            low = RUNNER_FIELDS["interval"]["min"]
            interval = draw(st.sampled_from([interval, low, 0.05, RUNNER_FIELDS["interval"]["max"]]))
        if runner or draw(st.booleans()):
            item["interval"] = interval
        if runner:
            item["runner"] = True
            if draw(st.booleans()):
                item["confirm_interval"] = draw(st.sampled_from(
                    [RUNNER_FIELDS["confirm_interval"]["min"], interval / 4, interval]))
                item["confirm_interval"] = max(item["confirm_interval"], RUNNER_FIELDS["confirm_interval"]["min"])
            if draw(st.integers(0, 24)) == 0:
                field, value = draw(st.sampled_from([
                    ("interval", RUNNER_FIELDS["interval"]["min"] / 2), ("interval", float("nan")),
                    ("timeout", RUNNER_FIELDS["timeout"]["max"] * 2), ("confirm_interval", interval * 2),
                    ("confirm_interval", RUNNER_FIELDS["confirm_interval"]["min"] / 2)]))
                item[field] = value
                invalid.append(("keepalived_scripts[%d] (%s).%s" % (index, name, field), "%s %r" % (field, value)))
        elif "check" in item and draw(st.integers(0, 49)) == 0:
            item["confirm_interval"] = 0.5
            invalid.append(("keepalived_scripts[%d] (%s).confirm_interval" % (index, name), "without runner: true"))
        elif "check" in item and draw(st.integers(0, 3)) == 0:
            settle = draw(st.sampled_from([0, 1, 2]))
            timeout = draw(st.integers(int((settle + 1) / 0.8) + 1, 30))
            remediate = {"unit": draw(st.sampled_from(EXAMPLES["unit"][:4]))} if draw(st.booleans()) else \
                {"command": draw(st.sampled_from(REMEDIATE_COMMANDS))}
            remediate["settle"] = settle
            if draw(st.booleans()):
                remediate["max"] = draw(st.integers(1, 10))
            if draw(st.booleans()):
                remediate["window"] = draw(st.sampled_from([60, 600, 3600, 86400] * 3 + [604800]))
            item["remediate"] = remediate
        if timeout is None and draw(st.booleans()):
            timeout = draw(st.one_of(st.integers(1, 10), st.sampled_from(
                [0.5, 2.5] + ([RUNNER_FIELDS["timeout"]["min"]] if runner else []) if fractions else [4294])))
        if timeout is not None and "timeout" not in item:
            item["timeout"] = timeout
        for key in ("fall", "rise"):
            if draw(st.booleans()):
                item[key] = draw(st.integers(1, 5))
        if not runner:
            if draw(st.integers(0, 5)) == 0:
                item["user"] = "nobody"
            if draw(st.integers(0, 5)) == 0:
                item["init_fail"] = True
        items.append(item)
    return items, invalid


def _weight(draw, gap):
    """0 (FAULT on failure), or a weight that moves the VIP past a priority gap."""
    if gap >= 253 or draw(st.booleans()):
        return 0
    magnitude = draw(st.integers(gap + 1, min(253, gap + 60)))
    return magnitude if draw(st.booleans()) else -magnitude


def _vip(draw, version, iface, pool):
    address = pool.pop(draw(st.integers(0, len(pool) - 1)))
    if version == 4:
        text = address + draw(st.sampled_from(["/24", "/32", ""]))
    else:
        text = address + draw(st.sampled_from(["/64", "/128", ""]))
    if draw(st.integers(0, 2)):
        return text
    vip = {"address": text}
    dev = draw(st.sampled_from([None, iface] + list(INTERFACES)))
    if dev:
        vip["dev"] = dev
    # An IPv6 address takes no label and no scope but global: now and then one anyway.
    odd = version == 6 and draw(st.integers(0, 9)) == 0
    if (version == 4 or odd) and draw(st.booleans()):
        vip["label"] = "%s:%d" % (dev or iface, draw(st.integers(0, 99)))
    if draw(st.integers(0, 3)) == 0:
        vip["scope"] = draw(st.sampled_from(["global", "site", "link", "host", "nowhere"] if version == 4 or odd
                                            else ["global"]))
    if version == 4 and text.endswith("/24") and draw(st.integers(0, 3)) == 0:
        vip["brd"] = str(ipaddress.ip_interface(text).network.broadcast_address)
    return vip


def _instances(draw, hosts, scripts, ipv6):
    """keepalived_instances (shared by the hosts) and per-host changes: (items, {host: {name: changes}})."""
    items, per_host = [], {host: {} for host in hosts}
    pools = {4: ["10.0.0.%d" % n for n in range(100, 140)] + ["10.1.0.%d" % n for n in range(100, 140)],
             6: ["fd00:0:0:1::%x" % n for n in range(0x100, 0x140)]}
    vrids = {}
    by_name = {s["name"]: s for s in scripts}
    for index in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["VI_%d" % (index + 1), "web-%d" % index, "db.%d" % index]))
        if any(i["name"] == name for i in items):
            name += "x"
        iface = draw(st.sampled_from(INTERFACES))
        version = 6 if ipv6 and draw(st.integers(0, 3)) == 0 else 4
        used = vrids.setdefault((iface, version), set())
        vrid = draw(st.integers(1, 255).filter(lambda v, used=used: v not in used))
        used.add(vrid)
        members = draw(st.lists(st.sampled_from(hosts), min_size=1, max_size=len(hosts), unique=True))
        top = draw(st.integers(60, 254))
        prios, prio = {}, top
        for host in members:
            prios[host] = prio
            prio = max(1, prio - draw(st.integers(1, 50)))
            if prio in prios.values():
                break
        members = list(prios)
        ranked = sorted(prios.values(), reverse=True)
        gap = ranked[0] - ranked[1] if len(ranked) > 1 else 0
        inst = {"name": name, "interface": iface, "virtual_router_id": vrid, "priorities": prios}
        vrrp_version = draw(st.sampled_from([2, 3])) if version == 4 else draw(st.sampled_from([3, 3, 2]))
        if vrrp_version == 3 or draw(st.booleans()):
            inst["vrrp_version"] = vrrp_version
        if vrrp_version == 3:
            advert = draw(st.one_of(st.sampled_from([0.01, 0.1, 0.25, 0.5, 1, 2, 40.95]),
                                    st.integers(1, 40), st.integers(1, 4095).map(lambda c: c / 100)))
        else:
            advert = draw(st.one_of(st.sampled_from([1, 2, 3, 255]), st.integers(1, 10)))
        if advert != 1 or draw(st.booleans()):
            inst["advert_int"] = advert
        # IPv6 runs as VRRPv3 whatever vrrp_version says, without authentication: now and then a password anyway.
        if vrrp_version == 2 and draw(st.integers(0, 2)) == 0 and (version == 4 or draw(st.integers(0, 9)) == 0):
            inst["auth_pass"] = draw(st.from_regex(r"\A[A-Za-z0-9_.@%+-]{1,8}\Z"))
            if draw(st.booleans()):
                inst["auth_type"] = draw(st.sampled_from(["PASS", "AH"]))
        inst["virtual_ipaddresses"] = [_vip(draw, version, iface, pools[version])
                                       for _index in range(draw(st.integers(1, 3)))]
        nopreempt = draw(st.integers(0, 5)) == 0
        if nopreempt:
            inst["nopreempt"] = True
        if len(members) == 1 and not nopreempt and draw(st.integers(0, 3)) == 0:
            inst["state"] = "MASTER"
        elif draw(st.integers(0, 4)) == 0:
            inst["state"] = "BACKUP"
        if inst.get("state") != "MASTER" and (not nopreempt or draw(st.integers(0, 9)) == 0) and draw(st.integers(0, 4)) == 0:
            inst["preempt_delay"] = draw(st.one_of(st.integers(0, 1000), st.sampled_from([2.5, 0.5])))
        tracked = draw(st.lists(st.sampled_from(sorted(by_name)), unique=True, min_size=1, max_size=3)) if by_name else []
        track = []
        for script in tracked:
            if nopreempt:
                track.append({"name": script, "weight": 0})
            elif draw(st.integers(0, 3)) == 0:
                track.append({"name": script, "weight": _weight(draw, gap)})
            else:
                track.append(script)
                weight = by_name[script].get("weight")
                # A script shared by instances takes the weight that suits the widest gap.
                if weight is None or (weight != 0 and abs(weight) <= gap):
                    by_name[script]["weight"] = _weight(draw, max(gap, abs(weight or 0)))
        if track:
            inst["track_scripts"] = track
        if draw(st.integers(0, 4)) == 0:
            # Not the instance's own interface, which keepalived always watches: now and then anyway.
            others = [i for i in INTERFACES if i != iface or draw(st.integers(0, 9)) == 0]
            others += [{"name": other, "weight": -10} for other in others if other != iface]
            inst["track_interfaces"] = [draw(st.sampled_from(others))]
        for option, values in (("garp_master_delay", (1, 5, 10)), ("garp_master_repeat", (1, 3, 5)),
                               ("garp_master_refresh", (0, 60)), ("down_timer_adverts", (1, 6, 100))):
            if draw(st.integers(0, 6)) == 0:
                inst[option] = draw(st.sampled_from(values))
        for option in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
            if draw(st.integers(0, 6)) == 0:
                inst[option] = NOTIFY_COMMAND + draw(st.sampled_from(NOTIFY_ARGS))
        _instance_options(draw, inst, version, iface)
        if draw(st.integers(0, 4)) == 0:
            inst["unicast"] = False
            inst.pop("unicast_ttl", None)
        elif len(members) > 1 and draw(st.integers(0, 4)) == 0:
            # Explicit peers and source in each member's own host variables.
            for host in members:
                changes = {"unicast_peers": [host_address(h, iface, version) for h in members if h != host]}
                if draw(st.booleans()):
                    changes["unicast_src_ip"] = host_address(host, iface, version)
                per_host[host][name] = changes
        items.append(inst)
    return items, per_host


ROUTES = {
    4: [{"to": "10.20.0.0/16", "via": "10.0.0.1"}, {"to": "10.21.0.0/16", "dev": "eth1", "metric": 10},
        {"to": "default", "via": "10.0.0.1", "table": 100}, {"to": "10.22.0.0/16", "type": "blackhole"},
        {"to": "10.23.0.0/16", "type": "unreachable", "table": "main"},
        {"to": "10.24.0.0/24", "src": "10.0.0.100", "dev": "eth0", "scope": "link"}],
    6: [{"to": "fd00:20::/64", "via": "fd00:0:0:1::1"}, {"to": "fd00:21::/64", "dev": "eth1", "metric": 10},
        {"to": "fd00:22::/64", "type": "prohibit"}],
}
RULES = {
    4: [{"from": "10.0.0.100", "table": 100, "priority": 100}, {"to": "10.30.0.0/16", "table": 101, "priority": 101},
        {"iif": "eth1", "table": 102, "priority": 102}, {"fwmark": 7, "table": 103, "priority": 103},
        {"from": "10.0.0.0/24", "oif": "eth0", "table": 104, "priority": 104}, {"from": "10.0.0.101", "table": 105}],
    6: [{"from": "fd00:0:0:1::100", "table": 100, "priority": 100}, {"to": "fd00:30::/64", "table": 101, "priority": 200}],
}


def _instance_options(draw, inst, version, iface):
    """The optional keepalived settings of one instance, each now and then."""
    def sometimes():
        return draw(st.integers(0, 5)) == 0

    if sometimes():
        other = 10 - version  # a dual-stack VIP: the other family, excluded from the adverts
        pool = ["10.0.0.%d" % n for n in range(150, 160)] if other == 4 else ["fd00:0:0:1::%x" % n for n in range(0x150, 0x160)]
        inst["virtual_ipaddress_excluded"] = [_vip(draw, other, iface, pool)]
    if sometimes():
        inst["virtual_routes"] = draw(st.lists(st.sampled_from(ROUTES[version]), min_size=1, max_size=3, unique_by=str))
    if sometimes():
        inst["virtual_rules"] = draw(st.lists(st.sampled_from(RULES[version]), min_size=1, max_size=2, unique_by=str))
    if sometimes():
        inst["use_vmac"] = draw(st.sampled_from([True, "vrrp.%d" % inst["virtual_router_id"], "vmac-%s" % iface]))
        if draw(st.integers(0, 5)):  # a unicast instance needs it: now and then without
            inst["vmac_xmit_base"] = True
    for option, values in (("unicast_ttl", [1, 2, 255]), ("accept", [True, False]), ("dont_track_primary", [True]),
                           ("notify_master_rx_lower_pri", [NOTIFY_COMMAND + " lower"]), ("smtp_alert", [True])):
        if sometimes() or (option == "unicast_ttl" and sometimes()):
            inst[option] = draw(st.sampled_from(values))


DAEMON_OPTIONS = (["--log-detail", "--snmp", "--log-facility=3", "--umask=022", "--config-id=lb1", "--address-monitoring",
                   "--dump-conf", "--release-vips", "--vrrp", "--no_bfd", "--all-config", "--core-dump"] * 3
                  + ["--log-facility=local3", "--umask=abc", "--dont-release-vrrp", "--log-file=/tmp/k.log", "-D"])
EXTRA_CONFIG = [
    "garp_group {\n    garp_interval 0.01\n    gna_interval 0.02  # delays between gratuitous ARPs\n    interface eth0\n}\n",
    "virtual_server 10.0.0.100 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n\n"
    "    real_server 10.0.0.11 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 3\n"
    "        }\n    }\n}\n",
    "! a comment\nstatic_ipaddress {\n    192.0.2.10/32 dev eth0 scope host\n}\n",
]


def _host_config(draw):
    """Host-level settings: e-mail alerts, global options, extra configuration; each now and then."""
    out = {}
    if draw(st.integers(0, 5)) == 0:
        out["keepalived_notification_email"] = draw(st.lists(st.sampled_from(["ops@example.com", "a.b+c@example.org"]),
                                                             min_size=1, max_size=2, unique=True))
        # keepalived takes an address only: now and then a host name anyway.
        out["keepalived_smtp_server"] = draw(st.sampled_from(["192.0.2.25", "fd00:0:0:1::25"] * 4 + ["smtp.example.com"]))
        for key, values in (("keepalived_notification_email_from", ["keepalived@example.com"]),
                            ("keepalived_smtp_port", [25, 2525]), ("keepalived_smtp_connect_timeout", [5, 30])):
            if draw(st.booleans()):
                out[key] = draw(st.sampled_from(values))
    if draw(st.integers(0, 5)) == 0:
        # Each keyword with values of its own kind: the role cannot know every keyword's (keepalived -t can).
        kinds = {"vrrp_garp_interval": [0.001, 0.5, 1], "vrrp_gna_interval": [0.5, 2], "max_auto_priority": [True, 50],
                 "vrrp_no_swap": [True, False], "vrrp_garp_master_refresh": [60]}
        keys = draw(st.lists(st.sampled_from(sorted(kinds)), max_size=2, unique=True))
        out["keepalived_global_options"] = {key: draw(st.sampled_from(kinds[key])) for key in keys}
    if draw(st.integers(0, 5)) == 0:
        out["keepalived_extra_config"] = draw(st.sampled_from(EXTRA_CONFIG))
    if draw(st.integers(0, 5)) == 0:
        # Mostly options keepalived takes; now and then one it refuses or would ignore, or that breaks the role.
        out["keepalived_daemon_options"] = draw(st.lists(st.sampled_from(DAEMON_OPTIONS), min_size=1, max_size=3,
                                                         unique=True))
    if draw(st.integers(0, 5)) == 0:
        out["keepalived_nonlocal_bind"] = draw(st.sampled_from([True, False, None] * 2 + ["yes"]))
        out["keepalived_tcp_retries2"] = draw(st.sampled_from([8, 15, None, 2]))
    return out


PROCESSES = ("haproxy", "nginx", "sshd", "bird")


def _tracking(draw, instances):
    """keepalived_track_files and keepalived_track_processes, each now and then tracked by an instance."""
    files, processes = [], []
    for index in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        item = {"name": "tf_%d" % index, "file": "/tmp/fk-track-%d" % index}
        if draw(st.booleans()):
            item["weight"] = draw(st.sampled_from([0, -20, 10, 253]))
        if draw(st.booleans()):
            item["init_file"] = draw(st.sampled_from([0, 1, 5]))
            if draw(st.booleans()):
                item["init_overwrite"] = True
        files.append(item)
    for index in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        item = {"name": "tp_%d" % index, "process": draw(st.sampled_from(PROCESSES))}
        if draw(st.integers(0, 3)) == 0:
            item["params"] = ["-f", "/etc/%s.cfg" % item["process"]]
            if draw(st.booleans()):
                item["param_match"] = draw(st.sampled_from(["initial", "partial"]))
        elif draw(st.integers(0, 3)) == 0:
            item.update(process="/usr/sbin/" + item["process"], full_command=True)
        if draw(st.booleans()):
            item["quorum"] = draw(st.integers(1, 3))
            if draw(st.booleans()):
                item["quorum_max"] = item["quorum"] + draw(st.integers(0, 2))
        elif draw(st.integers(0, 5)) == 0:
            item["quorum_max"] = 0
        if draw(st.booleans()):
            item.update(draw(st.sampled_from([{"delay": 0.5}, {"fork_delay": 1, "terminate_delay": 2.5}])))
        if draw(st.booleans()):
            item["weight"] = draw(st.sampled_from([0, -30, 20]))
        processes.append(item)
    for inst in instances:
        for key, items in (("track_files", files), ("track_processes", processes)):
            if items and draw(st.booleans()):
                inst[key] = [draw(st.sampled_from([i["name"] for i in items]))]
    return files, processes


def _sync_groups(draw, instances, scripts):
    """Now and then two instances of the same members as a sync group, made consistent the way the preflight
    asks (one order of priorities, one way to preempt, members' own tracking unweighted)."""
    if len(instances) < 2 or draw(st.integers(0, 2)):
        return []
    first, second = instances[0], instances[1]
    second["priorities"] = dict(first["priorities"])
    for key in ("nopreempt", "preempt_delay", "state"):
        second.pop(key, None)
        if key in first:
            second[key] = first[key]
    for inst in (first, second):
        for key in ("track_scripts", "track_files", "track_processes"):
            if inst.get(key):
                inst[key] = [{"name": t if isinstance(t, str) else t["name"], "weight": 0} for t in inst[key]]
        if inst.get("track_interfaces"):
            inst["track_interfaces"] = [t if isinstance(t, str) else t["name"] for t in inst["track_interfaces"]]
    group = {"name": "SG_1", "instances": [first["name"], second["name"]]}
    names = sorted(s["name"] for s in scripts)
    if names and draw(st.integers(0, 3)):
        group["track_scripts"] = [{"name": draw(st.sampled_from(names)), "weight": 0}]
    if draw(st.booleans()):
        group["notify"] = NOTIFY_COMMAND + draw(st.sampled_from(NOTIFY_ARGS))
    return [group]


def _virtual_servers(draw):
    """keepalived_virtual_servers and _virtual_server_groups, now and then, with checks of every type."""
    if draw(st.integers(0, 3)):
        return [], []
    checks = [{"type": "TCP_CHECK", "connect_timeout": 3},
              {"type": "HTTP_GET", "urls": [{"path": "/health", "status_code": [200, "301-302"]}], "retry": 2},
              {"type": "SSL_GET", "urls": [{"path": "/", "digest": "9b3a0c85a887a256d6939da88aabd8cd"}],
               "delay_before_retry": 1.5},
              {"type": "MISC_CHECK", "misc_path": NOTIFY_COMMAND + " rs", "misc_timeout": 5, "misc_dynamic": True}]
    servers, groups = [], []
    for index in range(draw(st.integers(1, 2))):
        version = draw(st.sampled_from([4, 4, 6]))
        vip = "10.0.0.%d" % (200 + index) if version == 4 else "fd00:0:0:1::%x" % (0x200 + index)
        reals = ["10.0.0.%d" % (21 + n) if version == 4 else "fd00:0:0:1::%x" % (0x21 + n) for n in range(3)]
        server = {"address": vip, "port": draw(st.sampled_from([80, 443, 6443]))}
        kind = draw(st.integers(0, 3))
        if kind == 0:
            server = {"fwmark": 10 + index}
        elif kind == 1:
            name = "vsg_%d" % index
            groups.append({"name": name, "members": [{"address": vip, "port": 80}, {"fwmark": 20 + index}]})
            server = {"group": name}
        protocol = draw(st.sampled_from(["TCP", "TCP", "UDP"]))
        if "fwmark" not in server and "group" not in server and (protocol != "TCP" or draw(st.booleans())):
            server["protocol"] = protocol
        for field, values in (("lb_algo", ["rr", "wrr", "wlc", "sh", "mh"]), ("lb_kind", ["NAT", "DR", "TUN"]),
                              ("persistence_timeout", [60, 300]), ("delay_loop", [3, 6, 1.5]),
                              ("quorum", [1]), ("alpha", [True]), ("omega", [True]), ("ha_suspend", [True])):
            if draw(st.booleans()):
                server[field] = draw(st.sampled_from(values))
        if draw(st.integers(0, 3)) == 0:
            server["sorry_server"] = {"address": reals[2]}
            if server.get("lb_kind") not in ("DR", "TUN"):
                server["sorry_server"]["port"] = 8080
            server["sorry_server_inhibit"] = draw(st.booleans())
        usable = checks if protocol != "UDP" else checks[3:] + [{"type": "DNS_CHECK", "dns_type": "A", "dns_name": "example.com"}]
        # DR and TUN forward to the service's own port: the real servers' ports follow it, now and then not.
        port = server.get("port") if server.get("lb_kind") in ("DR", "TUN") and draw(st.integers(0, 5)) else 80
        if "address" not in server and server.get("lb_kind") in ("DR", "TUN") and draw(st.integers(0, 5)):
            port = None
        server["real_servers"] = [
            {"address": real, "port": port, "weight": 0 if draw(st.integers(0, 7)) == 7 else draw(st.integers(1, 10)),
             "inhibit_on_failure": draw(st.booleans()),
             "checks": draw(st.lists(st.sampled_from(usable), max_size=2, unique_by=str))}
            for real in reals[:draw(st.integers(1, 2))]]
        servers.append(server)
    return servers, groups


def inventories():
    """Strategy of Inventory: 1 to 4 hosts with shared instances and checks, per-host settings."""
    @st.composite
    def build(draw):
        count = draw(st.integers(1, 4))
        hosts = list(HOSTS[:count])
        ipv6 = draw(st.booleans())
        scripts, invalid = _scripts(draw)
        instances, per_host = _instances(draw, hosts, scripts, ipv6)
        for script in scripts:
            if "weight" not in script and draw(st.booleans()):
                script["weight"] = _weight(draw, 0)
        track_files, track_processes = _tracking(draw, instances)
        groups = _sync_groups(draw, instances, scripts)
        virtual_servers, server_groups = _virtual_servers(draw)
        shared = {
            "keepalived_script_user": draw(st.sampled_from(SCRIPT_USERS)),
            "keepalived_check_command": draw(st.sampled_from(CHECK_COMMANDS)),
            "keepalived_check_state_dir": draw(st.sampled_from(STATE_DIRS)),
            "keepalived_track_dir": draw(st.sampled_from(TRACK_DIRS)),
            "keepalived_track_files": track_files,
            "keepalived_track_processes": track_processes,
            "keepalived_sync_groups": groups,
            "keepalived_virtual_servers": virtual_servers,
            "keepalived_virtual_server_groups": server_groups,
        }
        hostvars = {}
        for host in hosts:
            own = json.loads(json.dumps(instances))
            for inst in own:
                inst.update(per_host[host].get(inst["name"], {}))
            hostvars[host] = dict(shared, inventory_hostname=host, inventory_hostname_short=host,
                                  keepalived_instances=own, keepalived_scripts=json.loads(json.dumps(scripts)),
                                  ansible_facts=host_facts(host, ipv6))
            if draw(st.booleans()):
                hostvars[host]["keepalived_router_id"] = "KA%d" % (HOSTS.index(host) + 1)
            hostvars[host].update(_host_config(draw))
            if any(inst.get("smtp_alert") for inst in own) and not hostvars[host].get("keepalived_smtp_server"):
                hostvars[host].update(keepalived_notification_email=["ops@example.com"], keepalived_smtp_server="192.0.2.25")
        # A host in no instance's priorities has nothing for keepalived to run (the preflight refuses it): the
        # inventory is the one of the hosts that are members (left out after every draw, which stay as they were).
        for host in hosts:
            if not any(host in inst["priorities"] for inst in instances):
                del hostvars[host]
        return Inventory(hostvars, invalid)

    return build()


# --- the role's own files, through Ansible's templating -------------------------------------------------

class Role:
    """The keepalived role's preflight view, model, plan and rendered tree, computed as the role does."""

    def __init__(self):
        from ansible.parsing.dataloader import DataLoader

        self.loader = DataLoader()

        def load(path):
            return self.loader.load_from_file(str(path), trusted_as_template=True)

        self.defaults = dict(load(KEEPALIVED_ROLE / "defaults" / "main.yml"))
        self.defaults.update(load(HEALTHCHECK_ROLE / "defaults" / "main.yml"))
        self.vars = dict(load(KEEPALIVED_ROLE / "vars" / "main.yml"))
        preflight = load(KEEPALIVED_ROLE / "tasks" / "preflight.yml")
        self.view_expr = next(t["ansible.builtin.set_fact"]["__keepalived_view"] for t in preflight
                              if "__keepalived_view" in (t.get("ansible.builtin.set_fact") or {}))
        self.model_expr = next(t["ansible.builtin.set_fact"]["__keepalived_model"] for t in preflight
                               if "__keepalived_model" in (t.get("ansible.builtin.set_fact") or {}))
        configure = next(t for t in load(KEEPALIVED_ROLE / "tasks" / "configure.yml")
                         if "failover.keepalived.keepalived_config" in t)
        self.config_args = configure["failover.keepalived.keepalived_config"]
        self.config_vars = dict(configure.get("vars") or {})

    def _templar(self, variables):
        from ansible.template import Templar

        return Templar(loader=self.loader, variables=variables)

    def _host_vars(self, inventory, host):
        variables = dict(self.defaults)
        variables.update(inventory.hostvars[host])
        variables.update(self.vars)
        variables["ansible_play_hosts_all"] = list(inventory.hostvars)
        variables["ansible_check_mode"] = False
        return variables

    def model(self, inventory):
        """The preflight's model of the inventory: each host's view, then the keepalived_model filter."""
        views = {host: self._templar(self._host_vars(inventory, host)).template(self.view_expr)
                 for host in inventory.hostvars}
        hostvars = {host: dict(inventory.hostvars[host], __keepalived_view=views[host]) for host in views}
        variables = dict(self._host_vars(inventory, next(iter(views))), hostvars=hostvars)
        return views, _plain(self._templar(variables).template(self.model_expr))

    def tree(self, inventory, model, host):
        """{path relative to the config dir: text} of one host, as configure.yml renders it."""
        variables = self._host_vars(inventory, host)
        variables.update(self.config_vars)
        variables.update(__keepalived_model=model, __keepalived_defer=True,
                         ansible_search_path=[str(KEEPALIVED_ROLE)])
        templar = self._templar(variables)
        include_dir = templar.template(self.config_args["include_dir"])
        tree = {"keepalived.conf": templar.template(self.config_args["main"])}
        for key in ("files", "secret_files"):
            for name, text in (templar.template(self.config_args[key]) or {}).items():
                tree["%s/%s" % (include_dir, name)] = text
        # Not under the configuration directory: the arguments keepalived starts with (host.yml), which the lab
        # passes to keepalived -t.
        from ansible.template import trust_as_template

        tree[DAEMON_FILE] = templar.template(trust_as_template("{{ lookup('ansible.builtin.template', 'daemon.default.j2') }}"))
        return _plain(tree)

    def default(self, name):
        return _plain(self.defaults[name])

    def healthcheck_file(self, template, **variables):
        """One healthcheck role template rendered with its defaults and the given private inputs."""
        values = dict(self.defaults, ansible_search_path=[str(HEALTHCHECK_ROLE)], **variables)
        expr = "{{ lookup('ansible.builtin.template', '%s') }}" % template
        from ansible.template import trust_as_template

        return str(self._templar(values).template(trust_as_template(expr)))


_WORKER = {}


def _worker_start(root):
    """In the renderer's process: Ansible's collection loader with the checkout among the collections."""
    from ansible.plugins.loader import init_plugin_loader

    sys.path.insert(0, root)
    init_plugin_loader([root])
    _WORKER["role"] = Role()


def _worker_render(hostvars):
    inventory = Inventory(hostvars)
    role = _WORKER["role"]
    views, model = role.model(inventory)
    trees = {} if model["errors"] else {host: role.tree(inventory, model, host) for host in sorted(model["plans"])}
    return views, model, trees


def _worker_call(method, *args, **kwargs):
    return getattr(_WORKER["role"], method)(*args, **kwargs)


class Renderer:
    """Role, in a process of its own: Ansible's collection loader is state of a whole process, which the other
    tests of a pytest session (that import the collection from sys.path) must not share."""

    def __init__(self):
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_worker_start, initargs=(_collections_root(),))

    def render(self, inventory):
        """(views, model, {host: tree}) of an inventory; no trees when the preflight refuses it."""
        return self.pool.submit(_worker_render, inventory.hostvars).result()

    def healthcheck_file(self, template, **variables):
        return self.pool.submit(_worker_call, "healthcheck_file", template, **variables).result()

    def default(self, name):
        return self.pool.submit(_worker_call, "default", name).result()


def _plain(value):
    """Ansible's tagged containers and strings as plain Python values."""
    return json.loads(json.dumps(value, default=str))


# --- keepalived's own word splitting -------------------------------------------------------------------

WHITE_SPACE = " \t\f\n\r\v"
ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def keepalived_words(src):
    """Split a line as keepalived's alloc_strvec_quoted_escaped() does; raise ValueError where it fails.

    Words are separated by white space; '...' and "..." quote (and may join a word's parts, as in a
    shell); a backslash escapes the next character, inside quotes too, with C's escapes.
    """
    words, pos, quote = [], 0, None
    while pos < len(src):
        while pos < len(src) and src[pos] in WHITE_SPACE:
            pos += 1
        if pos >= len(src):
            break
        word = []
        while pos < len(src):
            char = src[pos]
            if char == "\\":
                pos += 1
                if pos >= len(src):
                    raise ValueError("missing escape char at end: %r" % src)
                char = src[pos]
                if char == "x" and pos + 1 < len(src) and src[pos + 1] in "0123456789abcdefABCDEF":
                    digits = re.match(r"[0-9a-fA-F]+", src[pos + 1:]).group(0)
                    word.append(chr(int(digits, 16) & 0xFF))
                    pos += 1 + len(digits)
                elif char == "c" and pos + 1 < len(src):
                    word.append(chr(ord(src[pos + 1]) & 0x1F))
                    pos += 2
                elif char in "01234567":
                    digits = re.match(r"[0-7]{1,3}", src[pos:]).group(0)
                    word.append(chr(int(digits, 8) & 0xFF))
                    pos += len(digits)
                else:
                    word.append(ESCAPES.get(char, char))
                    pos += 1
                continue
            if quote:
                if char == quote:
                    quote = None
                else:
                    word.append(char)
                pos += 1
                continue
            if char in "'\"":
                quote = char
                pos += 1
                continue
            if char in WHITE_SPACE:
                break
            word.append(char)
            pos += 1
        if quote:
            raise ValueError("string %r: missing terminating %s" % (src, quote))
        words.append("".join(word))
    return words


def script_lines(main_conf):
    """{vrrp_script name: the text of its `script` line} in a rendered keepalived.conf."""
    found, current = {}, None
    for line in main_conf.splitlines():
        words = line.split()
        if words[:1] == ["vrrp_script"] and len(words) >= 2:
            current = words[1]
        elif words[:1] == ["script"] and current:
            found[current] = line.strip()
        elif words[:1] == ["}"]:
            current = None
    return found


def script_argv(line):
    """The argv keepalived runs for a `script "..."` line: the line's words, then the command's words."""
    words = keepalived_words(line)
    if len(words) < 2:
        raise ValueError("no command in %r" % line)
    return keepalived_words(words[1])


# --- the lab container -------------------------------------------------------------------------------------

class Lab:
    """One lab container (no network, systemd as PID 1) that validates many trees at once."""

    def __init__(self, name):
        self.name = name

    @staticmethod
    def unavailable():
        """Why no lab container can be started here, or None."""
        if shutil.which("podman") is None:
            return "podman is not installed (lab/setup.sh)"
        if os.geteuid() != 0:
            return "the lab containers need root"
        if subprocess.run(PODMAN + ["image", "exists", IMAGE], capture_output=True, check=False).returncode != 0:
            return "lab image %s is not built (lab/build-image.sh bookworm)" % IMAGE
        return None

    def podman(self, *args, stdin=None, timeout=300, check=True):
        proc = subprocess.run(PODMAN + list(args), input=stdin, capture_output=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            output = (proc.stdout + proc.stderr).decode(errors="replace")
            raise AssertionError("podman %s failed (%d): %s" % (" ".join(args[:3]), proc.returncode, output))
        return proc

    def sh(self, script, stdin=None, timeout=300, check=True):
        return self.podman("exec", "-i", self.name, "sh", "-c", script, stdin=stdin, timeout=timeout, check=check)

    def start(self):
        self.podman("rm", "-f", self.name, check=False)
        self.podman("run", "-d", "--name", self.name, "--systemd=always", "--network", "none",
                    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                    "--cap-add", "NET_ADMIN,NET_RAW,NET_BROADCAST", IMAGE, "/sbin/init")
        proc = subprocess.run(["bash", str(REPO / "lab" / "wait-booted.sh"), self.name], capture_output=True,
                              text=True, timeout=180, check=False)
        if proc.returncode != 0:
            raise AssertionError("lab container %s did not boot: %s" % (self.name, proc.stdout + proc.stderr))

    def stop(self):
        self.podman("rm", "-f", "-t", "0", self.name, check=False, timeout=120)

    def prepare(self, role):  # role: a Renderer
        """Interfaces with every host's addresses, the script users, the check program and notify script."""
        lines = ["set -e"]
        for index, iface in enumerate(INTERFACES):
            lines.append("ip link add %s type veth peer name kp%d" % (iface, index))
            lines.append("ip link set %s up" % iface)
            for host in HOSTS:
                lines.append("ip addr add %s/24 dev %s" % (host_address(host, iface, 4), iface))
                lines.append("ip -6 addr add %s/64 dev %s nodad" % (host_address(host, iface, 6), iface))
        for user in SCRIPT_USERS:
            lines.append("id -u %s >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin %s"
                         % (user, user))
        lines.append("mkdir -p %s" % " ".join(STATE_DIRS + TRACK_DIRS))
        self.sh("\n".join(lines))
        lib_dir = role.default("healthcheck_lib_dir")
        files = {}
        for path in sorted(CHECK_PACKAGE.rglob("*.py")):
            files["%s/keepalived_check/%s" % (lib_dir, path.relative_to(CHECK_PACKAGE))] = (path.read_text(), 0o644)
        launcher = role.healthcheck_file("keepalived-check.j2")
        for command in CHECK_COMMANDS:
            files[command] = (launcher, 0o755)
        files[NOTIFY_COMMAND] = ("#!/bin/sh\nexit 0\n", 0o755)
        self.put(files)
        # The program runs there, as the script user, with the image's Python.
        for user, command in zip(SCRIPT_USERS, CHECK_COMMANDS):
            proc = self.sh("runuser -u %s -- %s file --path /nonexistent" % (user, command), check=False)
            assert proc.returncode == 0, "%s as %s: %s" % (command, user, (proc.stdout + proc.stderr).decode())

    def put(self, files):
        """Write {absolute path: (text, mode)} into the container, root-owned, through one tar stream."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs = set()
            for path in files:
                parent = os.path.dirname(path)
                while parent not in ("/", ""):
                    dirs.add(parent)
                    parent = os.path.dirname(parent)
            for path in sorted(dirs):
                info = tarfile.TarInfo(path.lstrip("/"))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(info)
            for path, (text, mode) in sorted(files.items()):
                data = text.encode()
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        # --no-overwrite-dir: directories that exist (/usr, /run, ...) keep their modes.
        self.sh("tar -C / --no-overwrite-dir --no-same-owner -xf -", stdin=buf.getvalue())

    def validate(self, trees):
        """keepalived -t on each {case: {relative path: text}}; returns {case: (rc, output)} of the failures.

        Run as keepalived_config runs it (in the tree's directory, SIGTERM ignored: keepalived 2.2.7
        sends itself SIGTERM at the end of a test of a configuration with tracked scripts).
        """
        files = {}
        for case, tree in trees.items():
            for rel, text in tree.items():
                files["/cases/%s/%s" % (case, rel)] = (text, 0o600 if rel.endswith(".auth") else 0o644)
        self.sh("rm -rf /cases")
        self.put(files)
        loop = r"""
for conf in /cases/*/keepalived.conf; do
  dir=${conf%/keepalived.conf}
  args=$( [ -f "$dir/@DAEMON_FILE@" ] && . "$dir/@DAEMON_FILE@" && printf '%s' "$DAEMON_ARGS")
  # shellcheck disable=SC2086 (the arguments are words, as systemd splits $DAEMON_ARGS)
  out=$(cd "$dir" && sh -c 'trap "" TERM; conf=$1; shift; exec keepalived "$@" -t -f "$conf"' sh "$conf" $args 2>&1)
  rc=$?
  # keepalived takes a bad --umask with a message and exit 0.
  if [ "$rc" -ne 0 ] || printf '%s\n' "$out" | grep -q -e '^Unknown option' -e '^Invalid --'; then
    printf '=== %s %s\n%s\n' "${dir#/cases/}" "$rc" "$out"
  fi
done
echo '=== done'
""".replace("@DAEMON_FILE@", DAEMON_FILE)
        out = self.sh(loop, timeout=1800).stdout.decode(errors="replace")
        assert out.rstrip().endswith("=== done"), out[-3000:]
        failures = {}
        for block in out.split("=== ")[1:]:
            head, body = block.split("\n", 1) if "\n" in block else (block, "")
            if head.strip() == "done":
                continue
            case, rc = head.rsplit(" ", 1)
            failures[case] = (int(rc), body.strip())
        return failures

    def keepalived_argv(self, lines):
        """How a real keepalived splits each `script "..."` line: {line: [words]} from its -d dump.

        keepalived is started once (VRRP only, in the foreground) on a configuration with one
        vrrp_script per line, tracked by one instance on an interface of the lab, and stopped.
        """
        names = {"s%d" % index: line for index, line in enumerate(lines)}
        conf = ["global_defs {", "    router_id SPLIT", "    enable_script_security",
                "    script_user keepalived_script", "}"]
        for name, line in names.items():
            conf += ["vrrp_script %s {" % name, "    " + line, "    interval 60", "}"]
        conf += ["vrrp_instance SPLIT {", "    state BACKUP", "    interface eth1", "    virtual_router_id 250",
                 "    priority 10", "    virtual_ipaddress {", "        192.0.2.250/32", "    }", "    track_script {"]
        conf += ["        %s" % name for name in names] + ["    }", "}"]
        self.put({"/cases-split/keepalived.conf": ("\n".join(conf) + "\n", 0o644)})
        # Until every script is dumped (30 s at most), then SIGINT, and SIGKILL 10 s later if it is still
        # there (a SIGINT that comes before keepalived handles signals must not leave `wait` hanging).
        # The log exists before the loop counts its lines: an empty count would end the loop at once.
        out = self.sh(
            ": >/tmp/split.log; "
            "keepalived --vrrp -n -l -d -p /run/split.pid -r /run/split-vrrp.pid -f /cases-split/keepalived.conf "
            ">>/tmp/split.log 2>&1 & pid=$!; i=0; "
            "while [ $i -lt 300 ] && [ \"$(grep -c 'Command = ' /tmp/split.log)\" -lt %d ]; do sleep 0.1; i=$((i+1)); done; "
            "kill -INT $pid; (sleep 10; kill -KILL $pid) >/dev/null 2>&1 & guard=$!; wait $pid; kill $guard; "
            "cat /tmp/split.log"
            % len(names), timeout=120).stdout.decode(errors="replace")
        found, current = {}, None
        for text in out.splitlines():
            match = re.search(r"VRRP Script = (\S+)$", text)
            if match:
                current = match.group(1)
                continue
            match = re.search(r"Command = (.*)$", text)
            if match and current in names:
                found[names[current]] = re.findall(r"'([^']*)'", match.group(1))
                current = None
        return found, out
