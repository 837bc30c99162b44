# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example alert rules: promtool (Debian's prometheus package) checks them and runs their unit tests,
and every metric they name is one that keepalived-check metrics writes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
RULES = TOP / "examples" / "prometheus" / "keepalived.rules.yml"
TESTS = TOP / "tests" / "prometheus" / "keepalived.rules.test.yml"

pytestmark = pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (Debian package prometheus)")


def test_rules_are_valid():
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rules_fire_as_their_tests_say():
    proc = subprocess.run(["promtool", "test", "rules", TESTS.name], cwd=TESTS.parent, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_rules_name_only_metrics_the_program_writes():
    sys.path.insert(0, str(TOP / "roles" / "healthcheck" / "files"))
    from keepalived_check import metrics  # pylint: disable=import-outside-toplevel

    status = {"running": True, "instances": {"WEB1": {
        "state": "MASTER", "base_priority": 100, "effective_priority": 100, "last_transition": 1.0,
        "vips": ["10.0.0.100/24"], "vips_present": ["10.0.0.100/24"], "stats": {"become_master": 1},
        "track_scripts": [{"name": "check_test", "status": "GOOD"}]}}}
    written = set(re.findall(r"^# TYPE (\S+) ", metrics.render(status, 1.0), re.M))
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    named = {name for rule in rules for name in re.findall(r"\bkeepalived_[a-z_]+", rule["expr"])}
    assert named and named <= written, "the rules name metrics the program does not write: %s" % (named - written)
