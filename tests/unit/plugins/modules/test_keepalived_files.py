# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the keepalived_files module the way Ansible does, on real files in a temporary directory."""

from __future__ import annotations

import json
import os
import stat

import pytest

MODULE = 'keepalived_files'
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='root-owned files need root')


def wanted(top, script='print("v1")\n'):
    return [
        {'path': str(top / 'lib'), 'state': 'directory'},
        {'path': str(top / 'lib' / 'check.py'), 'content': script},
        {'path': str(top / 'bin-check'), 'content': '#!/bin/sh\nexec true\n', 'mode': '0755'},
        {'path': str(top / 'secret.cnf'), 'content': 'password=hunter2\n', 'mode': '0600', 'owner': 'nobody'},
        {'path': str(top / 'old.service'), 'state': 'absent'},
        {'path': str(top / 'wants-old.service'), 'state': 'absent'},
    ]


def test_first_run_then_unchanged(run_module, snapshot, tmp_path):
    top = tmp_path / 'root'
    top.mkdir()
    (top / 'old.service').write_text('[Unit]\n')
    os.symlink(str(top / 'old.service'), str(top / 'wants-old.service'))
    result = run_module({'files': wanted(top)}, diff=True)[0]
    assert result['changed'] is True
    assert result['changed_paths'] == [str(top / p) for p in (
        'lib', 'lib/check.py', 'bin-check', 'secret.cnf', 'old.service', 'wants-old.service')]
    assert result['removed_paths'] == [str(top / 'old.service'), str(top / 'wants-old.service')]
    assert 'hunter2' not in json.dumps(result['diff'])
    now = snapshot(top)
    assert sorted(now) == ['bin-check', 'lib', 'lib/check.py', 'secret.cnf']
    assert now['lib'][2] == 0o755 and now['bin-check'][2] == 0o755 and now['lib/check.py'][2] == 0o644
    assert now['secret.cnf'][1:4] == (b'password=hunter2\n', 0o600, 65534)
    again = run_module({'files': wanted(top)}, diff=True)[0]
    assert (again['changed'], again['changed_paths'], again['removed_paths']) == (False, [], [])
    assert 'diff' not in again
    assert snapshot(top) == now


def test_mode_and_owner_fixed_in_place(run_module, tmp_path):
    top = tmp_path / 'root'
    top.mkdir()
    run_module({'files': wanted(top)})
    os.chmod(str(top / 'lib' / 'check.py'), 0o666)
    os.chown(str(top / 'bin-check'), 65534, 0)
    inode = os.stat(str(top / 'lib' / 'check.py')).st_ino
    result = run_module({'files': wanted(top)})[0]
    assert result['changed_paths'] == [str(top / 'lib' / 'check.py'), str(top / 'bin-check')]
    st = os.stat(str(top / 'lib' / 'check.py'))
    assert (stat.S_IMODE(st.st_mode), st.st_ino) == (0o644, inode)
    assert os.stat(str(top / 'bin-check')).st_uid == 0


def test_link_replaced_by_file_not_followed(run_module, tmp_path):
    top = tmp_path / 'root'
    (top / 'lib').mkdir(parents=True)
    target = tmp_path / 'elsewhere'
    target.write_text('keep me\n')
    os.symlink(str(target), str(top / 'lib' / 'check.py'))
    run_module({'files': wanted(top)})
    assert not os.path.islink(str(top / 'lib' / 'check.py'))
    assert target.read_text() == 'keep me\n'


@pytest.mark.parametrize('prepare', ['empty', 'applied'])
def test_check_mode_touches_nothing(run_module, snapshot, tmp_path, prepare):
    top = tmp_path / 'root'
    top.mkdir()
    if prepare == 'applied':
        run_module({'files': wanted(top)})
    (top / 'old.service').write_text('[Unit]\n')
    before = snapshot(top)
    result = run_module({'files': wanted(top, script='print("v2")\n')}, check=True, diff=True)[0]
    assert result['changed'] is True
    assert str(top / 'lib' / 'check.py') in result['changed_paths']
    assert result['removed_paths'] == [str(top / 'old.service')]
    by_path = dict((d['after_header'].split(' ')[0], d) for d in result['diff'])
    assert by_path[str(top / 'lib' / 'check.py')]['after'] == 'print("v2")\n'
    assert snapshot(top) == before


def test_rejected_validation_changes_nothing(run_module, snapshot, tmp_path):
    top = tmp_path / 'root'
    top.mkdir()
    run_module({'files': wanted(top)})
    before = snapshot(top)
    files = wanted(top, script='print("v2")\n') + [
        {'path': str(top / 'rule'), 'content': 'not ok\n', 'validate': 'grep -qx ok %s'}]
    result = run_module({'files': files})[0]
    assert result['failed'] is True
    assert 'rule: validation (grep -qx ok %s) failed; nothing was changed' in result['msg']
    assert snapshot(top) == before
    files[-1]['content'] = 'ok\n'
    result = run_module({'files': files})[0]
    assert result['changed'] is True and (top / 'rule').read_text() == 'ok\n'
    assert (top / 'lib' / 'check.py').read_text() == 'print("v2")\n'


def test_validation_command_missing(run_module, tmp_path):
    top = tmp_path / 'root'
    top.mkdir()
    files = [{'path': str(top / 'rule'), 'content': 'x\n', 'validate': 'no-such-validator-here -c %s'}]
    result = run_module({'files': files}, check=True)[0]
    assert result['changed'] is True
    assert 'not validated in check mode: no-such-validator-here is not installed' in json.dumps(result['warnings'])
    result = run_module({'files': files})[0]
    assert result['failed'] is True and not (top / 'rule').exists()


@pytest.mark.parametrize('files, message', [
    ([{'path': 'rel', 'content': 'x'}], 'must be absolute'),
    ([{'path': '/tmp/x', 'content': 'x', 'owner': 'no-such-user-here'}], "owner 'no-such-user-here' does not exist"),
])
def test_bad_input_fails_cleanly(run_module, files, message):
    result = run_module({'files': files})[0]
    assert result['failed'] is True and message in result['msg']


def test_never_removes_a_directory(run_module, tmp_path):
    (tmp_path / 'd').mkdir()
    result = run_module({'files': [{'path': str(tmp_path / 'd'), 'state': 'absent'}]})[0]
    assert result['failed'] is True and 'removes files and links only' in result['msg']
    assert (tmp_path / 'd').is_dir()
