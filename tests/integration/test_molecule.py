"""Run the Molecule scenarios against real containers, one test per scenario and lab.

A lab is a Debian release for every node ("bookworm", "trixie") or two of them, "first+peers": node1 on
the first, the other nodes on the second (MOLECULE_DISTRO and MOLECULE_DISTRO_PEERS). CI runs each
scenario once, on its lab in CI_LABS: the two mixed labs put Debian 12 and 13 side by side in one
cluster, so both releases are covered without a second run of either scenario. `FK_MATRIX=full` runs
every scenario on every release alone as well; FK_MOLECULE_DISTROS (space-separated releases) runs
every scenario on each of those alone instead, and FK_MOLECULE_SCENARIOS narrows the scenarios.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
RELEASES = ["bookworm", "trixie"]
ALL_SCENARIOS = sorted(p.parent.name for p in (TOP / "molecule").glob("*/molecule.yml"))
SCENARIOS = os.environ.get("FK_MOLECULE_SCENARIOS", " ".join(ALL_SCENARIOS)).split()
# The lab CI runs each scenario on. default: the example's preferred master on Debian 12, the node
# that joins and the backup on 13 (a cluster halfway through a release upgrade); checks: the node
# whose services fail on 13, its peer on 12; faults and fast run on 12 (and the benchmark too).
CI_LABS = {"default": "bookworm+trixie", "checks": "trixie+bookworm"}
CI_LAB = "bookworm"


def matrix(scenarios, releases, full):
    if releases:
        return [(scenario, release) for release in releases for scenario in scenarios]
    ci = [(scenario, CI_LABS.get(scenario, CI_LAB)) for scenario in scenarios]
    if not full:
        return ci
    alone = [(scenario, release) for release in RELEASES for scenario in scenarios]
    return alone + [pair for pair in ci if pair not in alone]


MATRIX = matrix(SCENARIOS, os.environ.get("FK_MOLECULE_DISTROS", "").split(), os.environ.get("FK_MATRIX") == "full")
# Lines the scenarios print with their measurements.
FIGURES = re.compile(r'"msg": "(.*(?:moved|figures|held|took).*)"')
# Ansible's lines for a task that failed; the task's header is the last "TASK [" before it.
FAILED = re.compile(r"^(?:fatal|failed): \[")

pytestmark = pytest.mark.molecule


@pytest.fixture(scope="session")
def collection_link():
    """The collection Molecule's playbooks load is this checkout itself, through a link.

    At each start Molecule installs a copy of the checkout into ~/.ansible/collections, except where the
    collection there is already a link to the checkout. With two scenarios at once (FK_LANES=2 runs two
    lanes), one scenario's copy would replace the files under the other's running playbook; the link is
    made once, under a lock, by whichever scenario starts first.
    """
    link = Path.home() / ".ansible" / "collections" / "ansible_collections" / "failover" / "keepalived"
    link.parent.mkdir(parents=True, exist_ok=True)
    with open(link.parent / ".failover-keepalived-link.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (link.is_symlink() and link.resolve() == TOP):
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.exists():
                shutil.rmtree(link)
            link.symlink_to(TOP)
    return link


@pytest.mark.parametrize("scenario, distro", MATRIX, ids=["%s-%s" % pair for pair in MATRIX])
def test_scenario(scenario, distro, tmp_path, collection_link):
    first, _plus, peers = distro.partition("+")
    env = dict(os.environ, MOLECULE_DISTRO=first, MOLECULE_DISTRO_PEERS=peers or first, NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    log = tmp_path / "molecule.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario], cwd=TOP, env=env, stdout=out, stderr=subprocess.STDOUT,
            timeout=1500, check=False,
        )
    text = log.read_text(encoding="utf-8", errors="replace")
    for line in FIGURES.findall(text):
        print("%s/%s: %s" % (scenario, distro, line))
    assert proc.returncode == 0, "molecule test -s %s (%s) failed:\n%s\n[...]\n%s" % (
        scenario, distro, failed_tasks(text), text[-3000:])


def failed_tasks(text, after=30):
    """Each failed task's header and the lines Ansible printed for it: the tail alone shows only the recap."""
    lines = text.splitlines()
    shown = []
    for number, line in enumerate(lines):
        if FAILED.match(line):
            header = next((lines[back] for back in range(number, -1, -1) if lines[back].startswith("TASK [")), "")
            shown.extend([header] + lines[number:number + after] + ["---"])
    return "\n".join(shown)[-8000:] or "(no failed task in the log)"
