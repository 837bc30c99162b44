# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keepalived_lock module: one run at a time changes a host.

Private to the failover.keepalived collection (leading underscore). A run
(one ``ansible-playbook`` on one controller) holds a lease on each host it
changes: a small JSON file naming the run, its controller, its process, its
playbook and when the lease expires. The lease is read and written under an
exclusive ``flock`` of the file itself, so two runs on one host never both
take it; a released lease is an empty file (never removed, so that no waiter
ever holds a lock on a file nobody else opens).

The decisions are pure functions (``verdict``, ``ended``, ``describe``,
``lease_for``); ``look`` and ``release`` put them on the file, ``acquire``
looks again with _keepalived_wait's loop while it waits, and ``run`` is the
module.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_wait import wait_until

LEASE_MODE = 0o600
# What a run must name (the keepalived_run filter gives all of them), and what it names where the
# controller can tell: its boot and pid namespace (host_key), and its process's start time.
RUN_FIELDS = ('id', 'controller', 'pid', 'user', 'playbook')
RUN_EXTRA = ('host_key', 'pid_started')


# ---------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------

def parse(text):
    """The lease in TEXT, or None when the file is empty or holds no lease (a released lock)."""
    try:
        lease = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    if not isinstance(lease, dict) or not lease.get('id'):
        return None
    return lease


def lease_for(run, now, ttl):
    """The lease RUN writes at NOW, valid for TTL seconds."""
    lease = dict((key, run.get(key)) for key in RUN_FIELDS + RUN_EXTRA)
    lease.update(taken=round(now, 3), expires=round(now + ttl, 3))
    return lease


def verdict(lease, run_id, now, take_over=()):
    """What a run with RUN_ID does with the LEASE it finds at NOW.

    'free' (no lease), 'ours' (this run's own, taken again), 'expired' and
    'taken over' (another run's, expired or named in TAKE_OVER: replaced), or
    'held' (another run's, valid: wait).
    """
    if lease is None:
        return 'free'
    if lease.get('id') == run_id:
        return 'ours'
    if float(lease.get('expires') or 0) <= now:
        return 'expired'
    if lease.get('id') in take_over:
        return 'taken over'
    return 'held'


def ended(lease, host_key, started_of):
    """True when LEASE's run was started on this controller and its process is gone.

    HOST_KEY names this controller's boot and pid namespace (empty where it
    cannot tell); a run of any other is never judged ended, whatever its host
    name: its lease is waited for or expires. STARTED_OF(pid) is the start time
    of a running process, None when there is none; a process id now used by
    another process (another start time) counts as gone.
    """
    if not lease or not host_key or lease.get('host_key') != host_key:
        return False
    try:
        pid = int(lease.get('pid'))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    now = started_of(pid)
    if now is None:
        return True
    return lease.get('pid_started') is not None and now != lease.get('pid_started')


def when(epoch):
    """EPOCH as UTC time to the second."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(float(epoch or 0)))


def describe(lease):
    """One line naming the run that holds LEASE."""
    return "run %s (%s) by %s on %s, pid %s, since %s, expires %s" % (
        lease.get('id'), lease.get('playbook') or 'an unnamed play', lease.get('user') or 'an unknown user',
        lease.get('controller') or 'an unknown controller', lease.get('pid'),
        when(lease.get('taken')), when(lease.get('expires')))


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------

class Locked(object):
    """The lease file opened (created empty if missing) and held under an exclusive flock."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LEASE_MODE)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing drops the flock
        return False

    def read(self):
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return parse(b''.join(chunks).decode('utf-8', 'replace'))

    def write(self, lease):
        data = (json.dumps(lease, sort_keys=True) + '\n').encode('utf-8') if lease else b''
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        os.fsync(self.fd)


def look(path, run, ttl, take_over=(), check_mode=False, clock=time.time):
    """One look at the lease at PATH under its flock: take it for RUN unless another run holds it."""
    with Locked(path) as lock:
        found = lock.read()
        now = clock()
        state = verdict(found, run['id'], now, take_over)
        if state == 'held':
            return {'acquired': False, 'changed': False, 'holder': found, 'state': state}
        lease = lease_for(run, now, ttl)
        if not check_mode:
            lock.write(lease)
        result = {'acquired': True, 'changed': state != 'ours', 'holder': lease, 'state': state}
        if state in ('expired', 'taken over'):
            result['replaced'] = found
        return result


def acquire(path, run, ttl, wait, poll_interval, take_over=(), check_mode=False,
            clock=time.time, sleep=time.sleep):
    """Take the lease at PATH for RUN, looking again every POLL_INTERVAL for up to WAIT seconds.

    Returns the last look (``acquired``, ``changed``, ``holder``: the lease
    held now or the one that blocked, ``replaced``: an expired or taken-over
    lease) with ``waited``. In check mode nothing is written.
    """
    if check_mode and not os.path.exists(path):
        # No lease file yet: free, and a check run does not create one.
        return {'acquired': True, 'changed': True, 'holder': lease_for(run, clock(), ttl), 'waited': 0.0,
                'state': 'free'}
    _met, waited, result, _seen = wait_until(
        lambda: look(path, run, ttl, take_over, check_mode, clock),
        lambda result: (result['acquired'], result['state']), wait, poll_interval, clock, sleep)
    result['waited'] = waited
    return result


def release(path, run_id, check_mode=False):
    """Give the lease at PATH up if RUN_ID holds it; another run's is left alone."""
    if not os.path.exists(path):
        return {'changed': False, 'holder': None, 'state': 'free'}
    with Locked(path) as lock:
        found = lock.read()
        if found is None:
            return {'changed': False, 'holder': None, 'state': 'free'}
        if found.get('id') != run_id:
            return {'changed': False, 'holder': found, 'state': 'held'}
        if not check_mode:
            lock.write(None)
        return {'changed': True, 'holder': None, 'released': found, 'state': 'released'}


# ---------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------

def run(module):
    """The module's result for its parameters."""
    params = module.params
    path, run_info = params['path'], params['run']
    missing = [key for key in RUN_FIELDS if run_info.get(key) in (None, '')]
    if missing:
        module.fail_json(msg='run lacks %s: give the result of the failover.keepalived.keepalived_run filter'
                         % ', '.join(missing))
    if params['state'] == 'released':
        result = release(path, run_info['id'], module.check_mode)
        result['msg'] = {
            'released': 'released the lock of run %s' % run_info['id'],
            'held': 'left alone: the lock is held by another run, %s' % describe(result['holder'] or {}),
            'free': 'the lock was free',
        }[result['state']]
        result['lock_file'] = path
        return result
    result = acquire(path, run_info, params['ttl'], params['wait'], params['poll_interval'],
                     params['take_over'], module.check_mode)
    result['lock_file'] = path
    if result['acquired']:
        result['msg'] = {
            'free': 'took the lock',
            'ours': 'holds the lock already',
            'expired': 'took the lock over from an expired lease: %s' % describe(result.get('replaced') or {}),
            'taken over': 'took the lock over from a run that has ended: %s'
                          % describe(result.get('replaced') or {}),
        }[result['state']]
    else:
        result['msg'] = 'another run holds the lock: %s' % describe(result['holder'])
        if params['wait'] > 0:
            result['msg'] += ' (waited %.1f s)' % result['waited']
        if params['fail_when_held']:
            module.fail_json(**result)
    return result
