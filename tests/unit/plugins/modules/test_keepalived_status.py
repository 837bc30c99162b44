# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_status as Ansible runs it: argument spec, check mode, exit and fail."""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_status as ks
from ansible_collections.failover.keepalived.plugins.modules import keepalived_status

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'module_utils', 'fixtures')


def fixture_text(capture, kind):
    with open(os.path.join(FIXTURES, 'keepalived-%s.%s' % (capture, kind))) as handle:
        return handle.read()


def reading(capture):
    """A status as the probe builds it, from one real capture (None: stopped)."""
    addresses = ks.parse_ip_json(fixture_text(capture or '2.2.7-drained', 'ip.json'))
    if capture is None:
        return ks.build_status(False, addresses=addresses)
    data = ks.parse_data_dump(fixture_text(capture, 'data'))
    instances = ks.merge_instances(ks.parse_json_dump(fixture_text(capture, 'json')), data)
    return ks.build_status(True, pid=68, instances=instances, scripts=data['scripts'],
                           addresses=addresses, version=capture.split('-')[0],
                           sources=['json', 'data'])


class FakeProbe:
    """Stands in for KeepalivedProbe: one capture per reading, the last repeats."""

    def __init__(self, captures):
        self.captures = list(captures)
        self.now = 0.0
        self.init_kwargs = None

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def status(self):
        capture = self.captures.pop(0) if len(self.captures) > 1 else self.captures[0]
        return reading(capture)

    vip_status = status


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def run_module(monkeypatch, args, captures, check_mode=False):
    probe = FakeProbe(captures)

    def make_probe(run_command, **kwargs):
        probe.init_kwargs = kwargs
        return probe

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(ks, 'KeepalivedProbe', make_probe)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: '/usr/sbin/' + name)
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as raised:
            keepalived_status.main()
    return raised.type is FailJson, raised.value.args[0], probe


@pytest.mark.parametrize('check_mode', [False, True])
def test_reads_and_never_changes(monkeypatch, check_mode):
    failed, result, probe = run_module(monkeypatch, {}, ['2.3.3-backup'], check_mode=check_mode)
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
def test_stopped(monkeypatch, args, failed):
    is_failed, result, _probe = run_module(monkeypatch, args, [None])
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
def test_wait_for(monkeypatch, wait_for, captures, failed, msg):
    is_failed, result, _probe = run_module(
        monkeypatch, {'wait_for': wait_for, 'timeout': 5}, captures)
    assert is_failed is failed
    assert result['msg'] == msg
    assert isinstance(result['elapsed'], float)


@pytest.mark.parametrize('args, message', [
    ({'wait_for': {'instance': 'VI_1'}}, 'parameters are required together: instance, state'),
    ({'wait_for': {'vip_state': 'absent'}}, 'one of the following is required: instance, vip'),
    ({'wait_for': {'instance': 'VI_1', 'state': 'PRIMARY'}}, 'value of state must be one of'),
    ({'bogus': 1}, 'Unsupported parameters'),
])
def test_argument_spec_rejects(monkeypatch, args, message):
    failed, result, _probe = run_module(monkeypatch, args, ['2.2.7-master'])
    assert failed is True
    assert message in result['msg']
