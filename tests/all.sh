#!/usr/bin/env bash
# Every test: set-up on a fresh machine (lab/setup.sh), then one pytest run
# over lint and static checks, unit tests against real services, ansible-test
# sanity, and the Molecule scenarios on Debian 12 and 13. pytest's summary is
# the closing line. Extra arguments go to pytest. Markers (pytest.ini) say
# what a test starts: `molecule` (a Molecule scenario), `containers` (its own
# containers outside Molecule: the lab check test, the benchmark), `sanity`
# (ansible-test sanity); e.g. `-m "not molecule and not containers"` runs
# everything that needs no container. The tests run in FK_LANES lanes side by
# side, two by default (pytest-xdist, one worker per core; tests/conftest.py
# deals the Molecule scenarios, the benchmark and the rest to the lanes);
# FK_LANES=1 runs them one after another.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash lab/setup.sh
# shellcheck source=/dev/null
. .venv/bin/activate
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
set +e
lanes=()
[ "${FK_LANES:-2}" -gt 1 ] && lanes=(-n "${FK_LANES:-2}" --dist loadgroup)
python -m pytest "${lanes[@]}" "$@"
rc=$?
set -e
# pytest exits 5 when no test was collected: that is a failure here too.
[ "$rc" -eq 5 ] && echo "0 passed, 1 failed: no test was collected"
exit "$rc"
