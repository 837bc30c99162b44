# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_maintenance as Ansible runs it: the down file, check and diff mode, waiting."""

from __future__ import annotations

import pytest

from ansible_collections.failover.keepalived.plugins.modules import keepalived_maintenance


@pytest.mark.parametrize('state, exists, changed', [
    ('drained', False, True),
    ('drained', True, False),
    ('active', True, True),
    ('active', False, False),
])
def test_check_mode_reports_and_touches_nothing(module_main, tmp_path, state, exists, changed):
    down = tmp_path / 'down'
    if exists:
        down.write_text('x\n')
    failed, result, probe = module_main(
        keepalived_maintenance, {'state': state, 'path': str(down)}, ['2.2.7-master'], check_mode=True, diff=True)
    assert failed is False
    assert result['changed'] is changed
    assert down.exists() is exists
    assert probe.calls == ['status']
    assert result['diff']['before']['state'] == ('present' if exists else 'absent')
    assert result['diff']['after']['state'] == ('present' if state == 'drained' else 'absent')


def test_drain_then_activate(module_main, tmp_path):
    down = tmp_path / 'down'
    failed, result, _probe = module_main(
        keepalived_maintenance, {'state': 'drained', 'path': str(down), 'reason': 'kernel update'},
        ['2.2.7-master', '2.2.7-master', '2.2.7-drained'])
    assert failed is False
    assert result['changed'] is True
    assert down.read_text() == 'kernel update\n'
    assert result['vips_before'] == ['192.168.158.100/24']
    assert result['vips_after'] == []
    assert result['elapsed'] == 1.0
    assert result['down_file'] == str(down)

    failed, result, _probe = module_main(
        keepalived_maintenance, {'state': 'active', 'path': str(down), 'wait_for_state': ['VI_1']},
        ['2.2.7-drained', '2.2.7-drained', '2.2.7-drained', '2.2.7-master'])
    assert failed is False
    assert result['changed'] is True
    assert not down.exists()
    assert result['elapsed'] == 2.0
    assert result['vips_after'] == ['192.168.158.100/24']


def test_drain_times_out(module_main, tmp_path):
    failed, result, _probe = module_main(
        keepalived_maintenance, {'state': 'drained', 'path': str(tmp_path / 'down'), 'timeout': 3},
        ['2.2.7-master'])
    assert failed is True
    assert result['msg'] == ('timed out after 3.0s waiting for VIPs 192.168.158.100/24 to leave '
                             'this host; last seen: still held: 192.168.158.100/24')


def test_default_path_and_required_state(module_main):
    failed, result, _probe = module_main(keepalived_maintenance, {}, ['2.2.7-master'])
    assert failed is True
    assert 'missing required arguments: state' in result['msg']
    assert keepalived_maintenance.DOCUMENTATION.count('default: /etc/keepalived/down') == 1
