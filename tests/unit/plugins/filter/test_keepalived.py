# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's filters as a play calls them, and the sidecar documentation of each.

Every case goes through ``FilterModule().filters()``, the mapping Ansible loads the
filters from. The rules behind the filters are tested with their pure code under
tests/unit/plugins/module_utils/; here: what each filter is given and returns,
Ansible's lazy containers turned into plain data, and one documentation file per filter.
"""

from __future__ import annotations

import inspect
import os
import types

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.failover.keepalived.plugins.filter import keepalived

FILTERS = keepalived.FilterModule().filters()
FILTER_DIR = os.path.dirname(os.path.abspath(keepalived.__file__))

# Moments of the two-node lab, captured on both nodes at once (module_utils/fixtures/);
# None: keepalived stopped.
MOMENTS = {
    "healthy": {"node1": "2.2.7-master", "node2": "2.3.3-backup"},
    "node1 drained": {"node1": "2.2.7-drained", "node2": "2.3.3-peer-drained"},
    "node2 in fault": {"node1": "2.2.7-peer-fault", "node2": "2.3.3-fault"},
    "node1 stopped": {"node1": None, "node2": "2.3.3-backup"},
}
VIP_1 = "192.168.158.100/24"
VIPS_2 = ["192.168.158.101/24", "192.168.158.102/32", "192.168.158.103/24"]
NO_PLAN = {"vips": [], "owners": {}, "blockers": []}


@pytest.fixture
def group(capture_status):
    """Return results(MOMENT): the keepalived_status results of both nodes, by host, at one moment of MOMENTS."""
    return lambda moment: {host: capture_status(capture) for host, capture in MOMENTS[moment].items()}


def in_template(name, data, *args, **variables):
    """Call filter NAME on DATA from a template, as a play does.

    DATA reaches the filter as Ansible's lazy containers, and the templates in it
    (trusted, as inventory's are) are rendered from VARIABLES when read. Return the
    type of what the filter was given and what the filter itself returned.
    """
    calls = []

    def call(given, *more):
        calls.append((type(given), FILTERS[name](given, *more)))
        return calls[-1][1]

    variables.update(call=call, data=data, args=list(args))
    Templar(loader=DataLoader(), variables=variables).template(trust_as_template("{{ call(data, *args) }}"))
    return calls[0]


def read_only(value):
    """VALUE with every dict a read-only mapping and every list a tuple, as Ansible's HostVars are no dicts."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(read_only(v) for v in value)
    return value


def container_types(value):
    """The types of VALUE and of every container inside it."""
    if isinstance(value, dict):
        return {type(value)}.union(*(container_types(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return {type(value)}.union(*(container_types(v) for v in value))
    return set()


# ---------------------------------------------------------------------------
# keepalived_addresses: ansible_facts -> interface -> addresses
# ---------------------------------------------------------------------------

FACTS = {
    "interfaces": ["lo", "eth0", "eth0.10", "dummy0"],
    "lo": {"ipv4": {"address": "127.0.0.1"}, "ipv6": [{"address": "::1", "scope": "host"}]},
    "eth0": {
        "ipv4": {"address": "10.0.0.18"},
        "ipv4_secondaries": [{"address": "10.0.0.100"}],
        "ipv6": [{"address": "fe80::18", "scope": "link"}, {"address": "2001:db8::18", "scope": "global"}],
    },
    "eth0_10": {"ipv4": {"address": "10.0.10.18"}},
}


@pytest.mark.parametrize("facts, expected", [
    pytest.param(None, {}, id="no facts"),
    pytest.param({}, {}, id="empty facts"),
    pytest.param({"interfaces": ["eth0"]}, {"eth0": []}, id="interface without facts"),
    pytest.param(FACTS, {"lo": ["127.0.0.1", "::1"], "eth0": ["10.0.0.18", "10.0.0.100", "2001:db8::18"],
                         "eth0.10": ["10.0.10.18"], "dummy0": []}, id="primary, secondaries, IPv6 but link-local"),
])
def test_keepalived_addresses(facts, expected):
    assert FILTERS["keepalived_addresses"](facts) == expected


# ---------------------------------------------------------------------------
# keepalived_model: every host's view -> errors and plans
# ---------------------------------------------------------------------------

SETTINGS = dict(script_user="keepalived_script", check_command="/usr/local/bin/keepalived-check",
                state_dir="/run/keepalived-check", track_dir="/run/keepalived-check/track")
WEB = dict(name="WEB", interface="eth0", virtual_router_id=51, auth_pass="s3cret",
           priorities={"node1": 110, "node2": 100}, virtual_ipaddresses=["10.0.0.100/24"])


def views(**changes):
    """node1 (10.0.0.11) and node2 (10.0.0.12), both members of WEB; CHANGES: host -> its WEB's fields, or None."""
    made = {}
    for number, host in enumerate(("node1", "node2"), start=1):
        if host in changes and changes[host] is None:
            made[host] = None
            continue
        made[host] = dict(SETTINGS, router_id="KA%d" % number, scripts=[],
                          instances=[dict(WEB, **changes.get(host, {}))],
                          addresses={"eth0": ["10.0.0.1%d" % number]})
    return made


# (views, fragments of each expected error in order, host -> (state, unicast_src_ip, unicast_peers) of WEB)
MODEL_CASES = [
    pytest.param(views(), [], {"node1": ("MASTER", "10.0.0.11", ["10.0.0.12"]),
                               "node2": ("BACKUP", "10.0.0.12", ["10.0.0.11"])}, id="good"),
    pytest.param(views(node2={"state": "MASTER"}, node1={"state": "BACKUP"}), [],
                 {"node1": ("BACKUP", "10.0.0.11", ["10.0.0.12"]), "node2": ("MASTER", "10.0.0.12", ["10.0.0.11"])},
                 id="explicit states"),
    pytest.param(views(node1={"virtual_router_id": 256}, node2={"virtual_router_id": 256}),
                 ["node1: keepalived_instances[0] (WEB).virtual_router_id is 256, outside 1..255. Fix:",
                  "node2: keepalived_instances[0] (WEB).virtual_router_id is 256"], {}, id="errors, no plans"),
    pytest.param(views(node2={"auth_pass": "pa55wd2"}),
                 ["instance WEB has different auth_pass on its members: (hidden)"], {}, id="password left out"),
    pytest.param(views(node2=None), ["node2: has no keepalived settings in this run"], {}, id="host without view"),
]


@pytest.mark.parametrize("given, errors, plans", MODEL_CASES)
def test_keepalived_model(given, errors, plans):
    model = FILTERS["keepalived_model"](given)
    assert len(model["errors"]) == len(errors), model["errors"]
    for message, fragment in zip(model["errors"], errors):
        assert fragment in message
        assert "s3cret" not in message and "pa55wd2" not in message
    got = {host: [(i["state"], i["unicast_src_ip"], i["unicast_peers"]) for i in plan["instances"]]
           for host, plan in model["plans"].items()}
    assert got == {host: [expected] for host, expected in plans.items()}


def test_keepalived_model_plans_carry_the_password():
    plans = FILTERS["keepalived_model"](views())["plans"]
    assert [plan["instances"][0]["auth_pass"] for plan in plans.values()] == ["s3cret", "s3cret"]


@pytest.mark.parametrize("given, kind", [
    ([views()["node1"]], "a list"),
    ("node1", "a string"),
    (None, "nothing"),
    (42, "int"),
])
def test_keepalived_model_refuses_what_is_not_a_mapping(given, kind):
    with pytest.raises(AnsibleFilterError, match="^expected a mapping of host name to host view, got %s$" % kind):
        FILTERS["keepalived_model"](given)


# ---------------------------------------------------------------------------
# The reports over keepalived_status results by host
# ---------------------------------------------------------------------------

BLOCKER = ("node1 is the last healthy node of instance VI_1 (no peer is running it in MASTER or BACKUP state with "
           "all its checks passing); draining it would leave %s with no holder" % VIP_1)

# (filter, moment, its other arguments, expected result)
REPORT_CASES = [
    ("keepalived_status_table", "node1 drained", (), [
        "host   instance  state   priority       VIPs held",
        "-----  --------  ------  -------------  ----------------------------------------------------------",
        "node1  VI_1      BACKUP  80 (base 110)  -",
        "node1  VI_2      BACKUP  70 (base 100)  -",
        "node2  VI_1      MASTER  100            %s" % VIP_1,
        "node2  VI_2      MASTER  110            %s" % ", ".join(VIPS_2),
    ]),
    ("keepalived_status_table", "node1 stopped", (), [
        "host   instance  state                   priority  VIPs held",
        "-----  --------  ----------------------  --------  ----------------------------------------------------------",
        "node1  -         keepalived not running  -         -",
        "node2  VI_1      BACKUP                  100       -",
        "node2  VI_2      MASTER                  110       %s" % ", ".join(VIPS_2),
    ]),
    ("keepalived_vip_problems", "healthy", (), []),
    ("keepalived_vip_problems", "node2 in fault", (), []),
    ("keepalived_vip_problems", "node1 stopped", (),
     ["node1: keepalived is not running", "VIP %s is held by no host" % VIP_1]),
    ("keepalived_vip_holders", "healthy", (), dict({VIP_1: ["node1"]}, **{vip: ["node2"] for vip in VIPS_2})),
    ("keepalived_vip_holders", "node1 stopped", (), dict({VIP_1: []}, **{vip: ["node2"] for vip in VIPS_2})),
    ("keepalived_drain_plan", "healthy", ("node1",), {"vips": [VIP_1], "owners": {VIP_1: "node2"}, "blockers": []}),
    ("keepalived_drain_plan", "healthy", ("node2",),
     {"vips": VIPS_2, "owners": dict.fromkeys(VIPS_2, "node1"), "blockers": []}),
    ("keepalived_drain_plan", "node2 in fault", ("node1",), {"vips": [VIP_1], "owners": {}, "blockers": [BLOCKER]}),
    ("keepalived_drain_plan", "node1 stopped", ("node1",), NO_PLAN),
    ("keepalived_drain_plan", "healthy", ("node9",), NO_PLAN),
    ("keepalived_undrain_instances", "node1 drained", ("node1",), ["VI_1"]),
    ("keepalived_undrain_instances", "healthy", ("node2",), ["VI_2"]),
    ("keepalived_undrain_instances", "node1 stopped", ("node1",), []),
    ("keepalived_undrain_instances", "healthy", ("node9",), []),
]


@pytest.mark.parametrize("name, moment, args, expected", REPORT_CASES)
def test_reports(group, name, moment, args, expected):
    assert FILTERS[name](group(moment), *args) == expected


@pytest.mark.parametrize("name", ["keepalived_status_table", "keepalived_vip_problems", "keepalived_vip_holders"])
def test_reports_take_a_host_without_result_as_not_running(group, name):
    results = group("healthy")
    assert FILTERS[name](dict(results, node1=None)) == FILTERS[name](dict(results, node1={"running": False}))


# ---------------------------------------------------------------------------
# Any mapping in, plain data out: from a template (lazy containers) or read-only
# ---------------------------------------------------------------------------

def _templated_views():
    """views() with node1's WEB and node2's whole view as templates, and the variables they need."""
    plain = views()
    given = views()
    given["node1"]["instances"][0].update(virtual_router_id=trust_as_template("{{ vrid }}"),
                                          virtual_ipaddresses=[trust_as_template("{{ vip }}")])
    given["node2"] = trust_as_template("{{ node2_view }}")
    return plain, given, {"vrid": 51, "vip": "10.0.0.100/24", "node2_view": plain["node2"]}


def _templated_results(group, moment):
    """One moment's results with each host's result as a template, as hostvars extracts make it."""
    plain = group(moment)
    given = {host: trust_as_template("{{ live_%s }}" % host) for host in plain}
    return plain, given, {"live_" + host: result for host, result in plain.items()}


def _templated_facts():
    """Facts of eth0 whose interface list and eth0 entry are templates."""
    plain = {"interfaces": ["lo", "eth0"], "lo": FACTS["lo"], "eth0": FACTS["eth0"]}
    given = dict(plain, interfaces=trust_as_template("{{ ifaces }}"), eth0=trust_as_template("{{ eth0 }}"))
    return plain, given, {"ifaces": plain["interfaces"], "eth0": plain["eth0"]}


def _templated_model():
    """The model of views() with its plans as a template."""
    plain = FILTERS["keepalived_model"](views())
    return plain, dict(plain, plans=trust_as_template("{{ plans }}")), {"plans": plain["plans"]}


def _plan_of_views():
    return FILTERS["keepalived_failover_plan"](FILTERS["keepalived_model"](views()))


def _templated_plan():
    """The plan of views() with its instances as a template."""
    plain = _plan_of_views()
    return plain, dict(plain, instances=trust_as_template("{{ instances }}")), {"instances": plain["instances"]}


def _templated_lease():
    """A lease of a run of this controller whose process has ended, its pid a template."""
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    plain = dict(FILTERS["keepalived_run"]("site"), pid=gone.pid, taken=0.0, expires=3600.0)
    return plain, dict(plain, pid=trust_as_template("{{ pid }}")), {"pid": gone.pid}


def test_keepalived_drain_effects_of_the_plan():
    # views() track no check, so nothing would act on a down file of node1.
    effects = FILTERS["keepalived_drain_effects"](_plan_of_views(), "node1")
    assert effects == {"down_file": None, "drained": {}, "healthy": {}, "nopreempt": [], "problems": [
        "no check of node1 watches a down file (a check: file script), so nothing drains it: add one to its "
        "keepalived_checks"]}


def _templated_runs():
    """One drill run of node1 whose watches are templates, as hostvars extracts make them."""
    vip = _plan_of_views()["instances"][0]["vips"][0].split("/")[0]
    watches = {host: {"started_at": 10.0, "ended_at": 40.0, "held_at_start": {vip: host == "node1"},
                      "events": [{"at": 17.0, "vip": vip, "held": host != "node1"}]} for host in ("node1", "node2")}
    plain = [{"node": "node1", "down_file": "/etc/keepalived/down", "drained_at": 11.0, "undrained_at": 30.0,
              "watches": watches}]
    given = [dict(plain[0], watches={host: trust_as_template("{{ watch_%s }}" % host) for host in watches})]
    return plain, given, {"watch_" + host: watch for host, watch in watches.items()}


def test_keepalived_failover_plan_of_the_model():
    plan = FILTERS["keepalived_failover_plan"](FILTERS["keepalived_model"](views()))
    assert [inst["name"] for inst in plan["instances"]] == sorted(inst["name"] for inst in plan["instances"])
    assert plan["table"][0].startswith("instance ")


def test_keepalived_failover_plan_refuses_a_model_with_errors():
    with pytest.raises(AnsibleFilterError, match="the inventory model has errors"):
        FILTERS["keepalived_failover_plan"]({"errors": ["node1: bad"], "plans": {}})


# (filter, make(group) -> (plain input, its templated form, the variables of the templates), other arguments)
INPUTS = [
    ("keepalived_addresses", lambda group: _templated_facts(), ()),
    ("keepalived_model", lambda group: _templated_views(), ()),
    ("keepalived_failover_plan", lambda group: _templated_model(), ()),
    ("keepalived_status_table", lambda group: _templated_results(group, "node1 drained"), ()),
    ("keepalived_vip_problems", lambda group: _templated_results(group, "node1 stopped"), ()),
    ("keepalived_vip_holders", lambda group: _templated_results(group, "healthy"), ()),
    ("keepalived_drain_plan", lambda group: _templated_results(group, "healthy"), ("node2",)),
    ("keepalived_drain_effects", lambda group: _templated_plan(), ("node1",)),
    ("keepalived_undrain_instances", lambda group: _templated_results(group, "node1 drained"), ("node1",)),
    ("keepalived_drill_steps", lambda group: _templated_results(group, "healthy"), (_plan_of_views(),)),
    ("keepalived_drill_report", lambda group: _templated_runs(), (_plan_of_views(),)),
    ("keepalived_run_ended", lambda group: _templated_lease(), ()),
]
# Filters of no container: keepalived_run takes the playbook's name and gives a new id each time.
NO_CONTAINER = ["keepalived_run"]


def test_every_filter_has_inputs():
    assert sorted([name for name, _make, _args in INPUTS] + NO_CONTAINER) == sorted(FILTERS)


@pytest.mark.parametrize("name, make, args", INPUTS, ids=[case[0] for case in INPUTS])
def test_templated_input_gives_plain_data(group, name, make, args):
    plain, given, variables = make(group)
    received, returned = in_template(name, given, *args, **variables)
    assert received not in (dict, list) and issubclass(received, (dict, list)), "the filter should see a lazy container"
    assert returned == FILTERS[name](plain, *args)
    assert container_types(returned) <= {dict, list}


@pytest.mark.parametrize("name, make, args", INPUTS, ids=[case[0] for case in INPUTS])
def test_read_only_mappings_and_tuples_are_taken_as_dicts_and_lists(group, name, make, args):
    plain = make(group)[0]
    returned = FILTERS[name](read_only(plain), *args)
    assert returned == FILTERS[name](plain, *args)
    assert container_types(returned) <= {dict, list}


# ---------------------------------------------------------------------------
# Documentation: one sidecar plugins/filter/NAME.yml per filter
# ---------------------------------------------------------------------------

def _sidecar(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_has_its_sidecar_documentation(name):
    assert os.path.isfile(os.path.join(FILTER_DIR, name + ".yml")), "document %s in plugins/filter/%s.yml" % (
        name, name)
    doc = _sidecar(name)
    documentation = doc["DOCUMENTATION"]
    assert documentation["name"] == name
    assert documentation["short_description"] and documentation["description"] and documentation["author"]
    positional = [word.strip() for word in documentation["positional"].split(",")]
    assert len(positional) == len(inspect.signature(FILTERS[name]).parameters)
    assert set(positional) <= set(documentation["options"])
    assert all(option.get("type") for option in documentation["options"].values())
    examples = yaml.safe_load(doc["EXAMPLES"])
    assert examples and "failover.keepalived." + name in doc["EXAMPLES"]
    assert doc["RETURN"]["_value"]["type"]


def test_every_sidecar_documents_a_filter():
    names = sorted(entry[:-len(".yml")] for entry in os.listdir(FILTER_DIR) if entry.endswith(".yml"))
    assert names == sorted(FILTERS)


def test_a_run_names_itself_and_another_run_of_this_controller_is_judged_by_its_process():
    import multiprocessing
    import socket
    import subprocess
    import sys

    run = FILTERS["keepalived_run"]("site")
    assert run["controller"] == socket.gethostname() and run["playbook"] == "site"
    assert run["pid"] == os.getpid() and len(run["id"]) == 32
    assert run["host_key"] and run["pid_started"] > 0
    assert FILTERS["keepalived_run"]("site")["id"] != run["id"]
    # Filters run in the playbook's forked workers: the run is the worker's parent.
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(FILTERS["keepalived_run"], ("site",))["pid"] == os.getpid()
    ended = FILTERS["keepalived_run_ended"]
    assert ended(run) is False
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert ended(dict(run, pid=gone.pid)) is True
    assert ended(dict(run, pid_started=run["pid_started"] + 1)) is True
    assert ended(dict(run, pid=gone.pid, host_key="another-boot/1")) is False
