# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_status as Ansible runs it: argument spec, check mode, exit and fail."""

from __future__ import annotations

import json

import pytest

from ansible_collections.failover.keepalived.plugins.modules import keepalived_status


@pytest.mark.parametrize('check_mode', [False, True])
def test_reads_and_never_changes(module_main, check_mode):
    failed, result, probe = module_main(keepalived_status, {}, ['2.3.3-backup'], check_mode=check_mode)
    assert failed is False
    assert result['changed'] is False
    assert result['running'] is True
    assert result['instances']['VI_2']['state'] == 'MASTER'
    assert result['vips_held'] == ['192.168.158.101/24', '192.168.158.102/32', '192.168.158.103/24']
    assert 'dummypw1' not in json.dumps(result)
    assert probe.init_kwargs == {
        'keepalived_bin': '/usr/sbin/keepalived', 'ip_bin': '/usr/sbin/ip',
        'pid_file': '/run/keepalived.pid', 'dump_timeout': 5.0}


@pytest.mark.parametrize('args, failed', [
    ({}, False),
    ({'fail_when_stopped': True}, True),
])
def test_stopped(module_main, args, failed):
    is_failed, result, _probe = module_main(keepalived_status, args, [None])
    assert is_failed is failed
    assert result['running'] is False
    assert result['msg'] == 'keepalived is not running'


@pytest.mark.parametrize('wait_for, captures, failed, msg', [
    ({'instance': 'VI_1', 'state': 'MASTER'}, ['2.2.7-drained', '2.2.7-master'], False,
     'waited 1.0s for instance VI_1 to reach MASTER'),
    ({'vip': '192.168.158.100', 'vip_state': 'absent'}, ['2.2.7-master'], True,
     'timed out after 5.0s waiting for VIP 192.168.158.100 to be absent; '
     'last seen: VIP 192.168.158.100 present'),
    ({'instance': 'VI_1', 'state': 'FAULT'}, ['2.2.7-master', '2.2.7-drained', '2.2.7-fault'], False,
     'waited 2.0s for instance VI_1 to reach FAULT'),
])
def test_wait_for(module_main, wait_for, captures, failed, msg):
    is_failed, result, _probe = module_main(
        keepalived_status, {'wait_for': wait_for, 'timeout': 5}, captures)
    assert is_failed is failed
    assert result['msg'] == msg
    assert isinstance(result['elapsed'], float)


@pytest.mark.parametrize('args, message', [
    ({'wait_for': {'instance': 'VI_1'}}, 'parameters are required together: instance, state'),
    ({'wait_for': {'vip_state': 'absent'}}, 'one of the following is required: instance, vip'),
    ({'wait_for': {'instance': 'VI_1', 'state': 'PRIMARY'}}, 'value of state must be one of'),
    ({'bogus': 1}, 'Unsupported parameters'),
])
def test_argument_spec_rejects(module_main, args, message):
    failed, result, _probe = module_main(keepalived_status, args, ['2.2.7-master'])
    assert failed is True
    assert message in result['msg']
