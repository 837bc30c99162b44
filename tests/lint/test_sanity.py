"""ansible-test sanity on the whole collection, through .ci/sanity.sh.

The ignore files under tests/sanity/ stay empty, so every finding fails here.
The unit tests are not run again by ansible-test: this pytest session already
runs tests/unit (see the header of .ci/sanity.sh).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import run_logged

TOP = Path(__file__).resolve().parents[2]
# A run with warm caches takes about a minute; the first one also creates
# ansible-test's virtual environments from PyPI.
TIMEOUT = 1800


@pytest.mark.sanity
def test_ansible_test_sanity(tmp_path):
    rc, text = run_logged(["bash", ".ci/sanity.sh", "sanity"], tmp_path / "sanity.log", TIMEOUT, cwd=TOP)
    for line in text.splitlines():
        if line.startswith("== done"):
            print(line)
    assert rc == 0, ".ci/sanity.sh failed (%s):\n%s" % (rc, text[-8000:])


def test_ignore_files_stay_empty():
    """Findings are fixed in the code, not listed in tests/sanity/ignore-*.txt."""
    for ignore in sorted((TOP / "tests" / "sanity").glob("ignore-*.txt")):
        assert not ignore.read_text().strip(), "%s is not empty: fix the finding instead" % ignore.relative_to(TOP)
