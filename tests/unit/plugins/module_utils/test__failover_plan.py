# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover plan from the inventory model alone, as tables of inventories and their predictions."""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _failover_plan, _model

SCRIPT = {"name": "check_test", "check": "file", "args": {"path": "/etc/keepalived/down"},
          "interval": 2, "weight": -30, "fall": 2, "rise": 2}


def views(priorities=None, script=None, **instance):
    """The seed example (node1 100, node2 80, the down file with weight -30), changed by ``instance`` (and the
    check by ``script``)."""
    priorities = priorities or {"node1": 100, "node2": 80}
    inst = dict({"name": "WEB1", "interface": "eth0", "virtual_router_id": 66, "auth_pass": "666",
                 "priorities": priorities, "virtual_ipaddresses": ["10.0.0.100/24"],
                 "track_scripts": ["check_test"]}, **instance)
    out = {}
    for index, host in enumerate(sorted(priorities)):
        out[host] = {"router_id": "KA%d" % index, "instances": [copy.deepcopy(inst)], "scripts": [dict(SCRIPT, **(script or {}))],
                     "script_user": "keepalived_script", "check_command": "/usr/local/bin/keepalived-check",
                     "state_dir": "/run/keepalived-check", "track_dir": "/run/keepalived-check/track",
                     "addresses": {"eth0": ["10.0.0.%d" % (11 + index)]}}
    return out


def plan_of(views_):
    model = _model.build(views_)
    assert model["errors"] == []
    return _failover_plan.failover_plan(model["plans"])["instances"][0]


def failure(inst, what):
    return next(f for f in inst["failures"] if f["what"] == what)


def test_the_seed_example():
    inst = plan_of(views())
    assert (inst["holder"], inst["succession"], inst["vips"]) == ("node1", ["node1", "node2"], ["10.0.0.100/24"])
    check = failure(inst, "check check_test fails on node1")
    assert check["holder"] == "node2" and check["priorities"] == {"node1": 70, "node2": 80}
    # Two failing runs 2 s apart, then node2's master down interval (3 + 176/256 s) from the last advert it took.
    assert check["failover_s"] == [4.69, 10.04]
    # Two passing runs, then node1's own master down interval (3 + 156/256 s): it discards node2's lower adverts.
    assert check["failback_s"] == [4.61, 9.96]
    assert failure(inst, "node1 stops (keepalived stopped, a clean shutdown)")["failover_s"] == [0.69, 1.04]
    assert failure(inst, "node1 is lost (crash, power, network)")["failover_s"] == [2.69, 4.04]
    assert failure(inst, "node1 is lost (crash, power, network)")["failback_s"] == [3.61, 3.96]
    assert "failover_s" not in failure(inst, "check check_test fails on node2")
    assert inst["warnings"] == []


CASES = [
    ("a FAULT check: priority 0 at once, only the skew",
     views(track_scripts=[{"name": "check_test", "weight": 0}]),
     "check check_test fails on node1", "node2", [2.69, 7.04], [4.61, 9.96]),
    ("VRRPv3 with adverts every 0.1 s",
     views(vrrp_version=3, advert_int=0.1, auth_pass=None),
     "check check_test fails on node1", "node2", [2.27, 6.72], [2.26, 6.71]),
    ("nopreempt keeps the VIP where it went",
     views(nopreempt=True, track_scripts=[{"name": "check_test", "weight": 0}]),
     "check check_test fails on node1", "node2", [2.69, 7.04], None),
    # A runner check every 1 s (timeout 1 s): the first failing run up to 1 s after the fault, the second
    # 0.25 s later; likewise for rise. Then the skew (FAULT), or node1's own master down interval (failback).
    ("a runner check with a confirm interval counts fall and rise at that interval",
     views(script={"runner": True, "interval": 1, "confirm_interval": 0.25, "weight": 0}),
     "check check_test fails on node1", "node2", [0.94, 3.29], [2.86, 6.21]),
    # Six adverts of 0.02 s before a backup declares the master down: 0.12 s plus the skew (node2 at 80:
    # 176 x 0.02 / 256 s), less up to one advert since the last it heard; back after node1's own 0.12 s plus
    # its skew (156 x 0.02 / 256 s). With the RFC's 3 adverts both would be 0.06 s shorter.
    ("down_timer_adverts sets the master down interval",
     views(vrrp_version=3, advert_int=0.02, auth_pass=None, down_timer_adverts=6),
     "node1 is lost (crash, power, network)", "node2", [0.11, 0.48], [0.13, 0.48]),
    ("preempt_delay adds to the failback",
     views(preempt_delay=5),
     "check check_test fails on node1", "node2", [4.69, 10.04], [9.61, 14.96]),
]


@pytest.mark.parametrize("views_, what, holder, failover, failback", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_predictions(views_, what, holder, failover, failback):
    entry = failure(plan_of(views_), what)
    assert (entry["holder"], entry["failover_s"], entry["failback_s"]) == (holder, failover, failback)


def test_three_nodes_name_the_race_between_the_backups():
    inst = plan_of(views({"node1": 100, "node2": 90, "node3": 80}))
    assert inst["succession"] == ["node1", "node2", "node3"]
    assert failure(inst, "node1 is lost (crash, power, network)")["holder"] == "node2"
    assert failure(inst, "check check_test fails on node2")["holder"] == "node1"
    assert inst["warnings"] == ["node2 and node3 start their takeover 39 ms apart: on a busy host node3 may hold the "
                                "VIP for a moment before node2 (priorities further apart widen the gap)"]


@pytest.mark.parametrize("priorities, warning", [
    ({"node1": 100, "node2": 80}, "node2 takes over 69 ms after node1's priority-0 advert (the skew of priority 80 at "
                                  "advert 0.1 s): priorities near the top, e.g. node1 254 and node2 253, take 1.2 ms"),
    ({"node1": 254, "node2": 253}, None),
    ({"node1": 254, "node2": 230}, "node2 takes over 10 ms after node1's priority-0 advert (the skew of priority 230 "
                                   "at advert 0.1 s): priorities near the top, e.g. node1 254 and node2 253, take "
                                   "1.2 ms"),
], ids=["seed priorities", "near the top", "just too slow"])
def test_sub_second_adverts_name_a_slow_first_backup(priorities, warning):
    inst = plan_of(views(priorities, vrrp_version=3, advert_int=0.1, auth_pass=None))
    assert inst["warnings"] == ([warning] if warning else [])


def test_a_tie_is_named():
    # node2's own copy of the check adds 20 while it passes: 80 + 20 = node1's 100.
    v = views()
    v["node2"]["scripts"][0]["weight"] = 20
    inst = plan_of(v)
    assert "node1 and node2 tie at priority 100 while healthy: the higher IP address holds the VIP" in inst["warnings"]
    assert failure(inst, "check check_test fails on node2")["priorities"] == {"node1": 100, "node2": 80}


def test_one_member_has_nobody_to_take_over():
    inst = plan_of(views({"node1": 100}))
    assert inst["warnings"][0] == "instance WEB1 has one member (node1): nothing takes its VIP when it fails"


def test_a_sync_group_check_counts_for_its_members():
    v = views(track_scripts=[])
    for host in v.values():
        host["instances"].append(dict(copy.deepcopy(host["instances"][0]), name="WEB2", virtual_router_id=67,
                                      virtual_ipaddresses=["10.0.0.101/24"]))
        host["sync_groups"] = [{"name": "G", "instances": ["WEB1", "WEB2"], "track_scripts": ["check_test"]}]
    model = _model.build(v)
    assert model["errors"] == []
    for inst in _failover_plan.failover_plan(model["plans"])["instances"]:
        assert failure(inst, "check check_test fails on node1")["holder"] == "node2"


def test_the_table():
    lines = _failover_plan.render(_failover_plan.failover_plan(_model.build(views())["plans"]))
    assert lines[0] == "instance WEB1 (10.0.0.100/24): holder node1; succession node1 100 > node2 80"
    assert lines[1].split() == ["failure", "then", "held", "by", "failover", "failback"]
    assert "check check_test fails on node1" in lines[3] and "4.69-10.04 s" in lines[3] and "4.61-9.96 s" in lines[3]


DRAINS = [
    # The down file fails check_test alone: the drain is that check's failure, with the overlaps it allows.
    ("the seed example", views(), [4.69, 10.04], [4.61, 9.96], 0.35),
    # FAULT: node1 lets go at once and node2 waits its skew (176/256 s) before it holds the VIP.
    ("a FAULT check", views(track_scripts=[{"name": "check_test", "weight": 0}]), [2.69, 7.04], [4.61, 9.96], 1.04),
]


@pytest.mark.parametrize("views_, failover, failback, unheld", [c[1:] for c in DRAINS], ids=[c[0] for c in DRAINS])
def test_the_drain_of_each_member(views_, failover, failback, unheld):
    inst = plan_of(views_)
    drain = failure(inst, "node1 drained (down file /etc/keepalived/down)")
    assert (drain["drained"], drain["down_file"], drain["holder"]) == ("node1", "/etc/keepalived/down", "node2")
    assert (drain["failover_s"], drain["failback_s"]) == (failover, failback)
    assert (drain["max_unheld_s"], drain["max_two_holders_s"]) == (unheld, 0.7)
    assert failure(inst, "node2 drained (down file /etc/keepalived/down)")["holder"] == "node1"
    assert any(re.match(r"node1 drained \(down file /etc/keepalived/down\) +node2 ", line.strip())
               for line in _failover_plan.render({"instances": [inst]}))
