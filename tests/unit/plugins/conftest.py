# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the checkout importable as ansible_collections.failover.keepalived.

Under ``ansible-test units`` the checkout already sits at such a path; from a
plain checkout a temporary directory with a symbolic link stands in for it.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _collections_root():
    """Return a directory that holds ansible_collections/failover/keepalived -> REPO."""
    parts = REPO.split(os.sep)
    if parts[-3:-1] == ['ansible_collections', 'failover'] and parts[-1] == 'keepalived':
        return os.sep.join(parts[:-3])
    root = tempfile.mkdtemp(prefix='failover-keepalived-tests.')
    os.makedirs(os.path.join(root, 'ansible_collections', 'failover'))
    os.symlink(REPO, os.path.join(root, 'ansible_collections', 'failover', 'keepalived'))
    atexit.register(shutil.rmtree, root, True)
    return root


COLLECTIONS_ROOT = _collections_root()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)


@pytest.fixture(scope='session')
def collections_root():
    """The directory to put on PYTHONPATH so modules find their module_utils."""
    return COLLECTIONS_ROOT


@pytest.fixture(scope='session')
def repo_root():
    """The checkout."""
    return REPO


def _ansible_root():
    """Return the directory the running tests import ``ansible`` from.

    From the repository's virtual environment that is its site-packages; under
    ``ansible-test units`` it is the copy of ansible-core that ansible-test puts
    on the path of its own environment, where ``ansible`` is not installed.
    """
    spec = importlib.util.find_spec('ansible')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('the tests cannot import ansible')
    return os.path.dirname(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope='session')
def module_env():
    """The environment to run a module in a subprocess of sys.executable.

    Its PYTHONPATH holds the collection root (for the module's module_utils)
    and the ansible-core the tests use (for ansible.module_utils), ahead of
    whatever PYTHONPATH the tests run with.
    """
    paths = [COLLECTIONS_ROOT, _ansible_root()]
    inherited = os.environ.get('PYTHONPATH')
    if inherited:
        paths.append(inherited)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


@pytest.fixture
def module_runner(tmp_path, module_env, repo_root):
    """Return run(NAME, ARGS, check=False, diff=False) -> (result, raw output).

    It runs plugins/modules/NAME.py in a subprocess, the way Ansible does,
    with ARGS plus the check and diff flags in a JSON arguments file.
    """
    counter = [0]

    def run(name, args, check=False, diff=False):
        counter[0] += 1
        args_file = tmp_path / ('args-%d.json' % counter[0])
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(
            args, _ansible_check_mode=check, _ansible_diff=diff)}))
        proc = subprocess.run(
            [sys.executable, os.path.join(repo_root, 'plugins', 'modules', name + '.py'), str(args_file)],
            capture_output=True, text=True, env=module_env, cwd=str(tmp_path), timeout=60, check=False,
        )
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            pytest.fail('module printed no JSON (rc %d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
        assert (proc.returncode != 0) == bool(result.get('failed')), proc.stderr
        return result, proc.stdout + proc.stderr

    return run
