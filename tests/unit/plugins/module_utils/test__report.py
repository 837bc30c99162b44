# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group views over keepalived_status results, built from real dumps of a two-node lab."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp
from ansible_collections.failover.keepalived.plugins.module_utils import _report


# Moments captured on both nodes at once: node1 runs 2.2.7, node2 runs 2.3.3.
PAIRS = {
    "healthy": ("2.2.7-master", "2.3.3-backup"),
    "node1 drained": ("2.2.7-drained", "2.3.3-peer-drained"),
    "node2 in fault": ("2.2.7-peer-fault", "2.3.3-fault"),
}


@pytest.fixture
def group(capture_status):
    """Return results(MOMENT): the keepalived_status results of both nodes at one moment of PAIRS."""
    def results(moment):
        one, two = PAIRS[moment]
        return {"node1": capture_status(one), "node2": capture_status(two)}
    return results


def test_healthy_table_and_single_holder(group):
    results = group("healthy")
    lines = _report.render_table(_report.status_rows(results))
    assert lines[0].split() == ["host", "instance", "state", "priority", "VIPs", "held"]
    assert lines[2].split() == ["node1", "VI_1", "MASTER", "110", "192.168.158.100/24"]
    assert lines[3].split() == ["node1", "VI_2", "BACKUP", "100", "-"]
    assert lines[4].split() == ["node2", "VI_1", "BACKUP", "100", "-"]
    assert lines[5].split()[:5] == ["node2", "VI_2", "MASTER", "110", "192.168.158.101/24,"]
    assert _report.vip_problems(results) == []
    assert _report.vip_holders(results) == {
        "192.168.158.100/24": ["node1"], "192.168.158.101/24": ["node2"],
        "192.168.158.102/32": ["node2"], "192.168.158.103/24": ["node2"]}


def test_drained_node_shows_lowered_priority_and_peer_holds_the_vip(group):
    results = group("node1 drained")
    rows = _report.status_rows(results)
    assert rows[0] == ["node1", "VI_1", "BACKUP", "80 (base 110)", "-"]
    holders = _report.vip_holders(results)
    assert len(holders) == 4 and all(hosts == ["node2"] for hosts in holders.values())
    assert _report.vip_problems(results) == []


@pytest.mark.parametrize("holders, expected", [
    ([], ["VIP 192.168.158.100/24 is held by no host"]),
    (["node1", "node2"], ["VIP 192.168.158.100/24 is held by 2 hosts at once: node1, node2"]),
])
def test_vip_problems(group, holders, expected):
    results = group("healthy")
    for host, result in results.items():
        result["instances"]["VI_1"]["vips_present"] = ["192.168.158.100/24"] if host in holders else []
    assert [p for p in _report.vip_problems(results) if "158.100/" in p] == expected


def test_stopped_keepalived_is_a_problem_and_a_row(group):
    results = group("healthy")
    results["node2"] = kp.build_status(False)
    assert "node2: keepalived is not running" in _report.vip_problems(results)
    assert ["node2", "-", "keepalived not running", "-", "-"] in _report.status_rows(results)


def test_drain_plan_names_the_peer_that_takes_over(group):
    plan = _report.drain_plan(group("healthy"), "node1")
    assert plan == {"vips": ["192.168.158.100/24"], "owners": {"192.168.158.100/24": "node2"}, "blockers": []}


@pytest.mark.parametrize("moment, host", [("node2 in fault", "node1"), ("node1 drained", "node2")])
def test_draining_the_last_healthy_node_is_refused(group, moment, host):
    plan = _report.drain_plan(group(moment), host)
    assert plan["blockers"] and "last healthy node of instance VI_1" in plan["blockers"][0]


def test_draining_a_node_moves_only_what_it_holds(group):
    plan = _report.drain_plan(group("healthy"), "node2")
    assert plan["vips"] == ["192.168.158.101/24", "192.168.158.102/32", "192.168.158.103/24"]
    assert set(plan["owners"].values()) == {"node1"} and plan["blockers"] == []


def test_highest_peer_wins_among_three(group):
    results = group("healthy")
    third = copy.deepcopy(results["node2"])
    third["instances"]["VI_1"]["effective_priority"] = 105
    third["instances"]["VI_1"]["vips_present"] = []
    third["instances"]["VI_2"]["vips_present"] = []
    results["node3"] = third
    assert _report.drain_plan(results, "node1")["owners"] == {"192.168.158.100/24": "node3"}


@pytest.mark.parametrize("moment, host, expected", [
    ("node1 drained", "node1", ["VI_1"]),
    ("healthy", "node2", ["VI_2"]),
])
def test_undrain_waits_for_mastership_only_where_due(group, moment, host, expected):
    assert _report.undrain_instances(group(moment), host) == expected
