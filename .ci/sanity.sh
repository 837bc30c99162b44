#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` for the collection.
#
# ansible-test only works on a collection that sits at
# .../ansible_collections/failover/keepalived, so the working tree (tracked
# and untracked files that are not ignored; .venv is ignored) is copied into
# such a tree in a temporary directory first.
#
#   .ci/sanity.sh                 sanity, then units
#   .ci/sanity.sh sanity|units    one of them
#   KEEP=1 .ci/sanity.sh          keep the temporary tree (path is printed)
#
# Tools come from the repository's .venv (ansible-core pinned in
# .ci/requirements.txt). Sanity and unit-test requirements are installed by
# ansible-test (--requirements) into virtual environments of its own under
# ~/.ansible/test, never into .venv; PyPI must be reachable, Galaxy need not be.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_VERSION="${PYTHON_VERSION:-3.11}"
WHAT="${1:-all}"
case "$WHAT" in all|sanity|units) ;; *) echo "usage: $0 [all|sanity|units]" >&2; exit 2 ;; esac

if [[ -x "$REPO/.venv/bin/ansible-test" ]]; then
  export PATH="$REPO/.venv/bin:$PATH"
fi
command -v ansible-test >/dev/null || { echo "ansible-test not found (create .venv from .ci/requirements.txt)" >&2; exit 2; }

# --- ansible-test's pip bootstrap, without its download -----------------------
# ansible-test bootstraps pip in each new virtual environment by running a
# get-pip script it downloads from a host that is not reachable here. The
# stand-in below does the same job with the standard library's ensurepip and
# then pip itself, which reads the host's pip.conf (mirror and CA certificate).
pip_version="$(python - <<'EOF'
import pathlib, re
import ansible_test
source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
EOF
)"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$get_pip")"
cat > "$get_pip.new" <<'EOF'
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
EOF
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
    | while IFS= read -r -d '' file; do [[ -e "$file" || -L "$file" ]] && printf '%s\0' "$file"; done \
    | rsync -a --from0 --files-from=- --exclude='.venv/' ./ "$dest/"
)
# ansible-test uses git to list a collection's files when it finds a repository.
git -C "$dest" init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=ci -c user.email=ci@localhost commit -q -m snapshot

cd "$dest"
rc=0
start=$SECONDS

if [[ "$WHAT" != units ]]; then
  # Skipped on purpose (not via ignore files):
  #   shellcheck - the shellcheck binary is not installed here (ansible-test has
  #                no way to install it); run it from CI images that have it.
  #   pslint     - needs PowerShell; the collection has no PowerShell code.
  skip=(--skip-test shellcheck --skip-test pslint)
  echo "== ansible-test sanity (python $PYTHON_VERSION)"
  ansible-test sanity --color no --python "$PYTHON_VERSION" --requirements --venv "${skip[@]}" || rc=1
fi

if [[ "$WHAT" != sanity ]]; then
  echo "== ansible-test units (python $PYTHON_VERSION)"
  ansible-test units --color no --python "$PYTHON_VERSION" --requirements --venv || rc=1
fi

echo "== done in $((SECONDS - start))s: $([[ $rc -eq 0 ]] && echo passed || echo FAILED)"
exit "$rc"
