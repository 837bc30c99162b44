# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight rules and the per-host plan, as tables of inventories."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.failover.keepalived.plugins.module_utils import _model
from ansible_collections.failover.keepalived.plugins.module_utils._model import (
    checks, host_system, plan, preflight, sync_groups, tracking, values, virtual_servers,
)

TOP = Path(__file__).resolve().parents[5]


def seed_views():
    """The seed's two-node example, as the role's preflight describes each host."""
    instance = {
        "name": "WEB1",
        "interface": "eth0",
        "virtual_router_id": 66,
        "advert_int": 1,
        "auth_pass": "666",
        "priorities": {"node1": 100, "node2": 80},
        "virtual_ipaddresses": [{"address": "10.0.0.100/24", "dev": "eth0", "label": "eth0:0"}],
        "track_scripts": ["check_test"],
    }
    script = {"name": "check_test", "check": "file", "args": {"path": "/etc/keepalived/down"},
              "interval": 2, "weight": -30, "fall": 2, "rise": 2}
    views = {}
    for host, rid, addr in (("node1", "KA1", "10.0.0.18"), ("node2", "KA2", "10.0.0.28")):
        views[host] = {
            "router_id": rid,
            "instances": [copy.deepcopy(instance)],
            "scripts": [copy.deepcopy(script)],
            "script_user": "keepalived_script",
            "check_command": "/usr/local/bin/keepalived-check",
            "state_dir": "/run/keepalived-check",
            "track_dir": "/run/keepalived-check/track",
            "addresses": {"lo": ["127.0.0.1"], "eth0": [addr]},
        }
    return views


def on_all(views, fn):
    for view in views.values():
        fn(view)
    return views


def inst(view):
    return view["instances"][0]


def scr(view):
    return view["scripts"][0]


def test_seed_example_passes():
    assert _model.build(seed_views())["errors"] == []


# Each bad inventory, and words its message must contain: the host, the variable and the fix.
BAD = [
    ("priority out of range",
     lambda v: on_all(v, lambda h: inst(h)["priorities"].update(node1=300)),
     ["node1", "priority", "outside 1..254", "Fix:"]),
    ("priority zero",
     lambda v: on_all(v, lambda h: inst(h)["priorities"].update(node2=0)),
     ["node2", "priority", "outside 1..254"]),
    ("vrid out of range",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_router_id=256)),
     ["virtual_router_id", "outside 1..255", "Fix:"]),
    ("vrid shared on one interface",
     lambda v: on_all(v, lambda h: h["instances"].append(
         dict(copy.deepcopy(inst(h)), name="WEB2", virtual_ipaddresses=["10.0.0.101/24"]))),
     ["virtual_router_id", "also used by instance WEB1", "own virtual_router_id"]),
    ("same priority twice",
     lambda v: on_all(v, lambda h: inst(h)["priorities"].update(node2=100)),
     ["node1, node2", "same priority 100", "own priority"]),
    ("weight out of range",
     lambda v: on_all(v, lambda h: scr(h).update(weight=-300)),
     ["keepalived_scripts[0] (check_test).weight", "outside -253..253"]),
    ("weight too small to move the VIP",
     lambda v: on_all(v, lambda h: scr(h).update(weight=-10)),
     ["node1", "check_test", "drops from 100 to 90", "not below node2's 80", "weight to -21 or lower"]),
    ("weight that only ties the backup",
     lambda v: on_all(v, lambda h: scr(h).update(weight=-20)),
     ["drops from 100 to 80", "VIP never moves"]),
    ("positive weight too small",
     lambda v: on_all(v, lambda h: scr(h).update(weight=10)),
     ["weight 10", "VIP never moves", "or higher"]),
    ("per-instance weight override too small",
     lambda v: on_all(v, lambda h: inst(h).update(track_scripts=[{"name": "check_test", "weight": -5}])),
     ["weight -5", "VIP never moves"]),
    ("auth_pass too long",
     lambda v: on_all(v, lambda h: inst(h).update(auth_pass="123456789")),
     ["auth_pass", "9 characters", "at most 8", "1 to 8"]),
    ("auth with VRRPv3",
     lambda v: on_all(v, lambda h: inst(h).update(vrrp_version=3)),
     ["auth_pass", "VRRPv3 has no authentication"]),
    ("malformed VIP",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddresses=["10.0.0.300/24"])),
     ["virtual_ipaddresses[0]", "malformed", "not an address"]),
    ("VIP with a netmask instead of a prefix",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddresses=["10.0.0.100/255.255.255.0"])),
     ["virtual_ipaddresses[0]", "prefix as a length"]),
    ("VIP label not on its device",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddresses=[
         {"address": "10.0.0.100/24", "dev": "eth0", "label": "eth1:0"}])),
     ["label 'eth1:0'", "must start with 'eth0:'"]),
    ("VIP is the network address",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddresses=["10.0.0.0/24"])),
     ["network or broadcast"]),
    ("nopreempt on a MASTER",
     lambda v: on_all(v, lambda h: inst(h).update(nopreempt=True, state="MASTER")),
     ["nopreempt", "state MASTER", "state: BACKUP"]),
    ("negative weight on a nopreempt instance",
     lambda v: on_all(v, lambda h: inst(h).update(nopreempt=True)),
     ["instance WEB1 has nopreempt", "check_test (weight -30) can never move it", "weight 0"]),
    ("unicast peers contain the host itself",
     lambda v: on_all(v, lambda h: inst(h).update(unicast_peers=["10.0.0.18", "10.0.0.28"])),
     ["unicast_peers", "an address of this host itself"]),
    ("unknown check type",
     lambda v: on_all(v, lambda h: scr(h).update(check="ping")),
     ["check", "'ping'", "unknown check type", "use one of file"]),
    ("check and script both set",
     lambda v: on_all(v, lambda h: scr(h).update(script="/bin/true")),
     ["exactly one of 'check'"]),
    ("check argument name typo",
     lambda v: on_all(v, lambda h: scr(h).update(args={"pth": "/etc/keepalived/down"})),
     ["node1: keepalived_scripts[0] (check_test).args", "'pth'", "check file does not take", "did you mean path?"]),
    ("unknown check argument",
     lambda v: on_all(v, lambda h: scr(h).update(args={"bogus": "x"})),
     ["(check_test).args", "'bogus'", "remove it (file takes: path)"]),
    ("missing required check argument",
     lambda v: on_all(v, lambda h: scr(h).update(check="http", args={})),
     ["(check_test).args", "lacks url, which check http requires", "add url"]),
    ("check argument of the wrong type",
     lambda v: on_all(v, lambda h: scr(h).update(check="tcp", args={"port": "http"})),
     ["(check_test).args.port", "'http', not a whole number"]),
    ("check argument out of range",
     lambda v: on_all(v, lambda h: scr(h).update(check="tcp", args={"port": 70000})),
     ["(check_test).args.port", "outside 1..65535"]),
    ("check argument outside its choices",
     lambda v: on_all(v, lambda h: scr(h).update(check="http", args={"url": "http://127.0.0.1/", "method": "POST"})),
     ["(check_test).args.method", "not one of GET, HEAD"]),
    ("a flag given a value",
     lambda v: on_all(v, lambda h: scr(h).update(check="http", args={"url": "http://127.0.0.1/", "insecure": "yes"})),
     ["(check_test).args.insecure", "is a flag"]),
    ("one value given a list",
     lambda v: on_all(v, lambda h: scr(h).update(args={"path": ["/a", "/b"]})),
     ["(check_test).args.path", "takes one value"]),
    ("a URL that is not http",
     lambda v: on_all(v, lambda h: scr(h).update(check="http", args={"url": "ftp://127.0.0.1/"})),
     ["(check_test).args.url", "not an http:// or https:// URL"]),
    ("process check without a selector",
     lambda v: on_all(v, lambda h: scr(h).update(check="process", args={"min_count": 2})),
     ["(check_test).args", "none of name, cmdline, pidfile"]),
    ("haproxy frontend without the stats socket",
     lambda v: on_all(v, lambda h: scr(h).update(check="haproxy", args={"frontend": ["web"]})),
     ["(check_test).args", "frontend without stats_socket"]),
    ("a combined check with a typo inside",
     lambda v: on_all(v, lambda h: scr(h).update(check="all", args={"check": ["file:pth=/x", "tcp:port=80"]})),
     ["(check_test).args.check", "'file:pth=/x'", "did you mean path?"]),
    ("a combined check of an unknown check",
     lambda v: on_all(v, lambda h: scr(h).update(check="any", args={"check": ["tpc:port=80"]})),
     ["(check_test).args.check", "'tpc'", "did you mean tcp?"]),
    ("a combined check in the spaced form, which a script line cannot carry",
     lambda v: on_all(v, lambda h: scr(h).update(check="all", args={"check": ["process --name haproxy"]})),
     ["(check_test).args.check", "contains spaces", "compact form"]),
    ("check user is root",
     lambda v: v["node1"].update(script_user="root"),
     ["node1: keepalived_script_user", "'root'", "never root"]),
    ("check user name longer than systemd-sysusers takes",
     lambda v: v["node1"].update(script_user="k" * 32),
     ["node1: keepalived_script_user", "at most 31 characters (systemd-sysusers creates it)"]),
    ("track dir outside /run",
     lambda v: v["node2"].update(track_dir="/var/lib/track"),
     ["node2: keepalived_track_dir", "not a directory under /run"]),
    ("state dir not absolute",
     lambda v: v["node1"].update(state_dir="run/kc"),
     ["node1: keepalived_check_state_dir", "not an absolute path"]),
    ("check argument with a space",
     lambda v: on_all(v, lambda h: scr(h).update(args={"path": "/etc/keepalived/my down"})),
     ["args.path", "contains spaces"]),
    ("remediation without unit or command",
     lambda v: on_all(v, lambda h: scr(h).update(remediate={"max": 2})),
     ["remediate", "exactly one of 'unit'"]),
    ("remediation without time to settle",
     lambda v: on_all(v, lambda h: scr(h).update(remediate={"unit": "nginx.service", "settle": 2})),
     ["remediate", "may only run 1.6 s", "timeout to at least 6"]),
    ("remediation of a raw script",
     lambda v: on_all(v, lambda h: h["scripts"].__setitem__(0, {"name": "check_test", "script": "/bin/true",
                                                                "weight": -30, "remediate": {"unit": "x"}})),
     ["remediate", "use 'check'"]),
    ("track of an undefined script",
     lambda v: on_all(v, lambda h: inst(h).update(track_scripts=["check_missing"])),
     ["track_scripts", "'check_missing'", "does not define"]),
    ("two hosts share a router_id",
     lambda v: v["node2"].update(router_id="KA1"),
     ["node1, node2", "router_id 'KA1'", "its own router_id"]),
    ("members disagree on the VRID",
     lambda v: inst(v["node2"]).update(virtual_router_id=67),
     ["different virtual_router_id", "node1=66", "node2=67"]),
    ("members disagree on the password, which stays hidden",
     lambda v: inst(v["node2"]).update(auth_pass="777"),
     ["different auth_pass", "(hidden)"]),
    ("fractional advert with VRRPv2",
     lambda v: on_all(v, lambda h: inst(h).update(advert_int=0.5)),
     ["advert_int", "whole seconds", "vrrp_version: 3"]),
    ("member outside the play",
     lambda v: on_all(v, lambda h: inst(h)["priorities"].update(node3=60)),
     ["priorities", "node3", "not in this play", "unicast_peers"]),
    ("no address for unicast",
     lambda v: v["node2"].update(addresses={"lo": ["127.0.0.1"]}),
     ["node2", "unicast_src_ip", "no address on eth0", "gather facts"]),
    ("host without settings",
     lambda v: v.update(node2=None),
     ["node2", "has no keepalived settings"]),
    ("no priority for a member",
     lambda v: on_all(v, lambda h: inst(h).pop("priorities")),
     ["has no priority for this host", "priorities:"]),
    ("fractional vrrp_script interval",
     lambda v: on_all(v, lambda h: scr(h).update(interval=0.5)),
     ["node1", "keepalived_scripts[0] (check_test).interval", "is 0.5", "1..4294 whole seconds", "runner: true"]),
    ("vrrp_script timeout beyond keepalived's range",
     lambda v: on_all(v, lambda h: scr(h).update(timeout=5000)),
     ["(check_test).timeout", "is 5000", "whole number of seconds"]),
    ("the instance's own interface tracked",
     lambda v: on_all(v, lambda h: inst(h).update(track_interfaces=["eth0"])),
     ["(WEB1).track_interfaces", "names eth0, the instance's own interface", "remove it"]),
    ("nopreempt with preempt_delay",
     lambda v: on_all(v, lambda h: inst(h).update(nopreempt=True, preempt_delay=10)),
     ["(WEB1).preempt_delay", "together with nopreempt", "remove preempt_delay"]),
    ("AH authentication on a MASTER",
     lambda v: inst(v["node1"]).update(state="MASTER", auth_type="AH"),
     ["node1", "(WEB1).auth_type", "AH on an instance with state MASTER", "state: BACKUP or auto"]),
    ("password on an IPv6 instance (VRRPv3 whatever vrrp_version says)",
     lambda v: on_all(v, lambda h: (inst(h).update(virtual_ipaddresses=["fd00::100/64"]),
                                    h["addresses"].update(eth0=["fd00::%s" % h["router_id"][-1]]))),
     ["(WEB1).auth_pass", "VRRPv3 has no authentication", "runs an IPv6 instance as VRRPv3", "remove auth_pass"]),
    ("advert_int beyond VRRPv3 on an IPv6 instance",
     lambda v: on_all(v, lambda h: (inst(h).update(virtual_ipaddresses=["fd00::100/64"], auth_pass=None, advert_int=60),
                                    h["addresses"].update(eth0=["fd00::%s" % h["router_id"][-1]]))),
     ["(WEB1).advert_int", "is 60, outside VRRPv3's 0.01..40.95 s", "runs an IPv6 instance as VRRPv3"]),
    ("label on an IPv6 VIP",
     lambda v: on_all(v, lambda h: inst(h).update(auth_pass=None, virtual_ipaddresses=[
         {"address": "fd00::100/64", "label": "eth0:1"}])),
     ["virtual_ipaddresses[0]", "an IPv6 address takes no label", "remove label"]),
    ("non-global scope on an IPv6 VIP",
     lambda v: on_all(v, lambda h: inst(h).update(auth_pass=None, virtual_ipaddresses=[
         {"address": "fd00::100/64", "scope": "site"}])),
     ["virtual_ipaddresses[0]", "keepalived drops scope site", "remove scope"]),
    ("remediation window longer than the program takes",
     lambda v: on_all(v, lambda h: scr(h).update(timeout=5, remediate={"unit": "nginx.service", "window": 604800})),
     ["(check_test).remediate.window", "is 604800, outside 0.001..86400", "use a value in 0.001..86400"]),
    ("route without a gateway, an interface or a type",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_routes=[{"to": "10.1.0.0/16"}])),
     ["(WEB1).virtual_routes[0]", "needs via (a gateway) or dev", "write e.g. {to: 10.1.0.0/16, via: 10.0.0.1}"]),
    ("route mixing address families",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_routes=[{"to": "fd00:1::/64", "via": "10.0.0.1"}])),
     ["(WEB1).virtual_routes[0]", "mixes IPv4 and IPv6"]),
    ("blackhole route with a gateway",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_routes=[{"to": "10.9.0.0/16", "type": "blackhole",
                                                                   "via": "10.0.0.1"}])),
     ["a blackhole route has no gateway; remove via"]),
    ("route with a typo'd field",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_routes=[{"to": "10.1.0.0/16", "gw": "10.0.0.1"}])),
     ["(WEB1).virtual_routes[0]", "unknown field(s) gw"]),
    ("rule without a table",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_rules=[{"from": "10.0.0.100"}])),
     ["(WEB1).virtual_rules[0]", "has no table"]),
    ("rule without a priority",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_rules=[{"from": "10.0.0.100", "table": 100}])),
     ["(WEB1).virtual_rules[0]", "has no priority", "{from: 10.0.0.100, table: 100, priority: 100}"]),
    ("VMAC on a unicast instance without vmac_xmit_base",
     lambda v: on_all(v, lambda h: inst(h).update(use_vmac=True)),
     ["(WEB1).use_vmac", "unicast instance without vmac_xmit_base", "set vmac_xmit_base: true"]),
    ("smtp server given by name",
     lambda v: v["node1"].update(smtp_server="smtp.example.com"),
     ["keepalived_smtp_server is 'smtp.example.com', not an IP address", "e.g. 192.0.2.25"]),
    ("rule that matches nothing",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_rules=[{"table": 100, "priority": 10}])),
     ["(WEB1).virtual_rules[0]", "matches nothing"]),
    ("rule priority of the kernel's own",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_rules=[{"from": "10.0.0.100", "table": 100,
                                                                  "priority": 32766}])),
     ["priority 32766 is outside 1..32765"]),
    ("excluded address malformed",
     lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddress_excluded=["10.0.0.300/24"])),
     ["(WEB1).virtual_ipaddress_excluded[0]", "is malformed"]),
    ("excluded addresses differ between members",
     lambda v: inst(v["node2"]).update(virtual_ipaddress_excluded=["fd00::100/64"]),
     ["instance WEB1 has different virtual_ipaddress_excluded"]),
    ("VMAC named like the instance's own interface",
     lambda v: on_all(v, lambda h: inst(h).update(use_vmac="eth0")),
     ["(WEB1).use_vmac", "names eth0, the instance's own interface", "vrrp.66"]),
    ("vmac_xmit_base without use_vmac",
     lambda v: on_all(v, lambda h: inst(h).update(vmac_xmit_base=True)),
     ["(WEB1).vmac_xmit_base", "without use_vmac"]),
    ("unicast_ttl out of range",
     lambda v: on_all(v, lambda h: inst(h).update(unicast_ttl=0)),
     ["(WEB1).unicast_ttl", "is 0, outside 1..255"]),
    ("a host in no instance's priorities, with nothing else in conf.d",
     lambda v: on_all(v, lambda h: inst(h)["priorities"].pop("node2")),
     ["node2: keepalived_instances gives this host no instance", "nothing in conf.d",
      "add node2 to the priorities of an instance, or leave it out of the play"]),
    ("down_timer_adverts zero",
     lambda v: on_all(v, lambda h: inst(h).update(down_timer_adverts=0)),
     ["(WEB1).down_timer_adverts is 0, outside keepalived's 1..100", "e.g. 6 with advert_int 0.02"]),
    ("down_timer_adverts above keepalived's 100",
     lambda v: on_all(v, lambda h: inst(h).update(down_timer_adverts=101)),
     ["(WEB1).down_timer_adverts is 101, outside keepalived's 1..100"]),
    ("down_timer_adverts not a whole number",
     lambda v: on_all(v, lambda h: inst(h).update(down_timer_adverts=2.5)),
     ["(WEB1).down_timer_adverts is 2.5, outside keepalived's 1..100"]),
    ("down_timer_adverts beside global options that are not a dict",
     lambda v: on_all(v, lambda h: (inst(h).update(down_timer_adverts=6), h.update(global_options=["vrrp_strict"]))),
     ["keepalived_global_options is not a dict"]),
    ("down_timer_adverts with vrrp_strict, which resets it",
     lambda v: on_all(v, lambda h: (inst(h).update(down_timer_adverts=6), h.update(global_options={"vrrp_strict": True}))),
     ["(WEB1).down_timer_adverts is 6 on a host with vrrp_strict", "remove down_timer_adverts, or vrrp_strict"]),
    ("unicast_ttl on a multicast instance",
     lambda v: on_all(v, lambda h: inst(h).update(unicast=False, unicast_ttl=2)),
     ["(WEB1).unicast_ttl", "multicast instance"]),
    ("notify_master_rx_lower_pri with a double quote",
     lambda v: on_all(v, lambda h: inst(h).update(notify_master_rx_lower_pri='/bin/echo "x"')),
     ["(WEB1).notify_master_rx_lower_pri", "double quotes", "script file"]),
    ("smtp_alert without a mail server",
     lambda v: on_all(v, lambda h: inst(h).update(smtp_alert=True)),
     ["(WEB1).smtp_alert", "no keepalived_notification_email or keepalived_smtp_server", "set both"]),
    ("notification address malformed",
     lambda v: v["node1"].update(notification_email=["ops"]),
     ["node1", "keepalived_notification_email[0] is 'ops', not an e-mail address"]),
    ("smtp port out of range",
     lambda v: v["node1"].update(smtp_server="192.0.2.25", smtp_port=70000),
     ["keepalived_smtp_port is 70000, outside 1..65535"]),
    ("global option the role writes itself",
     lambda v: v["node1"].update(global_options={"router_id": "X"}),
     ["keepalived_global_options.router_id is written by the role itself", "set keepalived_router_id instead"]),
    ("global vrrp_version, which every instance's own checks would not see",
     lambda v: v["node1"].update(global_options={"vrrp_version": 3}),
     ["keepalived_global_options.vrrp_version is written by the role itself",
      "set keepalived_instances[].vrrp_version instead"]),
    ("global option that would open a block",
     lambda v: v["node1"].update(global_options={"vrrp_garp_interval": "1 }"}),
     ["keepalived_global_options.vrrp_garp_interval", "not one line of plain words"]),
    ("extra config outside a block",
     lambda v: v["node1"].update(extra_config="vrrp_garp_master_delay 1\n"),
     ["keepalived_extra_config line 1 (vrrp_garp_master_delay) is outside any block", "whole top-level blocks"]),
    ("extra config that closes the block it sits in",
     lambda v: v["node1"].update(extra_config="garp_group {\n  garp_interval 1\n}\n}\n"),
     ["keepalived_extra_config line 4 closes a block that was never opened"]),
    ("extra config left open",
     lambda v: v["node1"].update(extra_config="garp_group {\n  garp_interval 1\n"),
     ["keepalived_extra_config 1 block(s) are not closed"]),
    ("extra config taking over global_defs",
     lambda v: v["node1"].update(extra_config="global_defs {\n  router_id X\n}\n"),
     ["keepalived_extra_config line 1 opens global_defs, which the role writes itself"]),
    ("extra config with a block the role models",
     lambda v: v["node1"].update(extra_config="vrrp_sync_group G {\n  group {\n    WEB1\n  }\n}\n"),
     ["line 1 opens vrrp_sync_group, which the role writes itself (use keepalived_sync_groups)"]),
    ("extra config including files",
     lambda v: v["node1"].update(extra_config="virtual_server 10.0.0.100 80 {\n  include /tmp/x\n}\n"),
     ["keepalived_extra_config line 2 includes other files"]),
    ("instance named like the extra config file",
     lambda v: on_all(v, lambda h: inst(h).update(name="keepalived-extra")),
     ["name is keepalived-extra, the name of the role's file of keepalived_extra_config"]),
    ("start in maintenance with state MASTER",
     lambda v: (v["node1"].update(start_in_maintenance=True), on_all(v, lambda h: inst(h).update(state="MASTER"))),
     ["node1: keepalived_start_in_maintenance is true, but instance WEB1 has state MASTER"]),
    ("nonlocal_bind given as a string",
     lambda v: v["node1"].update(nonlocal_bind="yes"),
     ["node1", "keepalived_nonlocal_bind is 'yes', not true, false or null"]),
    ("the package upgraded everywhere at once",
     lambda v: v["node1"].update(package_state="latest"),
     ["node1: keepalived_package_state is latest, which upgrades keepalived on every host in the same task",
      "upgrade with playbooks/upgrade.yml"]),
    ("metrics switched on with a word Ansible does not take for a bool",
     lambda v: v["node1"].update(metrics_enabled="sometimes", metrics_dir="/var/lib/prometheus/node-exporter",
                                 metrics_interval=5, metrics_exporter_package="prometheus-node-exporter"),
     ["node1: keepalived_metrics_enabled is 'sometimes', not true or false"]),
    ("metrics into a relative directory, too often, from a package name with a space",
     lambda v: v["node1"].update(metrics_enabled=True, metrics_dir="prom", metrics_interval=0.1,
                                 metrics_exporter_package="node exporter"),
     ["keepalived_metrics_dir is 'prom', not an absolute path", "keepalived_metrics_interval is 0.1, outside 0.5..3600",
      "keepalived_metrics_exporter_package is 'node exporter', not a package name"]),
    ("tcp_retries2 below what keeps a connection through a move",
     lambda v: v["node1"].update(tcp_retries2=1),
     ["keepalived_tcp_retries2 is 1, outside 3..15", "use e.g. 8"]),
    ("a negative wait for another run",
     lambda v: v["node1"].update(lock_wait=-1, lock_ttl=3600),
     ["node1: keepalived_lock_wait is -1, not a number of seconds in 0..86400", "use 0 (fail at once"]),
    ("a lease shorter than a run, and one given as a fraction",
     lambda v: (v["node1"].update(lock_wait=0, lock_ttl=30), v["node2"].update(lock_wait="5", lock_ttl=90.5)),
     ["node1: keepalived_lock_ttl is 30, not a whole number of seconds in 60..604800",
      "node2: keepalived_lock_ttl is 90.5", "more seconds than the longest run"]),
    ("a wait that is no number",
     lambda v: v["node1"].update(lock_wait="forever", lock_ttl=3600),
     ["keepalived_lock_wait is 'forever'"]),
    ("daemon option with a typo",
     lambda v: v["node1"].update(daemon_options=["--log-detial"]),
     ["keepalived_daemon_options[0] is --log-detial, which keepalived does not know (did you mean --log-detail?)"]),
    ("daemon option in its short form",
     lambda v: v["node1"].update(daemon_options=["-D"]),
     ["keepalived_daemon_options[0] is '-D', not one long option", "write the long form"]),
    ("daemon option the unit sets already",
     lambda v: v["node1"].update(daemon_options=["--dont-fork"]),
     ["keepalived_daemon_options[0] is --dont-fork, which the role does not allow"]),
    ("daemon option that leaves the VIPs behind on stop",
     lambda v: v["node1"].update(daemon_options=["--dont-release-vrrp"]),
     ["--dont-release-vrrp, which the role does not allow", "keep its VIPs"]),
    ("daemon option that runs no VRRP",
     lambda v: v["node1"].update(daemon_options=["--check"]),
     ["--check, which the role does not allow", "no VIP would ever be held"]),
    ("log facility by name, which keepalived 2.2 refuses",
     lambda v: v["node1"].update(daemon_options=["--log-facility=local3"]),
     ["gives --log-facility the value 'local3'", "--log-facility=3"]),
    ("umask keepalived would ignore",
     lambda v: v["node1"].update(daemon_options=["--umask=abc"]),
     ["gives --umask the value 'abc'"]),
    ("flag given a value",
     lambda v: v["node1"].update(daemon_options=["--snmp=1"]),
     ["gives --snmp a value, but it takes none"]),
    ("daemon option given twice",
     lambda v: v["node1"].update(daemon_options=["--log-detail", "--log-detail"]),
     ["keepalived_daemon_options[1] gives --log-detail a second time"]),
    ("option keepalived 2.2 does not know",
     lambda v: v["node1"].update(daemon_options=["--log-file=/var/log/k.log"]),
     ["--log-file, which the role does not allow", "Debian 12"]),
    ("start in maintenance without a down-file check",
     lambda v: (v["node1"].update(start_in_maintenance=True),
                v["node1"]["scripts"].__setitem__(0, {"name": "check_test", "check": "systemd",
                                                      "args": {"unit": "web.service"}, "weight": -30})),
     ["node1", "keepalived_start_in_maintenance is true, but instance WEB1 tracks no check: file",
      "track a script with check: file"]),
    ("start in maintenance with a down file that does not lower the priority enough",
     lambda v: (on_all(v, lambda h: scr(h).update(weight=-21)),
                v["node1"]["instances"][0]["priorities"].update(node1=110),
                v["node2"]["instances"][0]["priorities"].update(node1=110),
                v["node1"].update(start_in_maintenance=True)),
     ["node1", "with the down file instance WEB1 still has priority 89, not below the other members' 80",
      "weight of -31 or lower"]),
    ("start in maintenance given as a string",
     lambda v: v["node1"].update(start_in_maintenance="yes"),
     ["keepalived_start_in_maintenance is 'yes', not true or false"]),
    ("remediation command that starts with a dash",
     lambda v: on_all(v, lambda h: scr(h).update(timeout=5, remediate={"command": "-x"})),
     ["(check_test).remediate.command", "starts with '-'", "start the command with the program"]),
]


@pytest.mark.parametrize("change, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inventory_is_refused_with_a_clear_message(refused, change, expected):
    refused(seed_views(), change, expected)


def test_password_never_in_messages():
    views = seed_views()
    inst(views["node1"]).update(auth_pass="s3cr3tpassword")
    inst(views["node2"]).update(auth_pass="0therpassword")
    text = "\n".join(preflight.preflight(views))
    assert "auth_pass" in text
    assert "s3cr3t" not in text and "0therpass" not in text


def per_host_priority(view, priority):
    del inst(view)["priorities"]
    inst(view)["priority"] = priority


GOOD = [
    ("metrics switched on from extra vars (strings)",
     lambda v: on_all(v, lambda h: h.update(metrics_enabled="true", metrics_dir="/var/lib/prometheus/node-exporter",
                                            metrics_interval="2.5", metrics_exporter_package=""))),
    ("weight 0 enters FAULT", lambda v: on_all(v, lambda h: scr(h).update(weight=0))),
    ("weight just enough", lambda v: on_all(v, lambda h: scr(h).update(weight=-21))),
    ("positive weight enough", lambda v: on_all(v, lambda h: scr(h).update(weight=21))),
    ("nopreempt with state auto and a FAULT check",
     lambda v: on_all(v, lambda h: (inst(h).update(nopreempt=True), scr(h).update(weight=0)))),
    ("VRRPv3 sub-second without auth",
     lambda v: on_all(v, lambda h: inst(h).update(vrrp_version=3, advert_int=0.1, auth_pass=None))),
    ("plain string VIP", lambda v: on_all(v, lambda h: inst(h).update(virtual_ipaddresses=["10.0.0.100/24"]))),
    ("explicit peers", lambda v: on_all(v, lambda h: inst(h).update(
        unicast_peers=["10.0.0.28"] if h["router_id"] == "KA1" else ["10.0.0.18"]))),
    ("multicast", lambda v: on_all(v, lambda h: inst(h).update(unicast=False))),
    ("per-host priority", lambda v: [per_host_priority(v[h], p) for h, p in (("node1", 100), ("node2", 80))]),
    ("raw script", lambda v: on_all(v, lambda h: h["scripts"].__setitem__(
        0, {"name": "check_test", "script": "/usr/bin/test ! -e /etc/keepalived/down", "weight": -30}))),
    ("routes, rules and an IPv6 address beside the IPv4 VIP", lambda v: on_all(v, lambda h: inst(h).update(
        virtual_ipaddress_excluded=["fd00::100/64"],
        virtual_routes=[{"to": "10.1.0.0/16", "via": "10.0.0.1"}, {"to": "10.9.0.0/16", "type": "blackhole"},
                        {"to": "default", "dev": "eth0", "table": 100}],
        virtual_rules=[{"from": "10.0.0.100/32", "table": 100, "priority": 100}]))),
    ("VMAC, ttl, accept, dont_track_primary", lambda v: on_all(v, lambda h: inst(h).update(
        use_vmac=True, vmac_xmit_base=True, unicast_ttl=1, accept=False, dont_track_primary=True))),
    ("e-mail alerts", lambda v: on_all(v, lambda h: (
        h.update(notification_email=["ops@example.com"], smtp_server="192.0.2.25", smtp_port=2525),
        inst(h).update(smtp_alert=True)))),
    ("extra config of whole blocks", lambda v: v["node1"].update(
        extra_config='# addresses\nstatic_ipaddress {\n    192.0.2.1/32 dev lo  # the name\n}\n')),
    ("fractional interval in the runner", lambda v: on_all(v, lambda h: scr(h).update(runner=True, interval=0.05))),
    ("down_timer_adverts", lambda v: on_all(v, lambda h: inst(h).update(down_timer_adverts=6))),
    ("a host in no instance's priorities, with extra configuration in conf.d", lambda v: on_all(v, lambda h: (
        inst(h)["priorities"].pop("node2"), h.update(extra_config="static_ipaddress {\n    192.0.2.1/32 dev lo\n}\n")))),
    ("down_timer_adverts at the RFC's 3 with vrrp_strict", lambda v: on_all(v, lambda h: (
        inst(h).update(down_timer_adverts=3), h.update(global_options={"vrrp_strict": True})))),
    ("the runner's shortest interval and a confirm interval", lambda v: on_all(v, lambda h: scr(h).update(
        runner=True, interval=0.01, timeout=0.01, fall=3, rise=2, confirm_interval=0.01))),
    ("AH authentication with state auto", lambda v: on_all(v, lambda h: inst(h).update(auth_type="AH"))),
    ("kernel settings and daemon options", lambda v: on_all(v, lambda h: h.update(
        nonlocal_bind=True, tcp_retries2=8,
        daemon_options=["--log-detail", "--snmp", "--log-facility=3", "--umask=022", "--config-id=lb1"]))),
    ("start in maintenance with the seed's down file", lambda v: v["node1"].update(start_in_maintenance=True)),
    ("start in maintenance with a FAULT down file", lambda v: (
        on_all(v, lambda h: scr(h).update(weight=0)), v["node2"].update(start_in_maintenance=True))),
    ("IPv6 instance with global scope", lambda v: on_all(v, lambda h: (
        inst(h).update(auth_pass=None, virtual_ipaddresses=[{"address": "fd00::100/64", "scope": "global"}]),
        h["addresses"].update(eth0=["fd00::%s" % h["router_id"][-1]])))),
]


@pytest.mark.parametrize("change", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_variants_pass(change):
    views = seed_views()
    change(views)
    assert _model.build(views)["errors"] == []


def test_seed_plan_matches_the_seed_example():
    views = seed_views()
    one = plan.plans(views)["node1"]
    two = plan.plans(views)["node2"]
    assert one["router_id"] == "KA1" and two["router_id"] == "KA2"
    i1, i2 = one["instances"][0], two["instances"][0]
    assert (i1["state"], i1["priority"], i2["state"], i2["priority"]) == ("MASTER", 100, "BACKUP", 80)
    assert i1["unicast_src_ip"] == "10.0.0.18" and i1["unicast_peers"] == ["10.0.0.28"]
    assert i2["unicast_src_ip"] == "10.0.0.28" and i2["unicast_peers"] == ["10.0.0.18"]
    assert i1["virtual_ipaddresses"] == ["10.0.0.100/24 dev eth0 label eth0:0"]
    assert one["scripts"] == [{
        "name": "check_test",
        "command": "/usr/local/bin/keepalived-check --timeout 1.6 file --path /etc/keepalived/down",
        "interval": "2", "timeout": "2", "weight": -30, "fall": 2, "rise": 2, "user": None,
        "down_file": "/etc/keepalived/down", "init_fail": False,
    }]
    assert one["conf_d"] == [{"file": "WEB1.conf", "template": "instance.conf.j2", "instance": 0}]


def test_instance_options_are_planned_as_keepalived_lines():
    views = on_all(seed_views(), lambda h: inst(h).update(
        virtual_ipaddress_excluded=["fd00::100/64"], use_vmac="vrrp.web", unicast_ttl=1, accept=True,
        virtual_routes=[{"to": "10.1.0.0/16", "via": "10.0.0.1", "dev": "eth0", "metric": 10},
                        {"to": "10.9.0.0/16", "type": "blackhole", "table": "web"},
                        {"to": "10.2.0.0/16", "via": "10.0.0.2"}],
        virtual_rules=[{"from": "10.0.0.100", "iif": "eth0", "priority": 100, "table": 100}]))
    one = plan.plans(views)["node1"]["instances"][0]
    assert one["virtual_ipaddress_excluded"] == ["fd00::100/64"]
    assert one["virtual_routes"] == ["10.1.0.0/16 via 10.0.0.1 dev eth0 metric 10",
                                     "blackhole 10.9.0.0/16 table web no_track", "10.2.0.0/16 via 10.0.0.2 dev eth0"]
    assert one["virtual_rules"] == ["from 10.0.0.100 iif eth0 priority 100 table 100"]
    assert (one["use_vmac"], one["unicast_ttl"], one["accept"], one["smtp_alert"]) == ("vrrp.web", 1, True, False)


def test_global_defs_lines_come_from_the_plan():
    views = seed_views()
    views["node1"].update(notification_email=["a@example.com", "b@example.com"], notification_email_from="k@example.com",
                          smtp_server="192.0.2.25", smtp_port=2525, smtp_connect_timeout=30,
                          global_options={"vrrp_garp_interval": 0.5, "vrrp_strict": False, "max_auto_priority": True})
    assert plan.plans(views)["node1"]["global_defs"] == [
        "notification_email {", "    a@example.com", "    b@example.com", "}", "notification_email_from k@example.com",
        "smtp_server 192.0.2.25 2525", "smtp_connect_timeout 30", "vrrp_garp_interval 0.5", "max_auto_priority"]
    assert plan.plans(views)["node2"]["global_defs"] == []


def test_kernel_settings_daemon_arguments_and_down_files_come_from_the_plan():
    views = seed_views()
    views["node1"].update(nonlocal_bind=False, tcp_retries2=8, daemon_options=["--log-detail", "--snmp"],
                          start_in_maintenance=True)
    one, two = plan.plans(views)["node1"], plan.plans(views)["node2"]
    assert one["sysctls"] == {"net.ipv4.ip_nonlocal_bind": 0, "net.ipv6.ip_nonlocal_bind": 0, "net.ipv4.tcp_retries2": 8}
    # Every key the role manages is planned; None leaves it alone (and out of the role's sysctl file).
    assert two["sysctls"] == dict.fromkeys(one["sysctls"])
    assert (one["daemon_args"], two["daemon_args"]) == ("--log-detail --snmp", "")
    # The run lease's settings, numbers however given (-e keepalived_lock_wait=30 is a string).
    views["node1"].update(lock_wait="30", lock_ttl=600)
    assert plan.plans(views)["node1"]["lock"] == {"wait": 30.0, "ttl": 600}
    assert (one["maintenance_files"], one["start_in_maintenance"]) == (["/etc/keepalived/down"], True)
    assert (two["maintenance_files"], two["start_in_maintenance"]) == (["/etc/keepalived/down"], False)


def test_a_node_that_joins_drained_starts_backup_with_its_down_file_check_failed():
    views = seed_views()
    views["node1"]["start_in_maintenance"] = True
    one, two = plan.plans(views)["node1"], plan.plans(views)["node2"]
    # node1 has the top priority, but starting as MASTER would take the VIP before the first check runs.
    assert one["instances"][0]["state"] == "BACKUP" and one["scripts"][0]["init_fail"] is True
    assert two["instances"][0]["state"] == "BACKUP" and two["scripts"][0]["init_fail"] is False


@pytest.mark.parametrize("option", sorted(host_system.DAEMON_OPTIONS))
def test_every_known_daemon_option_has_a_valid_example(option):
    rule = host_system.DAEMON_OPTIONS[option]
    text = option if rule is None else rule[1]
    assert text.split("=")[0] == option and host_system.daemon_option_problem(text) is None


def test_ah_authentication_renders_backup_everywhere():
    views = on_all(seed_views(), lambda h: inst(h).update(auth_type="AH"))
    assert {plan.plans(views)[h]["instances"][0]["state"] for h in views} == {"BACKUP"}


def test_nopreempt_renders_backup_everywhere():
    views = on_all(seed_views(), lambda h: (inst(h).update(nopreempt=True), scr(h).update(weight=0)))
    assert {plan.plans(views)[h]["instances"][0]["state"] for h in views} == {"BACKUP"}


def test_vip_held_now_is_not_taken_as_source_address():
    views = seed_views()
    views["node1"]["addresses"]["eth0"] = ["10.0.0.100", "10.0.0.18"]
    assert plan.plans(views)["node1"]["instances"][0]["unicast_src_ip"] == "10.0.0.18"


def test_host_outside_priorities_gets_no_instance():
    views = seed_views()
    for view in views.values():
        inst(view)["priorities"] = {"node1": 100}
    assert plan.plans(views)["node2"]["instances"] == []
    assert plan.plans(views)["node1"]["instances"][0]["unicast_peers"] == []


def test_remediation_is_rendered_as_global_options():
    script = values.with_defaults({"name": "c", "check": "http", "args": {"url": "http://127.0.0.1/"},
                                   "interval": 2, "timeout": 8, "remediate": {"unit": "web.service"}},
                                  values.SCRIPT_DEFAULTS)
    assert checks.script_command(script, "kc") == (
        "kc --timeout 6.4 --remediate-unit web.service --remediate-max 3 --remediate-window 3600 "
        "--remediate-settle 2 http --url http://127.0.0.1/")
    script["remediate"] = {"command": "systemctl start web", "max": 1}
    assert "--remediate-command 'systemctl start web' --remediate-max 1 " in checks.script_command(script, "kc")


@pytest.mark.parametrize("args, expected", [
    ({"path": "/x"}, ["--path", "/x"]),
    ({"max_lag": 30}, ["--max-lag", "30"]),
    ({"frontend": ["a", "b"]}, ["--frontend", "a", "--frontend", "b"]),
    ({"insecure": True, "verbose": False}, ["--insecure"]),
    ({}, []),
    ({"cmdline": "--daemonize"}, ["--cmdline=--daemonize"]),
    ({"unit": ["-.mount", "a.service"]}, ["--unit=-.mount", "--unit", "a.service"]),
])
def test_check_args(args, expected):
    assert checks.check_args(args) == expected


@pytest.mark.parametrize("timeout, expected", [(None, "1.6"), (1, "0.8"), (5, "4"), (0.1, "0.1")])
def test_check_timeout_stays_below_keepalived_timeout(timeout, expected):
    script = values.with_defaults({"name": "c", "check": "tcp", "interval": 2, "timeout": timeout},
                                  values.SCRIPT_DEFAULTS)
    assert checks.script_command(script, "kc").split()[:3] == ["kc", "--timeout", expected]


@pytest.mark.parametrize("facts, expected", [
    ({"interfaces": ["eth0", "lo"], "eth0": {"ipv4": {"address": "10.0.0.18"},
                                             "ipv4_secondaries": [{"address": "10.0.0.100"}]},
      "lo": {"ipv4": {"address": "127.0.0.1"}}},
     {"eth0": ["10.0.0.18", "10.0.0.100"], "lo": ["127.0.0.1"]}),
    ({"interfaces": ["br-lan"], "br_lan": {"ipv6": [{"address": "fe80::1", "scope": "link"},
                                                    {"address": "2001:db8::1", "scope": "global"}]}},
     {"br-lan": ["2001:db8::1"]}),
    ({}, {}),
])
def test_addresses_from_facts(facts, expected):
    assert values.addresses_from_facts(facts) == expected


def _spec_defaults(options):
    return {name: spec.get("default") for name, spec in options.items() if not spec.get("required")}


def test_suboption_defaults_match_the_argument_spec():
    """The defaults documented in argument_specs.yml are the ones the code applies."""
    spec = yaml.safe_load((TOP / "roles/keepalived/meta/argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    for var, table in (("keepalived_instances", values.INSTANCE_DEFAULTS),
                       ("keepalived_scripts", values.SCRIPT_DEFAULTS),
                       ("keepalived_sync_groups", sync_groups.SYNC_GROUP_DEFAULTS),
                       ("keepalived_track_files", tracking.TRACK_FILE_DEFAULTS),
                       ("keepalived_track_processes", tracking.TRACK_PROCESS_DEFAULTS),
                       ("keepalived_virtual_servers", virtual_servers.VIRTUAL_SERVER_DEFAULTS)):
        documented = _spec_defaults(options[var]["options"])
        documented.pop("priorities", None)
        documented.pop("priority", None)
        assert documented == table, var
    reals = options["keepalived_virtual_servers"]["options"]["real_servers"]["options"]
    assert _spec_defaults(reals) == virtual_servers.REAL_SERVER_DEFAULTS
    remediate = options["keepalived_scripts"]["options"]["remediate"]["options"]
    assert _spec_defaults(remediate) == values.REMEDIATE_DEFAULTS
    assert set(options["keepalived_scripts"]["options"]["check"]["choices"]) == set(checks.CHECK_TYPES)


# --- checks run by the resident runner (runner: true) ----------------------------------------

RUNNER_BAD = [
    ("runner with a raw script",
     lambda h: scr(h).update(check=None, script="/bin/true", runner=True),
     ["node1", "keepalived_scripts[0] (check_test).script", "runner: true", "set runner: false"]),
    ("runner with remediation",
     lambda h: scr(h).update(runner=True, timeout=8, remediate={"unit": "web.service"}),
     ["keepalived_scripts[0] (check_test).remediate", "does not restart units"]),
    ("runner with a user",
     lambda h: scr(h).update(runner=True, user="nobody"),
     ["(check_test).user", "healthcheck role's user"]),
    ("runner not a bool",
     lambda h: scr(h).update(runner="yes"),
     ["(check_test).runner", "is 'yes', not true or false"]),
    ("runner weight too small to move the VIP",
     lambda h: scr(h).update(runner=True, weight=-10),
     ["node1: instance WEB1: when check check_test (weight -10) fails", "set its weight to -21 or lower"]),
    # The runner's own bounds (RUNNER_FIELDS): it would refuse its whole runner.json on the host.
    ("runner interval below the runner's 0.01 s",
     lambda h: scr(h).update(runner=True, interval=0.005),
     ["(check_test).interval is 0.005, outside 0.01..86400 (the runner's range)", "use a value in 0.01..86400"]),
    ("runner timeout below the runner's 0.01 s",
     lambda h: scr(h).update(runner=True, interval=0.05, timeout=0.001),
     ["(check_test).timeout is 0.001, outside 0.01..86400"]),
    ("runner interval longer than a day",
     lambda h: scr(h).update(runner=True, interval=100000),
     ["(check_test).interval is 100000, outside 0.01..86400"]),
    ("runner interval not a number",
     lambda h: scr(h).update(runner=True, interval=float("nan")),
     ["(check_test).interval is nan, not a positive number of seconds"]),
    ("runner interval infinite",
     lambda h: scr(h).update(runner=True, interval=float("inf")),
     ["(check_test).interval is inf, not a positive number of seconds"]),
    ("confirm_interval below the runner's 0.01 s",
     lambda h: scr(h).update(runner=True, interval=0.1, confirm_interval=0.001),
     ["(check_test).confirm_interval is 0.001, outside 0.01..86400"]),
    ("confirm_interval longer than the interval",
     lambda h: scr(h).update(runner=True, interval=0.1, confirm_interval=0.5),
     ["(check_test).confirm_interval is 0.5, longer than the interval (0.1)", "a fifth of it"]),
    ("confirm_interval on a vrrp_script",
     lambda h: scr(h).update(confirm_interval=0.5),
     ["(check_test).confirm_interval is set on a check without runner: true", "set runner: true"]),
    ("confirm_interval not a number",
     lambda h: scr(h).update(runner=True, confirm_interval="fast"),
     ["(check_test).confirm_interval is 'fast', not a positive number of seconds"]),
    ("a check argument that is not a finite number",
     lambda h: scr(h).update(check="mysql-replication", args={"max_lag": float("nan")}),
     ["(check_test).args.max_lag is nan, not a finite number"]),
]


@pytest.mark.parametrize("change, expected", [b[1:] for b in RUNNER_BAD], ids=[b[0] for b in RUNNER_BAD])
def test_runner_checks_are_refused_with_a_clear_message(change, expected):
    views = on_all(seed_views(), change)
    text = "\n".join(preflight.preflight(views))
    for words in expected:
        assert words in text, "%r not in:\n%s" % (words, text)


def test_runner_checks_become_track_files():
    views = on_all(seed_views(), lambda h: scr(h).update(runner=True, weight=0, interval=0.05))
    on_all(views, lambda h: h["scripts"].append({"name": "check_web", "check": "http", "weight": -30,
                                                 "args": {"url": "http://127.0.0.1:8080/"}}))
    on_all(views, lambda h: inst(h).update(track_scripts=["check_test", {"name": "check_web", "weight": -40}],
                                           vrrp_version=3, advert_int=0.1, auth_pass=None))
    assert _model.build(views)["errors"] == []
    host_plan = plan.plans(views)["node1"]
    assert host_plan["track_files"] == [{"name": "check_test", "weight": 0, "down_file": "/etc/keepalived/down"}]
    assert [s["name"] for s in host_plan["scripts"]] == ["check_web"]
    assert host_plan["instances"][0]["track_files"] == [{"name": "check_test", "weight": None}]
    assert host_plan["instances"][0]["track_scripts"] == [{"name": "check_web", "weight": -40}]


def test_classic_plan_has_no_track_files():
    host_plan = plan.plans(seed_views())["node1"]
    assert host_plan["track_files"] == [] and host_plan["instances"][0]["track_files"] == []


def test_runner_checks_come_from_the_plan_and_use_the_vrrp_script_argument_rendering():
    scripts = [
        {"name": "check_down", "check": "file", "args": {"path": "/etc/keepalived/down"}, "runner": True,
         "interval": 0.05, "weight": 0},
        {"name": "check_web", "check": "http",
         "args": {"url": "http://127.0.0.1/", "expect_status": [200, 204], "insecure": True},
         "runner": True, "timeout": 2, "fall": 2, "confirm_interval": 0.25, "weight": 0},
        {"name": "untracked", "check": "tcp", "args": {"port": 80}, "runner": True},
        {"name": "classic", "check": "tcp", "args": {"port": 80}},
    ]
    views = seed_views()
    for view in views.values():
        view["scripts"] = copy.deepcopy(scripts)
        inst(view).update(track_scripts=["check_down", "check_web"], vrrp_version=3, advert_int=0.1, auth_pass=None)
    model = _model.build(views)
    assert model["errors"] == []
    assert model["plans"]["node1"]["runner_checks"] == [
        {"name": "check_down", "argv": ["file", "--path", "/etc/keepalived/down"],
         "interval": 0.05, "timeout": 0.5, "fall": 1, "rise": 1},
        {"name": "check_web", "argv": ["http"] + checks.check_args(scripts[1]["args"]),
         "interval": 1.0, "timeout": 2.0, "fall": 2, "rise": 1, "confirm_interval": 0.25},
    ]
    assert checks.check_args(scripts[1]["args"]) == [
        "--expect-status", "200", "--expect-status", "204", "--insecure", "--url", "http://127.0.0.1/"]


GOOD_ARGS = [
    ("file", {"path": "/etc/keepalived/down"}),
    ("file", {}),
    ("tcp", {"port": "8080", "host": "127.0.0.1"}),
    ("http", {"url": "https://127.0.0.1:8443/healthz", "expect_status": [200, 204], "insecure": True,
              "method": "HEAD"}),
    ("http", {"url": "http://127.0.0.1/", "insecure": False}),
    ("process", {"name": "haproxy", "min_count": 2}),
    ("mysql-replication", {"defaults_file": "/etc/keepalived-check/mysql-db.cnf", "max_lag": 30}),
    ("haproxy", {"stats_socket": "/run/haproxy/admin.sock", "frontend": ["web"], "backend": ["app", "api"]}),
    ("systemd", {"unit": "nginx.service"}),
    ("apiserver", {"port": 6443}),
    ("all", {"check": ["file:path=/etc/keepalived/down", "tcp:port=80"]}),
    ("any", {"check": "http:url=http://127.0.0.1/,insecure"}),
    ("all", {"check": ["process:name=haproxy", "systemd:unit=-.mount"]}),
]


@pytest.mark.parametrize("check, args", GOOD_ARGS, ids=["%s-%d" % (g[0], i) for i, g in enumerate(GOOD_ARGS)])
def test_check_arguments_the_program_takes_pass(check, args):
    assert checks.check_arg_problems(check, args) == []


def test_remediation_state_dir_reaches_the_command_line():
    views = on_all(seed_views(), lambda h: scr(h).update(
        check="systemd", args={"unit": "web.service"}, timeout=8, remediate={"unit": "web.service"}))
    on_all(views, lambda h: h.update(state_dir="/run/kc-state"))
    model = _model.build(views)
    assert model["errors"] == []
    command = model["plans"]["node1"]["scripts"][0]["command"]
    assert "--state-dir /run/kc-state " in command
    assert model["plans"]["node1"]["remediate_units"] == ["web.service"]


def test_untracked_scripts_are_not_planned():
    views = on_all(seed_views(), lambda h: h["scripts"].append(
        {"name": "spare", "check": "tcp", "args": {"port": 80}, "runner": True}))
    model = _model.build(views)
    assert model["errors"] == []
    assert model["plans"]["node1"]["runner_checks"] == []
    assert [s["name"] for s in model["plans"]["node1"]["scripts"]] == ["check_test"]


def test_no_plans_when_the_inventory_is_refused():
    views = on_all(seed_views(), lambda h: scr(h).update(args={"pth": "/x"}))
    model = _model.build(views)
    assert model["errors"] and model["plans"] == {}


def pairs(count):
    """An inventory of ``count`` hosts in pairs, one instance per pair, as the role describes it."""
    views = {}
    for pair in range(count // 2):
        a, b = "h%05da" % pair, "h%05db" % pair
        instance = {"name": "VI_%d" % pair, "interface": "eth0", "virtual_router_id": pair % 255 + 1,
                    "priorities": {a: 100, b: 80}, "virtual_ipaddresses": ["10.%d.%d.100/24" % (pair // 250, pair % 250)],
                    "track_scripts": ["down"]}
        for host, octet in ((a, 11), (b, 12)):
            views[host] = {"router_id": host, "instances": [copy.deepcopy(instance)],
                           "scripts": [{"name": "down", "check": "file", "weight": -30}],
                           "script_user": "keepalived_script", "check_command": "/usr/local/bin/keepalived-check",
                           "state_dir": "/run/keepalived-check", "track_dir": "/run/keepalived-check/track",
                           "addresses": {"eth0": ["10.%d.%d.%d" % (pair // 250, pair % 250, octet)]}}
    return views


def test_every_pair_is_planned_against_its_own_peer():
    model = _model.build(pairs(40))
    assert model["errors"] == []
    one = model["plans"]["h00007a"]["instances"][0]
    two = model["plans"]["h00007b"]["instances"][0]
    assert (one["state"], two["state"]) == ("MASTER", "BACKUP")
    assert one["unicast_peers"] == ["10.0.7.12"] and two["unicast_peers"] == ["10.0.7.11"]
    assert one["members"] == ["h00007a", "h00007b"]


@pytest.mark.parametrize("settings, expected", [
    ({}, {"enabled": False, "output": None, "interval": 5.0, "exporter_package": None}),
    ({"metrics_enabled": "true", "metrics_dir": "/srv/prom/", "metrics_interval": "2.5", "metrics_exporter_package": ""},
     {"enabled": True, "output": "/srv/prom/keepalived.prom", "interval": 2.5, "exporter_package": None}),
    ({"metrics_enabled": False, "metrics_dir": "/var/lib/prometheus/node-exporter", "metrics_interval": 5,
      "metrics_exporter_package": "prometheus-node-exporter"},
     {"enabled": False, "output": "/var/lib/prometheus/node-exporter/keepalived.prom", "interval": 5.0,
      "exporter_package": "prometheus-node-exporter"}),
], ids=["not set", "on from extra vars", "off: its file is known, to remove it"])
def test_metrics_plan(settings, expected):
    views = on_all(seed_views(), lambda h: h.update(settings))
    assert _model.build(views)["errors"] == []
    assert plan.plans(views)["node1"]["metrics"] == expected
