# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived's load balancing (keepalived_virtual_servers and groups): the rules and the rendered lines."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _model
from ansible_collections.failover.keepalived.plugins.module_utils._model import plan

WEB = {
    "address": "10.0.0.100", "port": 80, "lb_algo": "wrr", "lb_kind": "NAT", "persistence_timeout": 300,
    "delay_loop": 6, "quorum": 1, "sorry_server": {"address": "10.0.0.99", "port": 8080}, "alpha": True,
    "real_servers": [
        {"address": "10.0.0.21", "port": 80, "weight": 2, "inhibit_on_failure": True,
         "checks": [{"type": "HTTP_GET", "connect_timeout": 3, "retry": 2,
                     "urls": [{"path": "/health", "status_code": [200, "301-302"],
                               "digest": "9b3a0c85a887a256d6939da88aabd8cd"}]}]},
        {"address": "10.0.0.22", "port": 80, "checks": [{"type": "TCP_CHECK", "connect_timeout": 3}]},
    ],
}
DNS = {"group": "dns_vips", "protocol": "UDP", "lb_algo": "rr",
       "real_servers": [{"address": "10.0.0.31", "port": 53,
                         "checks": [{"type": "DNS_CHECK", "dns_type": "A", "dns_name": "example.com"},
                                    {"type": "MISC_CHECK", "misc_path": "/usr/local/bin/dig-check 10.0.0.31",
                                     "misc_timeout": 5}]}]}
GROUPS = [{"name": "dns_vips", "members": [{"address": "10.0.0.110-111", "port": 53}, {"address": "10.0.0.112", "port": 53}]}]


def views():
    view = {
        "router_id": "KA1", "instances": [], "scripts": [], "script_user": "keepalived_script",
        "check_command": "/usr/local/bin/keepalived-check", "state_dir": "/run/keepalived-check",
        "track_dir": "/run/keepalived-check/track", "addresses": {"eth0": ["10.0.0.11"]},
        "virtual_servers": [copy.deepcopy(WEB), copy.deepcopy(DNS)],
        "virtual_server_groups": copy.deepcopy(GROUPS),
    }
    return {"lb1": view}


def web(v):
    return v["lb1"]["virtual_servers"][0]


def test_web_and_dns_services_pass():
    assert _model.build(views())["errors"] == []


def test_the_rendered_lines():
    lines = plan.plans(views())["lb1"]["virtual_servers"]
    text = "\n".join(lines)
    assert lines[:4] == ["virtual_server_group dns_vips {", "    10.0.0.110-111 53", "    10.0.0.112 53", "}"]
    assert "virtual_server 10.0.0.100 80 {\n    protocol TCP\n    lvs_sched wrr\n    lvs_method NAT\n" \
           "    persistence_timeout 300\n    delay_loop 6\n    quorum 1\n    alpha\n    sorry_server 10.0.0.99 8080\n" in text
    assert ("    real_server 10.0.0.21 80 {\n        weight 2\n        inhibit_on_failure\n        HTTP_GET {\n"
            "            connect_timeout 3\n            retry 2\n            url {\n                path /health\n"
            "                status_code 200 301-302\n                digest 9b3a0c85a887a256d6939da88aabd8cd\n"
            "            }\n        }\n    }") in text
    assert "virtual_server group dns_vips {\n    protocol UDP\n    lvs_sched rr\n    lvs_method NAT\n" in text
    assert '            misc_path "/usr/local/bin/dig-check 10.0.0.31"\n            misc_timeout 5\n' in text
    assert "        DNS_CHECK {\n            type A\n            name example.com\n        }" in text
    lb1 = plan.plans(views())["lb1"]
    assert lb1["conf_d"][-1] == {"file": "keepalived-virtual-servers.conf", "template": "virtual_servers.conf.j2",
                                 "instance": None}


def test_a_group_of_marks_has_no_protocol():
    v = views()
    v["lb1"]["virtual_server_groups"][0]["members"] = [{"fwmark": 3}]
    v["lb1"]["virtual_servers"][1].pop("protocol")
    assert _model.build(v)["errors"] == []
    text = "\n".join(plan.plans(v)["lb1"]["virtual_servers"])
    assert "virtual_server group dns_vips {\n    lvs_sched rr\n" in text


def test_no_virtual_servers_no_lines():
    v = views()
    v["lb1"].update(virtual_servers=[], virtual_server_groups=[])
    assert plan.plans(v)["lb1"]["virtual_servers"] == []


BAD = [
    ("address and fwmark", lambda v: web(v).update(fwmark=7), ["keepalived_virtual_servers[0] sets address and fwmark"]),
    ("no port", lambda v: web(v).pop("port"), ["[0].port is missing"]),
    ("bad scheduler", lambda v: web(v).update(lb_algo="roundrobin"), ["[0].lb_algo is 'roundrobin'", "use one of rr, wrr"]),
    ("TCP check on UDP", lambda v: v["lb1"]["virtual_servers"][1]["real_servers"][0]["checks"].append(
        {"type": "HTTP_GET", "urls": [{"path": "/"}]}),
     ["[1].real_servers[0].checks[2].type is HTTP_GET on a UDP virtual server"]),
    ("HTTP check without url", lambda v: web(v)["real_servers"][0]["checks"][0].update(urls=[]),
     ["real_servers[0].checks[0].urls is empty"]),
    ("bad status code", lambda v: web(v)["real_servers"][0]["checks"][0]["urls"][0].update(status_code=["2xx"]),
     ["status_code has '2xx', not an HTTP status"]),
    ("reversed status range", lambda v: web(v)["real_servers"][0]["checks"][0]["urls"][0].update(status_code="299-200"),
     ["status_code has '299-200'"]),
    ("bad digest", lambda v: web(v)["real_servers"][0]["checks"][0]["urls"][0].update(digest="XYZ"),
     ["digest is not an MD5 digest"]),
    ("field of another check", lambda v: web(v)["real_servers"][1]["checks"][0].update(misc_path="/bin/true"),
     ["checks[0] has field(s) misc_path, which a TCP_CHECK does not take"]),
    ("relative misc path", lambda v: v["lb1"]["virtual_servers"][1]["real_servers"][0]["checks"][1].update(
        misc_path="dig-check"), ["misc_path is 'dig-check', not a command with an absolute path"]),
    ("unknown check", lambda v: web(v)["real_servers"][1]["checks"][0].update(type="PING"),
     ["checks[0].type is 'PING'", "use one of TCP_CHECK"]),
    ("bad dns type", lambda v: v["lb1"]["virtual_servers"][1]["real_servers"][0]["checks"][0].update(dns_type="ANY"),
     ["dns_type is 'ANY'"]),
    ("other family without TUN", lambda v: web(v)["real_servers"][1].update(address="fd00::22"),
     ["real_servers[1].address is IPv6 on an IPv4 virtual server, which only TUN forwards"]),
    ("real server twice", lambda v: web(v)["real_servers"].append(copy.deepcopy(web(v)["real_servers"][1])),
     ["real_servers[2] is listed twice (10.0.0.22 port 80)"]),
    ("weight out of range", lambda v: web(v)["real_servers"][0].update(weight=70000), ["weight is 70000, outside 0..65535"]),
    ("no real servers", lambda v: web(v).update(real_servers=[]), ["[0].real_servers is empty"]),
    ("unknown group", lambda v: v["lb1"]["virtual_servers"][1].update(group="nope"),
     ["[1].group is 'nope', which keepalived_virtual_server_groups does not define"]),
    ("bad group range", lambda v: v["lb1"]["virtual_server_groups"][0]["members"][0].update(address="10.0.0.111-110"),
     ["members[0] address '10.0.0.111-110' is not an address, a range"]),
    ("group mixing families", lambda v: v["lb1"]["virtual_server_groups"][0]["members"].append(
        {"address": "fd00::53", "port": 53}), ["(dns_vips).members mixes IPv4 and IPv6"]),
    ("same service twice", lambda v: v["lb1"]["virtual_servers"].append(copy.deepcopy(WEB)),
     ["keepalived_virtual_servers[2] is the same service as keepalived_virtual_servers[0]"]),
    ("hysteresis not below quorum", lambda v: web(v).update(quorum=2, hysteresis=2), ["hysteresis is 2"]),
    ("bad netmask", lambda v: web(v).update(persistence_granularity="255.0.255.0"), ["persistence_granularity is"]),
    ("sorry inhibit without sorry server", lambda v: web(v).update(sorry_server=None, sorry_server_inhibit=True),
     ["sorry_server_inhibit is set without sorry_server"]),
    ("unknown field", lambda v: web(v).update(lb_algorithm="rr"), ["[0] has unknown field(s) lb_algorithm"]),
    ("VRRP-only daemon", lambda v: v["lb1"].update(daemon_options=["--vrrp"]),
     ["keepalived_daemon_options has --vrrp, which runs VRRP only"]),
    ("port on a fwmark service", lambda v: web(v).update(address=None, fwmark=7),
     ["[0].port is set on a fwmark virtual server"]),
    ("protocol on a fwmark service", lambda v: web(v).update(address=None, port=None, fwmark=7, protocol="TCP"),
     ["[0].protocol is set on a fwmark virtual server, where keepalived ignores it"]),
    ("DR to another port", lambda v: (web(v).update(lb_kind="DR"), web(v)["real_servers"][0].update(port=8080)),
     ["real_servers[0].port is 8080, but DR forwards packets unchanged to the service's port 80"]),
    ("DR sorry server on another port", lambda v: web(v).update(lb_kind="DR"),
     ["[0].sorry_server.port is 8080, but DR forwards packets unchanged"]),
    ("TUN fwmark with a real port", lambda v: web(v).update(address=None, port=None, fwmark=7, lb_kind="TUN",
                                                            sorry_server=None),
     ["real_servers[0].port is 80, but a TUN firewall-mark service forwards packets unchanged"]),
    ("weights below the quorum", lambda v: web(v).update(quorum=5),
     ["[0].real_servers weigh 3 in all, below the quorum of 5"]),
    ("every weight 0", lambda v: [r.update(weight=0) for r in v["lb1"]["virtual_servers"][1]["real_servers"]],
     ["[1].real_servers weigh 0 in all, below the quorum of 1 (keepalived's default)"]),
    ("real server is the sorry server, inhibited differently",
     lambda v: web(v).update(sorry_server={"address": "10.0.0.22", "port": 80}, sorry_server_inhibit=True),
     ["real_servers[1].inhibit_on_failure differs from sorry_server_inhibit"]),
    ("ha_suspend on a fwmark service", lambda v: web(v).update(address=None, port=None, fwmark=7, ha_suspend=True),
     ["[0].ha_suspend is set on a service selected by a firewall mark"]),
    ("group member without port, not persistent",
     lambda v: v["lb1"]["virtual_server_groups"][0]["members"][1].pop("port"),
     ["[1].persistence_timeout is unset, but group dns_vips has members without a port"]),
    ("protocol on a group of marks",
     lambda v: v["lb1"]["virtual_server_groups"][0].update(members=[{"fwmark": 3}, {"fwmark": 4}]),
     ["[1].protocol is set on a fwmark virtual server, where keepalived ignores it"]),
    ("hysteresis with the default quorum", lambda v: web(v).update(quorum=None, hysteresis=1),
     ["hysteresis is 1, not a whole number from 0 to below quorum (1, keepalived's default)"]),
]


GOOD = [
    ("DR with the service's port", lambda v: (web(v).update(lb_kind="DR", sorry_server=None))),
    ("DR without real ports", lambda v: (web(v).update(lb_kind="DR", sorry_server={"address": "10.0.0.99"}),
                                         [r.pop("port") for r in web(v)["real_servers"]])),
    ("NAT to another port", lambda v: web(v)["real_servers"][0].update(port=8080)),
    ("fwmark NAT", lambda v: web(v).update(address=None, port=None, fwmark=7)),
    ("IPv6 real servers through TUN", lambda v: (web(v).update(lb_kind="TUN", sorry_server=None),
                                                 [r.update(address="fd00::2%d" % i, port=80)
                                                  for i, r in enumerate(web(v)["real_servers"])])),
]


@pytest.mark.parametrize("change", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_virtual_server_variants_pass(change):
    v = views()
    change(v)
    assert _model.build(v)["errors"] == []


@pytest.mark.parametrize("change, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_virtual_servers_are_refused(refused, change, expected):
    assert "lb1: " in refused(views(), change, expected)
