# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's report and its refusals, as tables of what the members' watches saw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _drill

DOWN = "/etc/keepalived/down"
VIP = "10.0.0.100"
# The seed example's plan for draining node1: node2 takes the VIP (the figures of test__failover_plan).
ENTRY = {"what": "node1 drained (down file %s)" % DOWN, "drained": "node1", "down_file": DOWN, "holder": "node2",
         "failover_s": [4.69, 10.04], "failback_s": [4.61, 9.96], "max_unheld_s": 0.35, "max_two_holders_s": 0.7}
T0 = 1000.0  # the watches start; the drain is at T0 + 1, the undrain at T0 + 20


def plan(**entry):
    return {"instances": [{"name": "WEB1", "vips": [VIP + "/24"], "holder": "node1", "succession": ["node1", "node2"],
                           "failures": [dict(ENTRY, **entry)]}]}


def run(changes, hosts=("node1", "node2"), start=("node1",), end=40.0):
    """A drill run whose watches saw ``changes``: (seconds after T0, host, held)."""
    watches = {h: {"started_at": T0, "ended_at": T0 + end, "held_at_start": {VIP: h in start},
                   "events": [{"at": T0 + at, "vip": VIP, "held": held} for at, host, held in changes if host == h]}
               for h in hosts}
    return {"node": "node1", "down_file": DOWN, "drained_at": T0 + 1, "undrained_at": T0 + 20, "watches": watches}


CLEAN = [(7.0, "node2", True), (7.001, "node1", False), (26.0, "node1", True), (26.002, "node2", False)]

# name, the run, the plan entry's changes, then: failover_s (until node2 holds the VIP alone),
# failback_s (until node1 does), unheld_s, two_holders_s, path, problems
CASES = [
    ("a clean move and failback, inside the plan", run(CLEAN), {},
     6.001, 6.002, 0.0, 0.003, ["node1", "node1+node2", "node2", "node1+node2", "node1"], []),
    ("a FAULT move leaves the VIP unheld for its skew",
     run([(3.0, "node1", False), (3.3, "node2", True), (26.0, "node1", True), (26.002, "node2", False)]),
     {"failover_s": [1.69, 7.04], "max_unheld_s": 1.04},
     2.3, 6.002, 0.3, 0.002, ["node1", "none", "node2", "node1+node2", "node1"], []),
    ("slower than the plan", run([(12.0, "node2", True), (12.001, "node1", False), (26.0, "node1", True),
                                  (26.002, "node2", False)]), {},
     11.001, 6.002, 0.0, 0.003, ["node1", "node1+node2", "node2", "node1+node2", "node1"],
     ["WEB1: moved to node2 in 11.001 s, outside the plan's 4.69-10.04 s"]),
    ("taken by another node than the plan's", run([(7.0, "node3", True), (7.001, "node1", False)],
                                                  hosts=("node1", "node2", "node3")), {},
     None, None, 0.0, 0.001, ["node1", "node1+node3", "node3"],
     ["WEB1: the VIPs never moved to node2 alone, as the plan says they should (held by node3 instead)",
      "WEB1: back on node1 never, outside the plan's 4.61-9.96 s"]),
    ("a second of no holder", run([(6.0, "node1", False), (7.0, "node2", True), (26.0, "node1", True),
                                   (26.002, "node2", False)]), {},
     6.0, 6.002, 1.0, 0.002, ["node1", "none", "node2", "node1+node2", "node1"],
     ["WEB1: no holder for 1.0000 s, more than the plan's 0.35 s"]),
    ("two holders for a second", run([(7.0, "node2", True), (8.0, "node1", False), (26.0, "node1", True),
                                      (26.002, "node2", False)]), {},
     7.0, 6.002, 0.0, 1.002, ["node1", "node1+node2", "node2", "node1+node2", "node1"],
     ["WEB1: two holders for 1.0020 s, more than the plan's 0.70 s"]),
    ("nopreempt: no failback is measured", run(CLEAN[:2]), {"failback_s": None},
     6.001, None, 0.0, 0.001, ["node1", "node1+node2", "node2"], []),
]


@pytest.mark.parametrize("run_, entry, failover, failback, unheld, two, path_, problems", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_report(run_, entry, failover, failback, unheld, two, path_, problems):
    result = _drill.report([run_], plan(**entry))
    drill = result["drills"][0]
    assert (drill["failover_s"], drill["failback_s"]) == (failover, failback)
    assert (drill["unheld_s"], drill["two_holders_s"]) == (unheld, two)
    assert drill["path"] == path_
    assert drill["problems"] == problems == result["problems"]
    verdict = result["table"][2].split()[-1]
    assert verdict == ("FAILED" if problems else "ok")
    ET.fromstring(result["svg"]["WEB1"])  # the timeline is well-formed SVG


def test_a_drain_that_no_check_watches():
    result = _drill.report([dict(run(CLEAN), down_file="/run/other")], plan())
    assert result["problems"] == ["WEB1: no check of node1 watches the down file /run/other, so draining it "
                                  "cannot move the VIPs"]


def status(holders, states=None, bad=()):
    """keepalived_status results for WEB1 on node1 and node2: who holds the VIP, their states and failing checks."""
    states = states or {"node1": "MASTER", "node2": "BACKUP"}
    prios = {"node1": 100, "node2": 80}
    return {h: {"running": True, "instances": {"WEB1": {
        "name": "WEB1", "state": states[h], "base_priority": prios[h], "effective_priority": prios[h],
        "vips": [VIP + "/24"], "vips_present": [VIP + "/24"] if h in holders else [],
        "track_scripts": [{"name": "check_test", "status": "BAD" if h in bad else "GOOD"}]}}} for h in prios}


STEPS = [
    ("ready", status(["node1"]), None,
     ["node1"], {"node1": {VIP: "node2"}}, []),
    ("one instance by name", status(["node1"]), "WEB1", ["node1"], {"node1": {VIP: "node2"}}, []),
    ("an instance the inventory does not have", status(["node1"]), "DB", [], {},
     ["no instance DB in the inventory (instances: WEB1)"]),
    ("the VIP is on the plan's backup", status(["node2"], {"node1": "BACKUP", "node2": "MASTER"}), None,
     ["node1"], {"node1": {}}, ["WEB1: VIP 10.0.0.100/24 is held by node2, the plan says node1: converge with "
                                "site.yml, or undrain the holder, first"]),
    ("no healthy peer", status(["node1"], bad=["node2"]), None, ["node1"], {"node1": {}},
     ["node1 is the last healthy node of instance WEB1 (no peer is running it in MASTER or BACKUP state with all "
      "its checks passing); draining it would leave 10.0.0.100/24 with no holder"]),
    ("two holders", status(["node1", "node2"]), None, ["node1"], {"node1": {VIP: "node2"}},
     ["VIP 10.0.0.100/24 is held by 2 hosts at once: node1, node2",
      "WEB1: VIP 10.0.0.100/24 is held by node1, node2, the plan says node1: converge with site.yml, or undrain "
      "the holder, first"]),
]


@pytest.mark.parametrize("results, instance, nodes, owners, problems", [c[1:] for c in STEPS], ids=[c[0] for c in STEPS])
def test_steps(results, instance, nodes, owners, problems):
    steps = _drill.steps(results, plan(), instance)
    assert (steps["nodes"], steps["owners"], steps["problems"]) == (nodes, owners, problems)
    if nodes:
        assert steps["vips"] == [VIP] and steps["down_files"] == {"node1": DOWN}
        assert steps["masters"] == {"node1": ["WEB1"]} and steps["back"] == {"node1": owners["node1"]}


def two_instances(results):
    """WEB1 as before and DB (10.0.0.200), also held by node1, in the live state."""
    for host, result in results.items():
        result["instances"]["DB"] = dict(result["instances"]["WEB1"], name="DB", vips=["10.0.0.200/24"],
                                         vips_present=["10.0.0.200/24"] if host == "node1" else [])
    return results


def test_steps_watch_every_vip_the_drain_moves_and_wait_only_for_those_that_come_back():
    both = {"instances": plan()["instances"] + [dict(plan()["instances"][0], name="DB", vips=["10.0.0.200/24"],
                                                     failures=[dict(ENTRY, failback_s=None)])]}
    steps = _drill.steps(two_instances(status(["node1"])), both, "WEB1")
    assert steps["problems"] == [] and steps["instances"] == {"node1": ["WEB1"]}
    assert steps["vips"] == [VIP, "10.0.0.200"]
    assert steps["owners"] == {"node1": {VIP: "node2", "10.0.0.200": "node2"}}
    steps = _drill.steps(two_instances(status(["node1"])), both)
    # DB has nopreempt: it stays on node2, so nothing waits for node1 to take it back.
    assert steps["masters"] == {"node1": ["WEB1"]} and steps["back"] == {"node1": {VIP: "node2"}}


@pytest.mark.parametrize("failures, problem", [
    ([], "WEB1: no check of node1 watches a down file (a check: file script), so node1 cannot be drained"),
    ([dict(ENTRY, holder="node3")], "WEB1: the live state has node2 take VIP 10.0.0.100/24 when node1 is drained, "
                                    "the plan node3: converge with site.yml first"),
], ids=["no down file", "another peer than the plan's"])
def test_steps_refuse(failures, problem):
    refused = {"instances": [dict(plan()["instances"][0], failures=failures)]}
    assert problem in _drill.steps(status(["node1"]), refused)["problems"]


def test_report_measures_only_the_instances_asked_for():
    both = {"instances": plan()["instances"] + [dict(plan()["instances"][0], name="DB")]}
    result = _drill.report([dict(run(CLEAN), instances=["WEB1"])], both)
    assert [d["instance"] for d in result["drills"]] == ["WEB1"] and list(result["svg"]) == ["WEB1"]


def effects_plan(*files, drained=70, healthy=100):
    """WEB1 on node1 (healthy priority HEALTHY) and node2, with a drain entry of node1 for each down file."""
    failures = [{"what": "node1 drained (down file %s)" % path, "drained": "node1", "down_file": path,
                 "priorities": {"node1": drained, "node2": 80}, "holder": "node2"} for path in files]
    failures.append({"what": "node1 stops", "priorities": {"node1": None, "node2": 80}, "holder": "node2"})
    return {"instances": [{"name": "WEB1", "holder": "node1", "priorities": {"node1": healthy, "node2": 80},
                           "failures": failures}]}


# name, plan, node, down_file asked for, then: the down file used, drained, healthy, problems
EFFECTS = [
    ("the one down file the node's checks watch", effects_plan(DOWN), "node1", None,
     DOWN, {"WEB1": 70}, {"WEB1": 100}, []),
    ("named", effects_plan(DOWN, "/run/other"), "node1", "/run/other", "/run/other", {"WEB1": 70}, {"WEB1": 100}, []),
    ("FAULT while drained", effects_plan(DOWN, drained=None), "node1", None, DOWN, {"WEB1": None}, {"WEB1": 100}, []),
    ("as keepalived shows them: 1..254", effects_plan(DOWN, drained=-20, healthy=300), "node1", None,
     DOWN, {"WEB1": 1}, {"WEB1": 254}, []),
    ("several and none named", effects_plan(DOWN, "/run/other"), "node1", None, None, {}, {},
     ["the checks of node1 watch several down files (/etc/keepalived/down, /run/other): say which with "
      "-e down_file=PATH"]),
    ("one that no check watches", effects_plan(DOWN), "node1", "/run/other", "/run/other", {}, {},
     ["no check of node1 watches /run/other (its checks watch /etc/keepalived/down): drop -e down_file, or name one "
      "of those"]),
    ("no down file at all", effects_plan(), "node1", None, None, {}, {},
     ["no check of node1 watches a down file (a check: file script), so nothing drains it: add one to its "
      "keepalived_checks"]),
    ("a node in no instance", effects_plan(DOWN), "node9", None, None, {}, {},
     ["node9 is in no VRRP instance of the inventory"]),
]


@pytest.mark.parametrize("plan_, node, asked, down_file, drained, healthy, problems", [c[1:] for c in EFFECTS],
                         ids=[c[0] for c in EFFECTS])
def test_drain_effects(plan_, node, asked, down_file, drained, healthy, problems):
    effects = _drill.drain_effects(plan_, node, asked)
    assert effects == {"down_file": down_file, "drained": drained, "healthy": healthy, "nopreempt": [],
                       "problems": problems}


def test_drain_effects_name_the_instances_a_node_never_takes_back():
    plan_ = effects_plan(DOWN)
    plan_["instances"].append(dict(plan_["instances"][0], name="STAY", nopreempt=["node1", "node2"]))
    plan_["instances"].append(dict(plan_["instances"][0], name="OTHERS", nopreempt=["node2"]))
    assert _drill.drain_effects(plan_, "node1")["nopreempt"] == ["STAY"]
