# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for keepalived: conditions on a reading, the polling loop, and keepalived_status.

Private to the failover.keepalived collection (leading underscore). The
conditions (an instance in a state, a VIP present or absent) are pure
functions of a reading as _keepalived_parse builds it; ``wait_until`` polls
any reader with an injected clock and sleep; ``run_status`` is the
keepalived_status module (read once, or wait for its ``wait_for``).
"""

from __future__ import annotations

import time

from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_parse import (
    DumpError,
    address_set,
    state_name,
    vip_address,
)
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_probe import probe_for

# States a caller may wait for.
WAITABLE_STATES = ('MASTER', 'BACKUP', 'FAULT', 'INIT', 'STOP')


# ---------------------------------------------------------------------------
# Conditions and waiting
# ---------------------------------------------------------------------------

def check_conditions(status, instance=None, state=None, vip=None, vip_state='present'):
    """Decide whether ``status`` meets the wait conditions.

    Returns (met, seen): ``seen`` says in words what was observed, for the
    timeout message.  When keepalived is not running every instance counts as
    STOP.
    """
    met = True
    seen = []
    if instance is not None:
        wanted = state_name(state)
        if not status['running']:
            current = 'STOP'
            seen.append('keepalived not running')
        elif instance in status['instances']:
            current = status['instances'][instance]['state']
            seen.append('instance %s state %s' % (instance, current))
        else:
            current = None
            seen.append('instance %s not found (known: %s)' % (
                instance, ', '.join(sorted(status['instances'])) or 'none'))
        met = met and current == wanted
    if vip is not None:
        present = vip_address(vip) in address_set(status['addresses'])
        seen.append('VIP %s %s' % (vip, 'present' if present else 'absent'))
        met = met and present == (vip_state == 'present')
    return met, '; '.join(seen)


def describe_goal(instance=None, state=None, vip=None, vip_state='present'):
    parts = []
    if instance is not None:
        parts.append('instance %s to reach %s' % (instance, state_name(state)))
    if vip is not None:
        parts.append('VIP %s to be %s' % (vip, vip_state))
    return ' and '.join(parts)


def wait_until(probe, check, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe()`` until ``check(result)`` says met or ``timeout`` passes.

    Returns (met, elapsed, last result, last 'seen' text).  ``probe`` may
    raise DumpError; that counts as not met and is reported as seen.
    """
    start = clock()
    while True:
        try:
            result = probe()
            met, seen = check(result)
        except DumpError as exc:
            result, met, seen = None, False, str(exc)
        elapsed = clock() - start
        if met or elapsed >= timeout:
            return met, round(elapsed, 3), result, seen
        sleep(max(0.0, min(interval, timeout - elapsed)))


def timed_out(elapsed, goal, seen):
    """The failure message of a wait that ran out of time."""
    return 'timed out after %.1fs waiting for %s; last seen: %s' % (elapsed, goal, seen)


# ---------------------------------------------------------------------------
# keepalived_status
# ---------------------------------------------------------------------------

def run_status(probe, params):
    """keepalived_status: read once, or wait for a condition.

    Returns the result dict; it carries ``failed`` and ``msg`` on failure.
    """
    wait_for = params.get('wait_for')
    if not wait_for:
        try:
            status = probe.status()
        except DumpError as exc:
            return {'failed': True, 'msg': str(exc), 'elapsed': 0.0}
        status['elapsed'] = 0.0
        if not status['running'] and params.get('fail_when_stopped'):
            status['failed'] = True
        return status

    goal = dict(
        instance=wait_for.get('instance'),
        state=wait_for.get('state'),
        vip=wait_for.get('vip'),
        vip_state=wait_for.get('vip_state') or 'present',
    )
    if goal['vip'] is not None:
        try:
            vip_address(goal['vip'])
        except ValueError:
            return {'failed': True, 'elapsed': 0.0,
                    'msg': 'wait_for.vip is not an IP address: %s' % goal['vip']}
    reader = probe.status if goal['instance'] is not None else probe.vip_status
    met, elapsed, status, seen = wait_until(
        reader, lambda result: check_conditions(result, **goal),
        params['timeout'], params['poll_interval'], clock=probe.clock, sleep=probe.sleep)
    if status is None:
        status = {'running': None, 'instances': {}, 'vips_held': [], 'addresses': []}
    status['elapsed'] = elapsed
    status['last_seen'] = seen
    if met:
        status['met_at'] = round(time.time(), 3)
        status['msg'] = 'waited %.1fs for %s' % (elapsed, describe_goal(**goal))
        if (not status.get('running') and params.get('fail_when_stopped')
                and state_name(goal['state']) != 'STOP'):
            status['failed'] = True
            status['msg'] = 'keepalived is not running'
        return status
    status['failed'] = True
    status['msg'] = timed_out(elapsed, describe_goal(**goal), seen)
    return status


def run(module):
    """Do what the keepalived_status module's parameters ask; return the result dict or fail."""
    result = run_status(probe_for(module), module.params)
    if result.pop('failed', False):
        module.fail_json(**result)
    result['changed'] = False
    return result
