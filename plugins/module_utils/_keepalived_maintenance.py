# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keepalived_maintenance module: the down file as a switch, and what to wait for after it.

Private to the failover.keepalived collection (leading underscore). The
decisions are pure functions of the parameters, of whether the down file is
there and of readings as _keepalived_parse builds them: what the switch
changes (``switch``), what a wait watches and how it words its progress
(``wait_plan``, ``vips_gone``, ``all_master``, ``priorities_reached``), which VIPs a host holds
(``vips_now``) and the closing message (``done_msg``). ``run_maintenance``
strings them together with a probe, the waiting loop of _keepalived_wait and
the file layer of _fileops; ``run`` is the module.
"""

from __future__ import annotations

import os
import time

from ansible_collections.failover.keepalived.plugins.module_utils._fileops import (
    atomic_write,
    remove,
    to_bytes,
)
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_parse import (
    DumpError,
    address_set,
    vip_address,
)
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_probe import probe_for
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_wait import (
    timed_out,
    wait_until,
)

DOWN_FILE_MODE = 0o644


# ---------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------

def switch(path, state, exists):
    """The result so far of switching the down file PATH to STATE ('drained' or 'active').

    EXISTS says whether the file is there now; ``changed`` is whether it must
    be created or removed, and ``diff`` shows its presence before and after.
    """
    drained = state == 'drained'
    return {
        'changed': exists != drained,
        'down_file': path,
        'state': state,
        'elapsed': 0.0,
        'diff': {
            'before': {'path': path, 'state': 'present' if exists else 'absent'},
            'after': {'path': path, 'state': 'present' if drained else 'absent'},
        },
    }


def verb(state):
    """What switching to STATE does to the down file: 'create' or 'remove'."""
    return 'create' if state == 'drained' else 'remove'


def check_mode_msg(state, path, changed):
    """The message of a check run."""
    return 'would %s %s' % (verb(state), path) if changed else 'nothing to do'


def down_file_text(reason):
    """The down file's content: the reason on one line of its own."""
    return (reason or '').rstrip('\n') + '\n'


def vips_gone(watched, status):
    """(met, seen) for a drain: none of the WATCHED VIPs is among STATUS's addresses."""
    present = address_set(status['addresses'])
    left = [vip for vip in watched if vip_address(vip) in present]
    return not left, ('still held: %s' % ', '.join(left)) if left else 'all VIPs gone'


def all_master(names, status):
    """(met, seen) for a return: every instance of NAMES is MASTER in STATUS."""
    pending = []
    for name in names:
        inst = status['instances'].get(name) if status['running'] else None
        current = inst['state'] if inst else ('missing' if status['running'] else 'STOP')
        if current != 'MASTER':
            pending.append('%s %s' % (name, current))
    return not pending, ('; '.join(pending) or 'all MASTER')


def wanted_priorities(value):
    """O(wait_for_priority) as {instance: int, or None for FAULT}; raises ValueError naming a bad entry."""
    wanted = {}
    for name, prio in sorted((value or {}).items()):
        if prio is None or (isinstance(prio, str) and prio.strip().lower() in ('', 'none', 'null', 'fault')):
            wanted[str(name)] = None
            continue
        try:
            wanted[str(name)] = int(prio)
        except (TypeError, ValueError):
            raise ValueError('wait_for_priority: %s: %r is not a priority (an integer, or null for FAULT)'
                             % (name, prio)) from None
    return wanted


def priorities_reached(wanted, status):
    """(met, seen): every instance of WANTED shows its effective priority there (None: is in FAULT).

    This is keepalived having acted on the switch: its check counted failed (or healthy again) and the
    instance's priority changed, which the VIPs alone do not tell on a node that holds none.
    """
    pending = []
    for name, prio in sorted(wanted.items()):
        inst = status['instances'].get(name) if status['running'] else None
        goal = 'FAULT' if prio is None else 'priority %d' % prio
        if inst is None:
            pending.append('%s %s (waiting for %s)' % (name, 'missing' if status['running'] else 'STOP', goal))
        elif prio is None and inst['state'] != 'FAULT':
            pending.append('%s %s (waiting for FAULT)' % (name, inst['state']))
        elif prio is not None and (inst['state'] == 'FAULT' or inst.get('effective_priority') != prio):
            pending.append('%s %s priority %s (waiting for %s)' % (
                name, inst['state'], inst.get('effective_priority'), goal))
    return not pending, ('; '.join(pending) or 'priorities as planned')


def _both(first, second):
    """A check met when FIRST and SECOND both are; what is seen of the pending one(s)."""
    def check(status):
        met1, seen1 = first(status)
        met2, seen2 = second(status)
        return met1 and met2, '; '.join(seen for met, seen in ((met1, seen1), (met2, seen2)) if not met) or seen1
    return check


def wait_plan(state, vips_before, names, priorities=None):
    """What to wait for after the switch: (full reading needed, check(status), goal in words).

    A drain waits for the VIPs held before to leave, which the addresses
    alone tell; a return waits for NAMES to be MASTER, which needs
    keepalived's own state (or only the addresses when NAMES is empty).
    PRIORITIES ({instance: effective priority, None for FAULT}) are waited
    for as well, from keepalived's own state.
    """
    watched, names, wanted = list(vips_before), list(names or []), dict(priorities or {})

    def switched(status):
        return vips_gone(watched, status) if state == 'drained' else all_master(names, status)

    if state == 'drained':
        full, goal = False, 'VIPs %s to leave this host' % (', '.join(watched) or '(none)')
    else:
        full, goal = bool(names), 'instances %s to be MASTER' % (', '.join(names) or '(none)')
    if not wanted:
        return full, switched, goal
    return (True, _both(switched, lambda status: priorities_reached(wanted, status)),
            '%s and %s' % (goal, ', '.join('%s %s' % (name, 'FAULT' if prio is None else 'priority %d' % prio)
                                           for name, prio in sorted(wanted.items()))))


def vips_now(before, status):
    """The VIPs configured in BEFORE's instances that STATUS's addresses show on this host."""
    present = address_set(status['addresses'])
    configured = []
    for inst in before['instances'].values():
        configured.extend(inst['vips'])
    return sorted(set(vip for vip in configured if vip_address(vip) in present))


def done_msg(state, changed, path, seen, elapsed):
    """The message of a switch whose wait succeeded."""
    if changed:
        done = 'created' if state == 'drained' else 'removed'
    else:
        done = 'kept'
    return '%s %s; %s after %.1fs' % (done, path, seen, elapsed)


# ---------------------------------------------------------------------------
# Doing it
# ---------------------------------------------------------------------------

def _held_now(probe, before, status=None):
    """vips_now from STATUS, or from a fresh address reading; None if that fails."""
    try:
        status = status or probe.vip_status()
    except DumpError:
        return None
    return vips_now(before, status)


def run_maintenance(probe, params, check_mode=False):
    """keepalived_maintenance: create or remove the down file, then wait.

    Returns the result dict; it carries ``failed`` and ``msg`` on failure.
    """
    path, state = params['path'], params['state']
    result = switch(path, state, os.path.lexists(path))
    changed = result['changed']
    try:
        priorities = wanted_priorities(params.get('wait_for_priority'))
    except ValueError as exc:
        result.update(failed=True, changed=False, msg=str(exc))
        return result
    try:
        before = probe.status()
    except DumpError as exc:
        result.update(failed=True, msg='cannot read keepalived state: %s' % exc)
        return result
    result['running'] = before['running']
    result['vips_before'] = before['vips_held']

    if check_mode:
        result['vips_after'] = before['vips_held']
        result['msg'] = check_mode_msg(state, path, changed)
        return result

    if changed:
        try:
            if state == 'drained':
                atomic_write(path, to_bytes(down_file_text(params.get('reason'))), DOWN_FILE_MODE)
            else:
                remove(path)
            result['changed_at'] = round(time.time(), 3)
        except OSError as exc:
            result.update(failed=True, changed=False, msg='cannot %s %s: %s' % (verb(state), path, exc))
            return result

    if not params.get('wait', True):
        result['vips_after'] = _held_now(probe, before) or []
        result['msg'] = 'done, not waiting'
        return result

    full, check, goal = wait_plan(state, before['vips_held'], params.get('wait_for_state'), priorities)
    met, elapsed, status, seen = wait_until(
        probe.status if full else probe.vip_status, check, params['timeout'], params.get('poll_interval', 1.0),
        clock=probe.clock, sleep=probe.sleep)
    result['elapsed'] = elapsed
    result['last_seen'] = seen
    result['vips_after'] = (status or {}).get('vips_held') if full else _held_now(probe, before, status)
    if not met:
        result['failed'] = True
        result['msg'] = timed_out(elapsed, goal, seen)
        return result
    result['met_at'] = round(time.time(), 3)
    result['msg'] = done_msg(state, changed, path, seen, elapsed)
    return result


def run(module):
    """Do what the keepalived_maintenance module's parameters ask; return the result dict or fail."""
    result = run_maintenance(probe_for(module), module.params, check_mode=module.check_mode)
    if result.pop('failed', False):
        module.fail_json(**result)
    return result
