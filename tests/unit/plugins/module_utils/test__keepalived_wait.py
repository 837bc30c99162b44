# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tables of cases for the wait conditions, the polling loop and keepalived_status's run."""

from __future__ import annotations

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp
from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_wait as kw


# ---------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('capture, goal, met, seen', [
    ('2.2.7-master', dict(instance='VI_1', state='MASTER'), True, 'instance VI_1 state MASTER'),
    ('2.2.7-master', dict(instance='VI_1', state='BACKUP'), False, 'instance VI_1 state MASTER'),
    ('2.2.7-fault', dict(instance='VI_1', state='FAULT'), True, 'instance VI_1 state FAULT'),
    ('2.2.7-master', dict(instance='VI_7', state='MASTER'), False,
     'instance VI_7 not found (known: VI_1, VI_2)'),
    ('2.2.7-master', dict(vip='192.168.158.100'), True, 'VIP 192.168.158.100 present'),
    ('2.2.7-master', dict(vip='192.168.158.100/24', vip_state='absent'), False,
     'VIP 192.168.158.100/24 present'),
    ('2.2.7-drained', dict(vip='192.168.158.100', vip_state='absent'), True,
     'VIP 192.168.158.100 absent'),
    ('2.3.3-backup', dict(instance='VI_2', state='MASTER', vip='192.168.158.101'), True,
     'instance VI_2 state MASTER; VIP 192.168.158.101 present'),
    ('2.3.3-backup', dict(instance='VI_2', state='MASTER', vip='192.168.158.100'), False,
     'instance VI_2 state MASTER; VIP 192.168.158.100 absent'),
])
def test_check_conditions(capture_status, capture, goal, met, seen):
    assert kw.check_conditions(capture_status(capture), **goal) == (met, seen)


@pytest.mark.parametrize('state, met', [('STOP', True), ('MASTER', False)])
def test_check_conditions_when_stopped(state, met):
    status = kp.build_status(False)
    assert kw.check_conditions(status, instance='VI_1', state=state) == (met, 'keepalived not running')


@pytest.mark.parametrize('goal, text', [
    (dict(instance='VI_1', state='MASTER'), 'instance VI_1 to reach MASTER'),
    (dict(vip='10.0.0.1', vip_state='absent'), 'VIP 10.0.0.1 to be absent'),
    (dict(instance='VI_1', state='BACKUP', vip='10.0.0.1'),
     'instance VI_1 to reach BACKUP and VIP 10.0.0.1 to be present'),
])
def test_describe_goal(goal, text):
    assert kw.describe_goal(**goal) == text


# ---------------------------------------------------------------------------
# Waiting, with a clock that only moves when the code sleeps
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('results, timeout, met, elapsed, calls', [
    ([True], 10, True, 0.0, 1),
    ([False, False, True], 10, True, 2.0, 3),
    ([False] * 20, 3, False, 3.0, 4),
    ([False] * 20, 2.5, False, 2.5, 4),
])
def test_wait_until(fake_clock, results, timeout, met, elapsed, calls):
    clock = fake_clock
    feed = iter(results)
    seen_calls = []

    def probe():
        seen_calls.append(1)
        return next(feed)

    outcome = kw.wait_until(probe, lambda ok: (ok, 'ok' if ok else 'not yet'), timeout, 1.0,
                            clock=clock, sleep=clock.sleep)
    assert outcome[0] is met
    assert outcome[1] == elapsed
    assert outcome[3] == ('ok' if met else 'not yet')
    assert len(seen_calls) == calls


def test_wait_until_survives_dump_errors(fake_clock):
    clock = fake_clock
    feed = iter([kp.DumpError('no dump'), 'good'])

    def probe():
        item = next(feed)
        if isinstance(item, Exception):
            raise item
        return item

    met, elapsed, result, seen = kw.wait_until(
        probe, lambda value: (value == 'good', value), 5, 0.5, clock=clock, sleep=clock.sleep)
    assert (met, elapsed, result, seen) == (True, 0.5, 'good', 'good')


def test_wait_until_reports_the_last_dump_error(fake_clock):
    clock = fake_clock

    def probe():
        raise kp.DumpError('keepalived wrote nothing')

    assert kw.wait_until(probe, None, 1, 1, clock=clock, sleep=clock.sleep) == (
        False, 1.0, None, 'keepalived wrote nothing')


# ---------------------------------------------------------------------------
# run_status (keepalived_status) with a scripted probe
# ---------------------------------------------------------------------------

STATUS_PARAMS = dict(wait_for=None, timeout=10.0, poll_interval=1.0, fail_when_stopped=False)


def test_run_status_once(scripted_probe):
    result = kw.run_status(scripted_probe(['2.2.7-master']), dict(STATUS_PARAMS))
    assert 'failed' not in result
    assert result['elapsed'] == 0.0
    assert result['vips_held'] == ['192.168.158.100/24']


@pytest.mark.parametrize('fail_when_stopped, failed', [(False, False), (True, True)])
def test_run_status_stopped(scripted_probe, fail_when_stopped, failed):
    params = dict(STATUS_PARAMS, fail_when_stopped=fail_when_stopped)
    result = kw.run_status(scripted_probe([None]), params)
    assert result.get('failed', False) is failed
    assert result['running'] is False


def test_run_status_dump_error(scripted_probe):
    result = kw.run_status(scripted_probe([kp.DumpError('no fresh JSON')]), dict(STATUS_PARAMS))
    assert result == {'failed': True, 'msg': 'no fresh JSON', 'elapsed': 0.0}


@pytest.mark.parametrize('captures, wait_for, failed, elapsed, calls, msg', [
    (['2.2.7-drained', '2.2.7-drained', '2.2.7-master'],
     dict(instance='VI_1', state='MASTER'), False, 2.0, 'status',
     'waited 2.0s for instance VI_1 to reach MASTER'),
    (['2.2.7-master', '2.2.7-drained'],
     dict(vip='192.168.158.100', vip_state='absent'), False, 1.0, 'vip_status',
     'waited 1.0s for VIP 192.168.158.100 to be absent'),
    (['2.2.7-drained'],
     dict(instance='VI_1', state='MASTER'), True, 10.0, 'status',
     'timed out after 10.0s waiting for instance VI_1 to reach MASTER; '
     'last seen: instance VI_1 state BACKUP'),
    (['2.2.7-master'],
     dict(vip='192.168.158.100', vip_state='absent'), True, 10.0, 'vip_status',
     'timed out after 10.0s waiting for VIP 192.168.158.100 to be absent; '
     'last seen: VIP 192.168.158.100 present'),
    ([None], dict(instance='VI_1', state='STOP'), False, 0.0, 'status',
     'waited 0.0s for instance VI_1 to reach STOP'),
])
def test_run_status_wait(scripted_probe, captures, wait_for, failed, elapsed, calls, msg):
    probe = scripted_probe(captures)
    params = dict(STATUS_PARAMS, wait_for=dict(dict(instance=None, state=None, vip=None,
                                                    vip_state='present'), **wait_for))
    result = kw.run_status(probe, params)
    assert result.get('failed', False) is failed
    assert result['elapsed'] == elapsed
    assert result['msg'] == msg
    assert set(probe.calls) == {calls}


def test_run_status_wait_rejects_a_bad_vip(scripted_probe):
    params = dict(STATUS_PARAMS, wait_for=dict(instance=None, state=None, vip='nope',
                                               vip_state='present'))
    result = kw.run_status(scripted_probe(['2.2.7-master']), params)
    assert result['failed'] is True
    assert result['msg'] == 'wait_for.vip is not an IP address: nope'


def test_run_status_wait_for_stop_ignores_fail_when_stopped(scripted_probe):
    params = dict(STATUS_PARAMS, fail_when_stopped=True,
                  wait_for=dict(instance='VI_1', state='STOP', vip=None, vip_state='present'))
    assert 'failed' not in kw.run_status(scripted_probe([None]), params)


def test_run_status_wait_when_every_reading_fails(scripted_probe):
    params = dict(STATUS_PARAMS, timeout=2.0,
                  wait_for=dict(instance='VI_1', state='MASTER', vip=None, vip_state='present'))
    result = kw.run_status(scripted_probe([kp.DumpError('no fresh JSON')]), params)
    assert result['failed'] is True
    assert result['last_seen'] == 'no fresh JSON'
    assert result['running'] is None
