# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_lock as Ansible runs it: two runs, check mode, a clear refusal."""

from __future__ import annotations

import json

MODULE = 'keepalived_lock'
RUN_A = {'id': 'a' * 32, 'controller': 'ops1', 'pid': 4242, 'user': 'deploy', 'playbook': 'site'}
RUN_B = dict(RUN_A, id='b' * 32, pid=4343, user='alice')


def test_second_run_is_refused_and_names_the_first(run_module, tmp_path):
    path = str(tmp_path / 'lock')
    result, _output = run_module({'run': RUN_A, 'path': path})
    assert (result['acquired'], result['changed'], result['msg']) == (True, True, 'took the lock')
    result, _output = run_module({'run': RUN_B, 'path': path, 'wait': 0.2, 'poll_interval': 0.1})
    assert result['failed'] is True
    assert result['acquired'] is False
    assert result['msg'].startswith('another run holds the lock: run %s (site) by deploy on ops1, pid 4242' % RUN_A['id'])
    result, _output = run_module({'run': RUN_B, 'path': path, 'fail_when_held': False})
    assert result.get('failed') is not True and result['acquired'] is False
    assert json.loads(open(path).read())['id'] == RUN_A['id']
    result, _output = run_module({'run': RUN_B, 'path': path, 'state': 'released'})
    assert (result['changed'], result['state']) == (False, 'held')
    result, _output = run_module({'run': RUN_A, 'path': path, 'state': 'released'})
    assert (result['changed'], result['state']) == (True, 'released')
    result, _output = run_module({'run': RUN_B, 'path': path})
    assert (result['acquired'], result['state']) == (True, 'free')


def test_check_mode_writes_nothing(run_module, tmp_path):
    path = tmp_path / 'lock'
    result, _output = run_module({'run': RUN_A, 'path': str(path)}, check=True)
    assert (result['acquired'], result['changed'], result['state']) == (True, True, 'free')
    assert not path.exists()
    path.write_text('')
    result, _output = run_module({'run': RUN_A, 'path': str(path)}, check=True)
    assert (result['acquired'], result['changed'], result['state']) == (True, True, 'free')
    assert path.read_text() == ''


def test_take_over_names_the_replaced_run(run_module, tmp_path):
    path = str(tmp_path / 'lock')
    run_module({'run': RUN_B, 'path': path})
    result, _output = run_module({'run': RUN_A, 'path': path, 'take_over': [RUN_B['id']]})
    assert result['state'] == 'taken over'
    assert result['replaced']['user'] == 'alice'
    assert 'took the lock over from a run that has ended: run %s' % RUN_B['id'] in result['msg']


def test_a_run_must_name_itself(run_module, tmp_path):
    result, _output = run_module({'run': {'id': 'x'}, 'path': str(tmp_path / 'lock')})
    assert result['failed'] is True
    assert result['msg'] == ('run lacks controller, pid, user, playbook: give the result of the '
                             'failover.keepalived.keepalived_run filter')
