# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_maintenance as Ansible runs it: the down file, check and diff mode, waiting."""

from __future__ import annotations

import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_status as ks
from ansible_collections.failover.keepalived.plugins.modules import keepalived_maintenance

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
                           addresses=addresses)


class FakeProbe:
    """Stands in for KeepalivedProbe: one capture per reading, the last repeats."""

    def __init__(self, captures):
        self.captures = list(captures)
        self.now = 0.0
        self.readings = 0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def status(self):
        self.readings += 1
        capture = self.captures.pop(0) if len(self.captures) > 1 else self.captures[0]
        return reading(capture)

    vip_status = status


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def run_module(monkeypatch, args, captures, check_mode=False, diff=False):
    probe = FakeProbe(captures)

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(ks, 'KeepalivedProbe', lambda run_command, **kw: probe)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: '/usr/sbin/' + name)
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as raised:
            keepalived_maintenance.main()
    return raised.type is FailJson, raised.value.args[0], probe


@pytest.mark.parametrize('state, exists, changed', [
    ('drained', False, True),
    ('drained', True, False),
    ('active', True, True),
    ('active', False, False),
])
def test_check_mode_reports_and_touches_nothing(monkeypatch, tmp_path, state, exists, changed):
    down = tmp_path / 'down'
    if exists:
        down.write_text('x\n')
    failed, result, probe = run_module(
        monkeypatch, {'state': state, 'path': str(down)}, ['2.2.7-master'], check_mode=True, diff=True)
    assert failed is False
    assert result['changed'] is changed
    assert down.exists() is exists
    assert probe.readings == 1
    assert result['diff']['before']['state'] == ('present' if exists else 'absent')
    assert result['diff']['after']['state'] == ('present' if state == 'drained' else 'absent')


def test_drain_then_activate(monkeypatch, tmp_path):
    down = tmp_path / 'down'
    failed, result, _probe = run_module(
        monkeypatch, {'state': 'drained', 'path': str(down), 'reason': 'kernel update'},
        ['2.2.7-master', '2.2.7-master', '2.2.7-drained'])
    assert failed is False
    assert result['changed'] is True
    assert down.read_text() == 'kernel update\n'
    assert result['vips_before'] == ['192.168.158.100/24']
    assert result['vips_after'] == []
    assert result['elapsed'] == 1.0
    assert result['down_file'] == str(down)

    failed, result, _probe = run_module(
        monkeypatch, {'state': 'active', 'path': str(down), 'wait_for_state': ['VI_1']},
        ['2.2.7-drained', '2.2.7-drained', '2.2.7-drained', '2.2.7-master'])
    assert failed is False
    assert result['changed'] is True
    assert not down.exists()
    assert result['elapsed'] == 2.0
    assert result['vips_after'] == ['192.168.158.100/24']


def test_drain_times_out(monkeypatch, tmp_path):
    failed, result, _probe = run_module(
        monkeypatch, {'state': 'drained', 'path': str(tmp_path / 'down'), 'timeout': 3},
        ['2.2.7-master'])
    assert failed is True
    assert result['msg'] == ('timed out after 3.0s waiting for VIPs 192.168.158.100/24 to leave '
                             'this host; last seen: still held: 192.168.158.100/24')


def test_default_path_and_required_state(monkeypatch):
    failed, result, _probe = run_module(monkeypatch, {}, ['2.2.7-master'])
    assert failed is True
    assert 'missing required arguments: state' in result['msg']
    assert keepalived_maintenance.DOCUMENTATION.count('default: /etc/keepalived/down') == 1
