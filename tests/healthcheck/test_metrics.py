# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived-check metrics: real dumps of keepalived 2.2.7 and 2.3.3 read by the program's own copy of the
collection's parser, rendered for node-exporter's textfile collector; the file replaced whole; its usage."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hc_support import program_module, run_program

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "fixtures"
metrics = program_module("metrics")
parse = program_module("keepalived_state._keepalived_parse")


def reading(capture):
    """The reading the probe builds from one real capture (JSON and DATA dumps, ip -j addr)."""
    def text(kind):
        return (FIXTURES / ("keepalived-%s.%s" % (capture, kind))).read_text()

    data = parse.parse_data_dump(text("data"))
    return parse.build_status(True, pid=1, instances=parse.merge_instances(parse.parse_json_dump(text("json")), data),
                              scripts=data.get("scripts"), addresses=parse.parse_ip_json(text("ip.json")))


# capture, lines the file must hold
CASES = [
    ("2.2.7-master", ['keepalived_up 1',
                      'keepalived_vrrp_state{state="MASTER",vrrp_instance="VI_1"} 1',
                      'keepalived_vrrp_state{state="BACKUP",vrrp_instance="VI_1"} 0',
                      'keepalived_vrrp_effective_priority{vrrp_instance="VI_1"} 110',
                      'keepalived_vrrp_vip_held{vip="192.168.158.100",vrrp_instance="VI_1"} 1',
                      'keepalived_vrrp_script_healthy{script="chk_down",vrrp_instance="VI_1"} 1',
                      'keepalived_vrrp_transitions_total{vrrp_instance="VI_1"} 1',
                      'keepalived_vrrp_last_transition_timestamp_seconds{vrrp_instance="VI_1"} 1795634696.506891']),
    ("2.2.7-drained", ['keepalived_vrrp_state{state="BACKUP",vrrp_instance="VI_1"} 1',
                       'keepalived_vrrp_base_priority{vrrp_instance="VI_1"} 110',
                       'keepalived_vrrp_effective_priority{vrrp_instance="VI_1"} 80',
                       'keepalived_vrrp_vip_held{vip="192.168.158.100",vrrp_instance="VI_1"} 0',
                       'keepalived_vrrp_script_healthy{script="chk_down",vrrp_instance="VI_1"} 0',
                       'keepalived_vrrp_transitions_total{vrrp_instance="VI_1"} 2']),
    ("2.2.7-fault", ['keepalived_vrrp_state{state="FAULT",vrrp_instance="VI_1"} 1',
                     'keepalived_vrrp_script_healthy{script="chk_fault",vrrp_instance="VI_1"} 0']),
    ("2.3.3-backup", ['keepalived_vrrp_state{state="MASTER",vrrp_instance="VI_2"} 1',
                      'keepalived_vrrp_vip_held{vip="192.168.158.103",vrrp_instance="VI_2"} 1',
                      'keepalived_vrrp_vip_held{vip="192.168.158.100",vrrp_instance="VI_1"} 0']),
]


@pytest.mark.parametrize("capture, lines", CASES, ids=[c[0] for c in CASES])
def test_real_dumps(capture, lines):
    text = metrics.render(reading(capture), 1000.0)
    assert set(lines) <= set(text.splitlines())
    assert "keepalived_metrics_timestamp_seconds 1000.0" in text.splitlines()
    # Every sample belongs to a family with its HELP and TYPE, as the text format wants.
    families = set(re.findall(r"^# TYPE (\S+) (?:gauge|counter)$", text, re.M))
    assert {re.match(r"[a-z_]+", line).group(0) for line in text.splitlines() if not line.startswith("#")} <= families
    password = re.search(r'"auth_data":"([^"]+)"', (FIXTURES / ("keepalived-%s.json" % capture)).read_text()).group(1)
    assert password not in text and "auth" not in text


def test_keepalived_not_running():
    text = metrics.render({"running": False}, 5.0)
    assert "keepalived_up 0" in text.splitlines() and "instance=" not in text


def test_label_values_are_escaped():
    status = {"running": True, "instances": {'a"b\\c': {"state": "MASTER", "vips": [], "track_scripts": []}}}
    assert 'keepalived_vrrp_state{state="MASTER",vrrp_instance="a\\"b\\\\c"} 1' in metrics.render(status, 1.0)


def test_once_writes_the_file_whole(tmp_path):
    output = tmp_path / "keepalived.prom"
    output.write_text("old\n")
    result = run_program("metrics", "--output", output, "--once", "--pid-file", tmp_path / "no.pid")
    assert result.rc == 0, result.err
    assert "keepalived_up 0" in output.read_text().splitlines()
    assert oct(os.stat(output).st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keepalived.prom"]  # no temporary file left


@pytest.mark.parametrize("argv, message", [
    (["--output", "/nonexistent-dir/keepalived.prom", "--once"], "must be a .prom file in an existing directory"),
    (["--output", "OUT/keepalived.txt", "--once"], "must be a .prom file"),
    (["--output", "OUT/keepalived.prom", "--interval", "0.1"], "--interval must be 0.5 to 3600 seconds"),
], ids=["no such directory", "not .prom", "interval too short"])
def test_usage(tmp_path, argv, message):
    result = run_program("metrics", *[str(a).replace("OUT", str(tmp_path)) for a in argv])
    assert result.rc == 2 and message in result.err


def test_vips_still_on_the_interface_while_keepalived_does_not_answer():
    """A killed keepalived leaves its VIPs on the interface: they are still reported held, keepalived down."""
    last = reading("2.2.7-master")

    class Silent:
        """A probe of a keepalived that does not answer, on a host whose addresses are the capture's."""

        def status(self):
            raise parse.DumpError("keepalived did not write its dumps")

        def addresses(self):
            return last["addresses"]

    status = metrics.reading(Silent(), last)
    lines = metrics.render(status, 1.0).splitlines()
    assert "keepalived_up 0" in lines
    assert 'keepalived_vrrp_vip_held{vip="192.168.158.100",vrrp_instance="VI_1"} 1' in lines
    assert not [line for line in lines if line.startswith("keepalived_vrrp_state")]
