# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tables of cases for keepalived_maintenance's decisions, and its run with a scripted probe."""

from __future__ import annotations

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_maintenance as km
from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp


# ---------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('state, exists, changed, before, after, msg', [
    ('drained', False, True, 'absent', 'present', 'would create /etc/keepalived/down'),
    ('drained', True, False, 'present', 'present', 'nothing to do'),
    ('active', True, True, 'present', 'absent', 'would remove /etc/keepalived/down'),
    ('active', False, False, 'absent', 'absent', 'nothing to do'),
])
def test_switch(state, exists, changed, before, after, msg):
    result = km.switch('/etc/keepalived/down', state, exists)
    assert result == {
        'changed': changed, 'down_file': '/etc/keepalived/down', 'state': state, 'elapsed': 0.0,
        'diff': {'before': {'path': '/etc/keepalived/down', 'state': before},
                 'after': {'path': '/etc/keepalived/down', 'state': after}}}
    assert km.check_mode_msg(state, '/etc/keepalived/down', changed) == msg


@pytest.mark.parametrize('reason, text', [
    ('kernel update', 'kernel update\n'), ('two\nlines\n\n', 'two\nlines\n'), ('', '\n'), (None, '\n'),
])
def test_down_file_text(reason, text):
    assert km.down_file_text(reason) == text


@pytest.mark.parametrize('capture, watched, met, seen', [
    ('2.2.7-master', ['192.168.158.100/24'], False, 'still held: 192.168.158.100/24'),
    ('2.2.7-drained', ['192.168.158.100/24'], True, 'all VIPs gone'),
    ('2.2.7-master', [], True, 'all VIPs gone'),
    ('2.3.3-backup', ['192.168.158.101/24', '192.168.158.100/24'], False, 'still held: 192.168.158.101/24'),
])
def test_vips_gone(capture_status, capture, watched, met, seen):
    assert km.vips_gone(watched, capture_status(capture)) == (met, seen)


@pytest.mark.parametrize('capture, names, met, seen', [
    ('2.2.7-master', ['VI_1'], True, 'all MASTER'),
    ('2.2.7-drained', ['VI_1'], False, 'VI_1 BACKUP'),
    ('2.2.7-master', ['VI_1', 'VI_2'], False, 'VI_2 BACKUP'),
    ('2.2.7-master', ['VI_9'], False, 'VI_9 missing'),
    (None, ['VI_1'], False, 'VI_1 STOP'),
    ('2.2.7-drained', [], True, 'all MASTER'),
])
def test_all_master(capture_status, capture, names, met, seen):
    assert km.all_master(names, capture_status(capture)) == (met, seen)


@pytest.mark.parametrize('state, vips, names, full, goal', [
    ('drained', ['192.168.158.100/24'], ['VI_1'], False, 'VIPs 192.168.158.100/24 to leave this host'),
    ('drained', [], [], False, 'VIPs (none) to leave this host'),
    ('active', [], ['VI_1', 'VI_2'], True, 'instances VI_1, VI_2 to be MASTER'),
    ('active', ['192.168.158.100/24'], [], False, 'instances (none) to be MASTER'),
    ('active', [], None, False, 'instances (none) to be MASTER'),
])
def test_wait_plan(capture_status, state, vips, names, full, goal):
    needs_full, check, text = km.wait_plan(state, vips, names)
    assert (needs_full, text) == (full, goal)
    reading = capture_status('2.2.7-master')
    expected = km.vips_gone(vips, reading) if state == 'drained' else km.all_master(names or [], reading)
    assert check(reading) == expected


@pytest.mark.parametrize('capture, wanted, met, seen', [
    ('2.2.7-drained', {'VI_1': 80, 'VI_2': 70}, True, 'priorities as planned'),
    ('2.2.7-master', {'VI_1': 80}, False, 'VI_1 MASTER priority 110 (waiting for priority 80)'),
    ('2.2.7-master', {'VI_1': 110, 'VI_2': 100}, True, 'priorities as planned'),
    # A FAULT instance counts only when FAULT is what is waited for, whatever priority it shows.
    ('2.2.7-fault', {'VI_1': None}, True, 'priorities as planned'),
    ('2.2.7-fault', {'VI_1': 80}, False, 'VI_1 FAULT priority 80 (waiting for priority 80)'),
    ('2.2.7-drained', {'VI_1': None}, False, 'VI_1 BACKUP (waiting for FAULT)'),
    ('2.2.7-master', {'VI_9': 50}, False, 'VI_9 missing (waiting for priority 50)'),
    (None, {'VI_1': None}, False, 'VI_1 STOP (waiting for FAULT)'),
    ('2.2.7-master', {}, True, 'priorities as planned'),
])
def test_priorities_reached(capture_status, capture, wanted, met, seen):
    assert km.priorities_reached(wanted, capture_status(capture)) == (met, seen)


@pytest.mark.parametrize('value, wanted', [
    ({'VI_1': 80, 'VI_2': None}, {'VI_1': 80, 'VI_2': None}),
    ({'VI_1': '80', 'VI_2': 'null', 'VI_3': '', 'VI_4': 'FAULT'}, {'VI_1': 80, 'VI_2': None, 'VI_3': None, 'VI_4': None}),
    (None, {}),
    ({'VI_1': 'high'}, "wait_for_priority: VI_1: 'high' is not a priority (an integer, or null for FAULT)"),
    ({'VI_1': [80]}, 'wait_for_priority: VI_1: [80] is not a priority (an integer, or null for FAULT)'),
])
def test_wanted_priorities(value, wanted):
    if isinstance(wanted, str):
        with pytest.raises(ValueError) as exc:
            km.wanted_priorities(value)
        assert str(exc.value) == wanted
    else:
        assert km.wanted_priorities(value) == wanted


@pytest.mark.parametrize('state, names, priorities, capture, met, seen, goal', [
    ('drained', [], {'VI_1': 80}, '2.2.7-drained', True, 'all VIPs gone',
     'VIPs 192.168.158.100/24 to leave this host and VI_1 priority 80'),
    # The VIPs are gone but keepalived does not show the drain yet: not met, and the wait says why.
    ('drained', [], {'VI_1': 80, 'VI_2': 60}, '2.2.7-drained', False, 'VI_2 BACKUP priority 70 (waiting for priority 60)',
     'VIPs 192.168.158.100/24 to leave this host and VI_1 priority 80, VI_2 priority 60'),
    ('drained', [], {'VI_1': 80}, '2.2.7-master', False,
     'still held: 192.168.158.100/24; VI_1 MASTER priority 110 (waiting for priority 80)',
     'VIPs 192.168.158.100/24 to leave this host and VI_1 priority 80'),
    ('active', ['VI_1'], {'VI_1': 110, 'VI_2': 100}, '2.2.7-master', True, 'all MASTER',
     'instances VI_1 to be MASTER and VI_1 priority 110, VI_2 priority 100'),
    ('active', [], {'VI_1': None}, '2.2.7-fault', True, 'all MASTER', 'instances (none) to be MASTER and VI_1 FAULT'),
])
def test_wait_plan_with_priorities(capture_status, state, names, priorities, capture, met, seen, goal):
    needs_full, check, text = km.wait_plan(state, ['192.168.158.100/24'], names, priorities)
    assert needs_full is True and text == goal
    assert check(capture_status(capture)) == (met, seen)


@pytest.mark.parametrize('before, now, held', [
    ('2.2.7-master', '2.2.7-master', ['192.168.158.100/24']),
    ('2.2.7-master', '2.2.7-drained', []),
    ('2.3.3-backup', '2.3.3-backup', ['192.168.158.101/24', '192.168.158.102/32', '192.168.158.103/24']),
    # VIPs of instances not known before do not count.
    (None, '2.2.7-master', []),
])
def test_vips_now(capture_status, before, now, held):
    assert km.vips_now(capture_status(before), capture_status(now)) == held


@pytest.mark.parametrize('state, changed, msg', [
    ('drained', True, 'created /d; all VIPs gone after 2.0s'),
    ('active', True, 'removed /d; all VIPs gone after 2.0s'),
    ('drained', False, 'kept /d; all VIPs gone after 2.0s'),
    ('active', False, 'kept /d; all VIPs gone after 2.0s'),
])
def test_done_msg(state, changed, msg):
    assert km.done_msg(state, changed, '/d', 'all VIPs gone', 2.0) == msg


# ---------------------------------------------------------------------------
# run_maintenance with a scripted probe, on a down file in a temporary directory
# ---------------------------------------------------------------------------

MAINT_PARAMS = dict(state='drained', reason='patching', wait=True, wait_for_state=[],
                    timeout=10.0, poll_interval=1.0)


def maint_params(tmp_path, **overrides):
    return dict(MAINT_PARAMS, path=str(tmp_path / 'down'), **overrides)


@pytest.mark.parametrize('state, exists, changed', [
    ('drained', False, True), ('drained', True, False), ('active', True, True), ('active', False, False),
])
def test_maintenance_check_mode_touches_nothing(scripted_probe, tmp_path, state, exists, changed):
    down = tmp_path / 'down'
    if exists:
        down.write_text('old reason\n')
    probe = scripted_probe(['2.2.7-master'])
    result = km.run_maintenance(probe, maint_params(tmp_path, state=state), check_mode=True)
    assert result['changed'] is changed
    assert down.exists() is exists
    assert result['elapsed'] == 0.0
    assert result['vips_before'] == result['vips_after'] == ['192.168.158.100/24']
    assert result['diff'] == {
        'before': {'path': str(down), 'state': 'present' if exists else 'absent'},
        'after': {'path': str(down), 'state': 'present' if state == 'drained' else 'absent'},
    }
    assert probe.calls == ['status']


def test_maintenance_drain_waits_for_the_vips_to_leave(scripted_probe, tmp_path):
    probe = scripted_probe(['2.2.7-master', '2.2.7-master', '2.2.7-master', '2.2.7-drained'])
    result = km.run_maintenance(probe, maint_params(tmp_path))
    assert 'failed' not in result
    assert result['changed'] is True
    assert (tmp_path / 'down').read_text() == 'patching\n'
    assert oct((tmp_path / 'down').stat().st_mode & 0o777) == '0o644'
    assert result['vips_before'] == ['192.168.158.100/24']
    assert result['vips_after'] == []
    assert result['elapsed'] == 2.0
    assert result['msg'] == 'created %s; all VIPs gone after 2.0s' % (tmp_path / 'down')
    assert probe.calls == ['status', 'vip_status', 'vip_status', 'vip_status']


def test_maintenance_drain_keeps_an_existing_file(scripted_probe, tmp_path):
    (tmp_path / 'down').write_text('somebody else\n')
    result = km.run_maintenance(scripted_probe(['2.2.7-drained']), maint_params(tmp_path))
    assert result['changed'] is False
    assert (tmp_path / 'down').read_text() == 'somebody else\n'
    assert result['vips_before'] == []


def test_maintenance_drain_times_out(scripted_probe, tmp_path):
    result = km.run_maintenance(scripted_probe(['2.3.3-backup']), maint_params(tmp_path))
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['msg'] == (
        'timed out after 10.0s waiting for VIPs 192.168.158.101/24, 192.168.158.102/32, '
        '192.168.158.103/24 to leave this host; last seen: still held: 192.168.158.101/24, '
        '192.168.158.102/32, 192.168.158.103/24')


def test_maintenance_drain_without_wait(scripted_probe, tmp_path):
    probe = scripted_probe(['2.2.7-master'])
    result = km.run_maintenance(probe, maint_params(tmp_path, wait=False))
    assert result['changed'] is True
    assert result['elapsed'] == 0.0
    assert result['vips_after'] == ['192.168.158.100/24']
    assert probe.calls == ['status', 'vip_status']


def test_maintenance_drain_cannot_write(scripted_probe, tmp_path):
    params = maint_params(tmp_path)
    params['path'] = str(tmp_path / 'missing-dir' / 'down')
    result = km.run_maintenance(scripted_probe(['2.2.7-master']), params)
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'].startswith('cannot create %s' % params['path'])


def test_maintenance_drain_with_keepalived_stopped(scripted_probe, tmp_path):
    result = km.run_maintenance(scripted_probe([None]), maint_params(tmp_path))
    assert 'failed' not in result
    assert result['running'] is False
    assert result['vips_before'] == result['vips_after'] == []
    assert (tmp_path / 'down').exists()


def test_maintenance_drain_of_a_node_without_vips_waits_for_its_priority(scripted_probe, tmp_path):
    # The node holds no VIP (2.2.7-drained) but keepalived has not counted the check failed yet (VI_2 at 100).
    probe = scripted_probe(['2.2.7-drained', '2.2.7-drained', '2.2.7-fault'])
    result = km.run_maintenance(probe, maint_params(tmp_path, wait_for_priority={'VI_1': None}))
    assert 'failed' not in result and result['changed'] is True
    assert result['elapsed'] == 1.0 and probe.calls == ['status', 'status', 'status']
    result = km.run_maintenance(scripted_probe(['2.2.7-drained']), maint_params(tmp_path, wait_for_priority={'VI_2': 60}))
    assert result['failed'] is True
    assert result['msg'] == ('timed out after 10.0s waiting for VIPs (none) to leave this host and VI_2 priority 60; '
                             'last seen: VI_2 BACKUP priority 70 (waiting for priority 60)')


def test_maintenance_refuses_a_priority_that_is_none(scripted_probe, tmp_path):
    probe = scripted_probe(['2.2.7-master'])
    result = km.run_maintenance(probe, maint_params(tmp_path, wait_for_priority={'VI_1': 'low'}))
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'] == "wait_for_priority: VI_1: 'low' is not a priority (an integer, or null for FAULT)"
    assert not (tmp_path / 'down').exists() and probe.calls == []


def test_maintenance_activate_waits_for_master(scripted_probe, tmp_path):
    (tmp_path / 'down').write_text('patching\n')
    probe = scripted_probe(['2.2.7-drained', '2.2.7-drained', '2.2.7-master'])
    result = km.run_maintenance(probe, maint_params(tmp_path, state='active', wait_for_state=['VI_1']))
    assert 'failed' not in result
    assert result['changed'] is True
    assert not (tmp_path / 'down').exists()
    assert result['vips_before'] == []
    assert result['vips_after'] == ['192.168.158.100/24']
    assert result['elapsed'] == 1.0
    assert result['last_seen'] == 'all MASTER'


@pytest.mark.parametrize('captures, names, seen', [
    (['2.2.7-drained'], ['VI_1'], 'VI_1 BACKUP'),
    (['2.2.7-master'], ['VI_1', 'VI_2'], 'VI_2 BACKUP'),
    (['2.2.7-master'], ['VI_9'], 'VI_9 missing'),
    ([None], ['VI_1'], 'VI_1 STOP'),
])
def test_maintenance_activate_times_out(scripted_probe, tmp_path, captures, names, seen):
    (tmp_path / 'down').write_text('patching\n')
    result = km.run_maintenance(
        scripted_probe(captures), maint_params(tmp_path, state='active', wait_for_state=names))
    assert result['failed'] is True
    assert result['msg'] == 'timed out after 10.0s waiting for instances %s to be MASTER; last seen: %s' % (
        ', '.join(names), seen)


def test_maintenance_activate_without_names_returns_at_once(scripted_probe, tmp_path):
    (tmp_path / 'down').write_text('patching\n')
    probe = scripted_probe(['2.2.7-drained'])
    result = km.run_maintenance(probe, maint_params(tmp_path, state='active'))
    assert 'failed' not in result
    assert result['elapsed'] == 0.0
    assert probe.calls == ['status', 'vip_status']


def test_maintenance_cannot_read_state(scripted_probe, tmp_path):
    result = km.run_maintenance(scripted_probe([kp.DumpError('no fresh JSON')]), maint_params(tmp_path))
    assert result['failed'] is True
    assert result['msg'] == 'cannot read keepalived state: no fresh JSON'
    assert not (tmp_path / 'down').exists()
