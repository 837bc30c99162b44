#!/usr/bin/env bash
# Run `ansible-test sanity` for the collection (and, on request only,
# `ansible-test units`).
#
# ansible-test only works on a collection that sits at
# .../ansible_collections/failover/keepalived, so the working tree (tracked
# and untracked files that are not ignored; .venv is ignored) is copied into
# such a tree in a temporary directory first.
#
#   .ci/sanity.sh                      sanity
#   .ci/sanity.sh sanity|units [ARGS]  one of them; ARGS go to ansible-test
#                                      (e.g. --test pylint, or unit test paths)
#   KEEP=1 .ci/sanity.sh               keep the temporary tree (path is printed)
#
# The unit tests run once per CI run, by pytest: tests/all.sh's pytest session
# collects tests/unit (testpaths in pytest.ini), where every case is a line of
# pytest's summary, with the .venv's pinned ansible-core. CI calls this script
# through tests/lint/test_sanity.py for sanity alone, which pytest cannot do;
# `ansible-test units` would only run the same tests a second time, minutes
# longer, in its own virtual environments, as one pass/fail line. The units
# mode stays for checking by hand that the tests also pass under ansible-test
# (tests/unit/plugins/conftest.py supports both).
#
# Tools come from the repository's .venv (ansible-core pinned in
# .ci/requirements.txt). Sanity and unit-test requirements are installed by
# ansible-test (--requirements) into virtual environments of its own
# (--venv, and ~/.ansible/test/venv for sanity), never into .venv; PyPI must
# be reachable, Ansible Galaxy need not be.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_VERSION="${PYTHON_VERSION:-3.11}"
WHAT="${1:-sanity}"
case "$WHAT" in
  sanity|units) ;;
  *) echo "usage: $0 [sanity|units] [ansible-test arguments]" >&2; exit 2 ;;
esac
shift || true
EXTRA=("$@")

if [[ -x "$REPO/.venv/bin/ansible-test" ]]; then
  export PATH="$REPO/.venv/bin:$PATH"
fi
command -v ansible-test >/dev/null || {
  echo "ansible-test not found (create .venv from .ci/requirements.txt)" >&2
  exit 2
}

# --- ansible-test's pip bootstrap, without its download -----------------------
# ansible-test bootstraps pip in each new virtual environment with a get-pip
# script that it downloads from a host that is not reachable here. The
# stand-in below does the same job with the standard library's ensurepip and
# then pip itself, which reads the host's pip.conf (index and CA certificate).
# Its file name carries the pip version the installed ansible-test pins.
pip_version="$(python -c '
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip=.([0-9.]+).", source.read_text()).group(1))
')"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$get_pip")"
cat > "$get_pip.new" <<'PY'
"""Stand-in for pypa's get-pip.py, written by the collection's .ci/sanity.sh.

Called as `python get_pip.py [pip options] PACKAGES --no-setuptools --no-wheel`.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null, which would hide the host's
# pip.conf (index, CA certificate) from the pip run below.
os.environ.pop('PIP_CONFIG_FILE', None)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args))
PY
mv "$get_pip.new" "$get_pip"

# --- the collection tree ------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/failover-keepalived-sanity.XXXXXX")"
if [[ -n "${KEEP:-}" ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi
dest="$work/ansible_collections/failover/keepalived"
mkdir -p "$dest"
(
  cd "$REPO"
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do
        if [[ -e "$file" || -L "$file" ]]; then printf '%s\0' "$file"; fi
      done \
    | rsync -a --from0 --files-from=- --exclude='.venv/' ./ "$dest/"
)
# ansible-test lists a collection's files with git when it finds a repository.
git -C "$dest" init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=ci -c user.email=ci@localhost commit -q -m snapshot

cd "$dest"
# --venv comes first on purpose: when ansible-test 2.19 re-runs itself in its
# venv it drops the word that follows --venv unless that word is an option, so
# a test path written right after it would silently not run.
common=(--venv --python "$PYTHON_VERSION" --requirements --color no)
rc=0
start=$SECONDS

if [[ "$WHAT" == sanity ]]; then
  # Skipped on purpose (not through ignore files):
  # - pslint needs PowerShell, which is not installed here and which
  #   ansible-test cannot install; the collection has no PowerShell code.
  # - The shell script check is skipped only when its binary is missing
  #   (Debian package "shellcheck"); ansible-test cannot install it either.
  skip=(--skip-test pslint)
  if ! command -v shellcheck >/dev/null; then
    echo "shellcheck not installed (apt-get install shellcheck): skipping that sanity test"
    skip+=(--skip-test shellcheck)
  fi
  echo "== ansible-test sanity (python $PYTHON_VERSION)"
  ansible-test sanity "${common[@]}" "${skip[@]}" ${EXTRA[@]+"${EXTRA[@]}"} || rc=1
fi

if [[ "$WHAT" == units ]]; then
  echo "== ansible-test units (python $PYTHON_VERSION)"
  rm -rf tests/output/junit
  ansible-test units "${common[@]}" ${EXTRA[@]+"${EXTRA[@]}"} || rc=1
  # ansible-test runs pytest once per group (modules, module_utils,
  # controller); add them up into one closing line.
  python - tests/output/junit/*-units.xml <<'PY' || rc=1
import sys
import xml.etree.ElementTree as ET

counts = dict(tests=0, failures=0, errors=0, skipped=0)
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        continue
    for suite in [root] if root.tag == 'testsuite' else root.iter('testsuite'):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
passed = counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']
print('units: %d passed, %d failed, %d errors, %d skipped' % (
    passed, counts['failures'], counts['errors'], counts['skipped']))
PY
fi

echo "== done in $((SECONDS - start))s: $([[ $rc -eq 0 ]] && echo passed || echo FAILED)"
exit "$rc"
