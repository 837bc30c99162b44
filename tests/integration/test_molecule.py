"""Run the Molecule scenarios against real containers, one test per scenario and distribution.

FK_MOLECULE_DISTROS (default "bookworm trixie") and FK_MOLECULE_SCENARIOS
(default: every scenario in molecule/) narrow the matrix.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
DISTROS = os.environ.get("FK_MOLECULE_DISTROS", "bookworm trixie").split()
ALL_SCENARIOS = sorted(p.parent.name for p in (TOP / "molecule").glob("*/molecule.yml"))
SCENARIOS = os.environ.get("FK_MOLECULE_SCENARIOS", " ".join(ALL_SCENARIOS)).split()
# Lines the scenarios print with their measurements.
FIGURES = re.compile(r'"msg": "(.*(?:moved|figures|held|took).*)"')

pytestmark = pytest.mark.molecule


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, distro, tmp_path):
    env = dict(os.environ, MOLECULE_DISTRO=distro, NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    log = tmp_path / "molecule.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario], cwd=TOP, env=env, stdout=out, stderr=subprocess.STDOUT,
            timeout=1500, check=False,
        )
    text = log.read_text(encoding="utf-8", errors="replace")
    for line in FIGURES.findall(text):
        print("%s/%s: %s" % (scenario, distro, line))
    assert proc.returncode == 0, "molecule test -s %s (%s) failed:\n%s" % (scenario, distro, text[-6000:])
