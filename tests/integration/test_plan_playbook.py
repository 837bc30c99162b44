# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/plan.yml on the seed example's inventory, whose hosts do not exist here: it must not need them.

The example's addresses (10.0.0.18, 10.0.0.28) are not reachable from this machine, so any task that
contacted a host would fail the run; in check mode too. The JSON it writes is the failover plan
filter's, and the table is what people read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from invariant_support import _collections_root

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_plan_reads_the_inventory_alone(tmp_path, check):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collections_root(), ANSIBLE_NOCOLOR="1")
    out = tmp_path / "plan.json"
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "examples/two-node/hosts.yml"),
            str(REPO / "playbooks/plan.yml"), "-e", "plan_json=%s" % out] + (["--check"] if check else [])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "unreachable=0" in proc.stdout and "UNREACHABLE" not in proc.stdout
    assert "instance WEB1 (10.0.0.100/24): holder node1; succession node1 100 > node2 80" in proc.stdout
    assert "check check_test fails on node1" in proc.stdout and "4.69-10.04 s" in proc.stdout
    if check:
        assert not out.exists()  # check mode writes nothing
        return
    plan = json.loads(out.read_text())
    inst = plan["instances"][0]
    assert (inst["holder"], inst["succession"]) == ("node1", ["node1", "node2"])
    moved = {f["what"]: f["failover_s"] for f in inst["failures"] if "failover_s" in f}
    assert moved == {"check check_test fails on node1": [4.69, 10.04],
                     "node1 drained (down file /etc/keepalived/down)": [4.69, 10.04],
                     "node1 stops (keepalived stopped, a clean shutdown)": [0.69, 1.04],
                     "node1 is lost (crash, power, network)": [2.69, 4.04]}
    assert "auth_pass" not in out.read_text() and "666" not in json.dumps(inst["failures"])
