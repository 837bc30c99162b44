# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sync groups, the operator's track files and tracked processes: their rules and their plans, as tables."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _model
from ansible_collections.failover.keepalived.plugins.module_utils._model import plan


def router_views():
    """A router pair: OUTSIDE on eth0 and INSIDE on eth1 move together; the group follows the down file."""
    outside = {"name": "OUTSIDE", "interface": "eth0", "virtual_router_id": 10, "priorities": {"node1": 100, "node2": 90},
               "virtual_ipaddresses": ["10.0.0.100/24"]}
    inside = {"name": "INSIDE", "interface": "eth1", "virtual_router_id": 11, "priorities": {"node1": 110, "node2": 95},
              "virtual_ipaddresses": ["10.1.0.100/24"], "virtual_ipaddress_excluded": ["fd00:1::100/64"],
              "track_scripts": [{"name": "check_inside", "weight": 0}]}
    scripts = [{"name": "check_down", "check": "file", "args": {"path": "/etc/keepalived/down"}, "weight": -30,
                "fall": 2},
               {"name": "check_inside", "check": "file", "args": {"path": "/etc/keepalived/inside-down"}}]
    group = {"name": "ROUTER", "instances": ["OUTSIDE", "INSIDE"], "track_scripts": ["check_down"],
             "notify_master": "/usr/local/bin/router-up"}
    views = {}
    for host, rid, last in (("node1", "KA1", 11), ("node2", "KA2", 12)):
        views[host] = {
            "router_id": rid,
            "instances": copy.deepcopy([outside, inside]),
            "scripts": copy.deepcopy(scripts),
            "sync_groups": [copy.deepcopy(group)],
            "script_user": "keepalived_script",
            "check_command": "/usr/local/bin/keepalived-check",
            "state_dir": "/run/keepalived-check",
            "track_dir": "/run/keepalived-check/track",
            "addresses": {"eth0": ["10.0.0.%d" % last], "eth1": ["10.1.0.%d" % last]},
        }
    return views


def on_all(views, fn):
    for view in views.values():
        fn(view)
    return views


def group(view):
    return view["sync_groups"][0]


def inst(view, name):
    return next(i for i in view["instances"] if i["name"] == name)


def test_router_pair_passes():
    assert _model.build(router_views())["errors"] == []


BAD = [
    ("weighted check on a member",
     lambda v: on_all(v, lambda h: inst(h, "OUTSIDE").update(track_scripts=["check_down"])),
     ["node1: keepalived_instances (OUTSIDE).track_scripts gives check_down weight -30", "ignores the weighted",
      "track check_down on the group instead (keepalived_sync_groups[0] (ROUTER).track_scripts)"]),
    ("weighted interface on a member",
     lambda v: on_all(v, lambda h: inst(h, "OUTSIDE").update(track_interfaces=[{"name": "eth2", "weight": -20}])),
     ["(OUTSIDE).track_interfaces gives eth2 weight -20"]),
    ("member the host does not run",
     lambda v: on_all(v, lambda h: group(h)["instances"].append("DMZ")),
     ["(ROUTER).instances names DMZ, which this host does not run", "Fix: define DMZ on this host"]),
    ("group of one", lambda v: on_all(v, lambda h: group(h).update(instances=["OUTSIDE"])),
     ["(ROUTER).instances is ['OUTSIDE'], not a list of two or more instance names"]),
    ("instance in two groups",
     lambda v: on_all(v, lambda h: h["sync_groups"].append({"name": "OTHER", "instances": ["INSIDE", "OUTSIDE"]})),
     ["(OTHER).instances names OUTSIDE, which is already in group ROUTER"]),
    ("group defined twice", lambda v: on_all(v, lambda h: h["sync_groups"].append(copy.deepcopy(group(h)))),
     ["keepalived_sync_groups[1] (ROUTER).name is defined twice"]),
    ("priorities ranked differently",
     lambda v: on_all(v, lambda h: inst(h, "INSIDE").update(priorities={"node1": 95, "node2": 110})),
     ["sync group ROUTER has members whose priorities rank the hosts differently",
      "INSIDE: node2 > node1; OUTSIDE: node1 > node2", "same order of priorities"]),
    ("group on one host only", lambda v: v["node2"].update(sync_groups=[]),
     ["node2: instance INSIDE is in sync group ROUTER on node1 but not on node2"]),
    ("group differs between hosts",
     lambda v: (on_all(v, lambda h: h["instances"].append(dict(copy.deepcopy(inst(h, "OUTSIDE")), name="DMZ",
                                                               virtual_router_id=12, interface="eth2",
                                                               virtual_ipaddresses=["10.2.0.100/24"]))),
                v["node2"]["addresses"].update(eth2=["10.2.0.12"]), v["node1"]["addresses"].update(eth2=["10.2.0.11"]),
                group(v["node2"])["instances"].append("DMZ")),
     ["sync group ROUTER has different instances on its hosts"]),
    ("unknown group check", lambda v: on_all(v, lambda h: group(h).update(track_scripts=["chek_down"])),
     ["(ROUTER).track_scripts names 'chek_down', which keepalived_scripts does not define"]),
    ("group check too light to move the group",
     lambda v: on_all(v, lambda h: h["scripts"][0].update(weight=-5)),
     ["instance OUTSIDE: when check check_down (weight -5) fails on node1 its priority only drops from 100 to 95"]),
    ("members that preempt differently",
     lambda v: on_all(v, lambda h: inst(h, "INSIDE").update(nopreempt=True)),
     ["(ROUTER).instances mixes nopreempt across its members"]),
    ("notify with a quote", lambda v: on_all(v, lambda h: group(h).update(notify_backup='/bin/x "a"')),
     ["(ROUTER).notify_backup is empty or has double quotes"]),
    ("alerts without a mail server", lambda v: on_all(v, lambda h: group(h).update(smtp_alert=True)),
     ["(ROUTER).smtp_alert is set, but this host has no keepalived_notification_email"]),
    ("instance named like the groups' file",
     lambda v: on_all(v, lambda h: (inst(h, "OUTSIDE").update(name="keepalived-sync-groups"),
                                    group(h).update(instances=["keepalived-sync-groups", "INSIDE"]))),
     ["name is keepalived-sync-groups, the name of the role's file of keepalived_sync_groups"]),
    ("groups not a list", lambda v: on_all(v, lambda h: h.update(sync_groups={"name": "ROUTER"})),
     ["keepalived_sync_groups is not a list"]),
    # The operator's track files and the tracked processes.
    ("track file not absolute",
     lambda v: on_all(v, lambda h: (h.update(track_files=[{"name": "db_role", "file": "db.state"}]),
                                    group(h).update(track_files=["db_role"]))),
     ["keepalived_track_files[0] (db_role).file is 'db.state', not an absolute path"]),
    ("track file inside the runner's directory",
     lambda v: on_all(v, lambda h: h.update(track_files=[{"name": "x", "file": "/run/keepalived-check/track/x"}])),
     ["(x).file is inside keepalived_track_dir"]),
    ("track file named like a check",
     lambda v: on_all(v, lambda h: h.update(track_files=[{"name": "check_down", "file": "/var/lib/t/state"}])),
     ["(check_down).name is also the name of a keepalived_scripts entry"]),
    ("track file weight out of range",
     lambda v: on_all(v, lambda h: h.update(track_files=[{"name": "t", "file": "/var/lib/t", "weight": 300}])),
     ["(t).weight is 300, outside -253..253"]),
    ("overwrite without a value",
     lambda v: on_all(v, lambda h: h.update(track_files=[{"name": "t", "file": "/var/lib/t", "init_overwrite": True}])),
     ["(t).init_overwrite is set without init_file"]),
    ("unknown track file on an instance",
     lambda v: on_all(v, lambda h: inst(h, "INSIDE").update(track_files=["nope"])),
     ["(INSIDE).track_files names 'nope', which keepalived_track_files does not define"]),
    ("process name longer than the kernel keeps",
     lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "haproxy-ingress-ctl"}])),
     ["(p).process is 'haproxy-ingress-ctl', 19 characters", "write the first 15 characters (haproxy-ingress)"]),
    ("quorum_max below quorum",
     lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "nginx", "quorum": 3,
                                                              "quorum_max": 2}])),
     ["(p).quorum_max is 2, below quorum 3"]),
    ("delay with fork_delay",
     lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "nginx", "delay": 1,
                                                              "fork_delay": 2}])),
     ["(p).delay is set together with fork_delay"]),
    ("process with a space", lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "a b"}])),
     ["(p).process is 'a b', not one word"]),
    ("unknown param_match",
     lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "x", "param_match": "full"}])),
     ["(p).param_match is 'full'"]),
    ("weighted process on a member",
     lambda v: on_all(v, lambda h: (h.update(track_processes=[{"name": "p", "process": "bird", "weight": -40}]),
                                    inst(h, "INSIDE").update(track_processes=["p"]))),
     ["(INSIDE).track_processes gives p weight -40"]),
]


@pytest.mark.parametrize("change, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_groups_and_tracking_are_refused(refused, change, expected):
    refused(router_views(), change, expected)


def third_host_without_members(v):
    """node3 runs none of the group's instances, only one of its own (a host with no instance at all is refused)."""
    v["node3"] = copy.deepcopy(v["node2"])
    own = dict(copy.deepcopy(inst(v["node3"], "OUTSIDE")), name="OWN3", virtual_router_id=30,
               priorities={"node3": 100}, virtual_ipaddresses=["10.0.0.130/24"])
    v["node3"].update(router_id="KA3", instances=[own], addresses={"eth0": ["10.0.0.13"]})


GOOD = [
    ("a host that runs none of the members", third_host_without_members),
    ("group follows a runner check", lambda v: on_all(v, lambda h: h["scripts"][0].update(runner=True))),
    ("group of three with a FAULT check",
     lambda v: on_all(v, lambda h: (
         h["instances"].append(dict(copy.deepcopy(inst(h, "OUTSIDE")), name="DMZ", virtual_router_id=12,
                                    interface="eth2", virtual_ipaddresses=["10.2.0.100/24"])),
         h["addresses"].update(eth2=["10.2.0.%s" % h["addresses"]["eth0"][0].split(".")[-1]]),
         group(h)["instances"].append("DMZ"), group(h).update(track_scripts=[{"name": "check_down", "weight": 0}])))),
    ("process quorum_max 0 (must not run)",
     lambda v: on_all(v, lambda h: (h.update(track_processes=[{"name": "p", "process": "rescue", "quorum_max": 0}]),
                                    group(h).update(track_processes=[{"name": "p", "weight": 0}])))),
    ("a long command with full_command",
     lambda v: on_all(v, lambda h: h.update(track_processes=[{"name": "p", "process": "/usr/sbin/haproxy-ingress-ctl",
                                                              "full_command": True}]))),
]


@pytest.mark.parametrize("change", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_group_variants_pass(change):
    views = router_views()
    change(views)
    assert _model.build(views)["errors"] == []


def test_group_plan_renders_the_members_and_the_group_checks():
    views = on_all(router_views(), lambda h: (
        h.update(track_files=[{"name": "db_role", "file": "/var/lib/db/role", "weight": -40, "init_file": 1,
                               "init_overwrite": True},
                              {"name": "unused", "file": "/var/lib/db/unused"}],
                 track_processes=[{"name": "bird", "process": "bird", "quorum": 1, "delay": 0.5},
                                  {"name": "unused_p", "process": "nginx"}]),
        group(h).update(track_files=["db_role"], track_processes=[{"name": "bird", "weight": 0}])))
    assert _model.build(views)["errors"] == []
    one = plan.plans(views)["node1"]
    assert one["sync_groups"] == [{
        "name": "ROUTER", "instances": ["OUTSIDE", "INSIDE"],
        "track_scripts": [{"name": "check_down", "weight": None}],
        "track_files": [{"name": "db_role", "weight": None}],
        "track_processes": [{"name": "bird", "weight": 0}],
        "track_interfaces": [],
        "notify": [("notify_master", "/usr/local/bin/router-up")],
        "smtp_alert": False,
    }]
    assert [f["file"] for f in one["conf_d"]] == ["OUTSIDE.conf", "INSIDE.conf", "keepalived-sync-groups.conf"]
    # Only what an instance or the group tracks is rendered; the group's checks are vrrp_scripts.
    assert sorted(s["name"] for s in one["scripts"]) == ["check_down", "check_inside"]
    assert one["operator_track_files"] == [{"name": "db_role", "file": "/var/lib/db/role", "weight": -40,
                                            "init_file": "1 overwrite"}]
    assert one["track_processes"] == [{"name": "bird", "lines": ["process bird", "quorum 1", "delay 0.5", "weight 0"]}]
    # Both members start in the same state on each host (node1 ranks first on both).
    assert [i["state"] for i in one["instances"]] == ["MASTER", "MASTER"]
    assert [i["state"] for i in plan.plans(views)["node2"]["instances"]] == ["BACKUP", "BACKUP"]


def test_a_host_without_members_has_no_group():
    views = router_views()
    third_host_without_members(views)
    assert plan.plans(views)["node3"]["sync_groups"] == []


def test_runner_check_on_a_group_becomes_a_track_file():
    views = on_all(router_views(), lambda h: h["scripts"][0].update(runner=True))
    one = plan.plans(views)["node1"]
    assert one["sync_groups"][0]["track_scripts"] == []
    assert one["sync_groups"][0]["track_files"] == [{"name": "check_down", "weight": None}]
    assert [c["name"] for c in one["runner_checks"]] == ["check_down"]


def test_instances_track_operator_files_and_processes():
    views = on_all(router_views(), lambda h: (
        h.update(sync_groups=[], track_files=[{"name": "db_role", "file": "/var/lib/db/role"}],
                 track_processes=[{"name": "bird", "process": "bird", "params": ["-c", "/etc/bird.conf"],
                                   "param_match": "partial"}]),
        inst(h, "OUTSIDE").update(track_files=["db_role"], track_processes=[{"name": "bird", "weight": -50}],
                                  track_scripts=["check_down"])))
    assert _model.build(views)["errors"] == []
    outside = plan.plans(views)["node1"]["instances"][0]
    assert outside["track_files"] == [{"name": "db_role", "weight": None}]
    assert outside["track_processes"] == [{"name": "bird", "weight": -50}]
    assert plan.plans(views)["node1"]["track_processes"][0]["lines"][:2] == [
        "process bird -c /etc/bird.conf", "param_match partial"]
