# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lease: what a run does with the lease it finds, and the file under a real flock."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _run_lock

RUN_A = {'id': 'a' * 32, 'controller': 'ops1', 'pid': 4242, 'user': 'deploy', 'playbook': 'site'}
RUN_B = dict(RUN_A, id='b' * 32, pid=4343)
NOW = 1796555696.0


def lease(run, taken=NOW - 10, ttl=3600):
    return _run_lock.lease_for(run, taken, ttl)


@pytest.mark.parametrize('found, take_over, expected', [
    (None, (), 'free'),
    (lease(RUN_A), (), 'ours'),
    (lease(RUN_A, taken=NOW - 7200), (), 'ours'),
    (lease(RUN_B), (), 'held'),
    (lease(RUN_B, taken=NOW - 3600), (), 'expired'),
    (lease(RUN_B, taken=NOW - 3599), (), 'held'),
    (lease(RUN_B), (RUN_B['id'],), 'taken over'),
    (lease(RUN_B), ('c' * 32,), 'held'),
])
def test_verdict(found, take_over, expected):
    assert _run_lock.verdict(found, RUN_A['id'], NOW, take_over) == expected


@pytest.mark.parametrize('text, expected', [
    ('', None),
    ('\n', None),
    ('{"id": "x", "pid": 1}', {'id': 'x', 'pid': 1}),
    ('{"pid": 1}', None),
    ('{"id": "x", "pi', None),
    ('[1, 2]', None),
])
def test_parse(text, expected):
    assert _run_lock.parse(text) == expected


HERE = 'boot-1/4026531836'
RUN_B_HERE = dict(RUN_B, host_key=HERE, pid_started=1000)


@pytest.mark.parametrize('found, running, expected', [
    # pid -> start time of the processes running on this controller
    (lease(RUN_B_HERE), {}, True),
    (lease(RUN_B_HERE), {4343: 1000}, False),
    (lease(RUN_B_HERE), {4343: 2000}, True),                     # the pid is another process's now
    (lease(dict(RUN_B_HERE, pid_started=None)), {4343: 2000}, False),
    (lease(dict(RUN_B_HERE, host_key='boot-2/4026531836')), {}, False),   # another machine of the same name
    (lease(dict(RUN_B_HERE, host_key='boot-1/4026532000')), {}, False),   # another pid namespace
    (lease(dict(RUN_B_HERE, host_key='')), {}, False),
    (lease(dict(RUN_B_HERE, pid='x')), {}, False),
    (lease(dict(RUN_B_HERE, pid=0)), {}, False),
    (None, {}, False),
])
def test_ended(found, running, expected):
    assert _run_lock.ended(found, HERE, running.get) is expected


def test_nothing_ends_where_the_controller_cannot_tell():
    assert _run_lock.ended(lease(dict(RUN_B_HERE, host_key='')), '', {}.get) is False


def test_describe_names_the_run():
    text = _run_lock.describe(lease(RUN_B, taken=0, ttl=60))
    assert text == ('run %s (site) by deploy on ops1, pid 4343, since 1970-01-01 00:00:00 UTC, '
                    'expires 1970-01-01 00:01:00 UTC' % RUN_B['id'])


def test_take_renew_release(tmp_path):
    path = str(tmp_path / 'lock')
    first = _run_lock.acquire(path, RUN_A, 60, 0, 1)
    assert (first['acquired'], first['changed'], first['state']) == (True, True, 'free')
    on_disk = json.loads(open(path).read())
    assert on_disk['id'] == RUN_A['id'] and on_disk['expires'] - on_disk['taken'] == 60
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = _run_lock.acquire(path, RUN_A, 60, 0, 1)
    assert (again['acquired'], again['changed'], again['state']) == (True, False, 'ours')
    other = _run_lock.release(path, RUN_B['id'])
    assert (other['changed'], other['state'], other['holder']['id']) == (False, 'held', RUN_A['id'])
    done = _run_lock.release(path, RUN_A['id'])
    assert (done['changed'], done['state']) == (True, 'released')
    assert open(path).read() == ''
    assert _run_lock.release(path, RUN_A['id'])['state'] == 'free'
    assert _run_lock.release(str(tmp_path / 'never'), RUN_A['id'])['state'] == 'free'
    assert not os.path.exists(str(tmp_path / 'never'))


def test_held_lease_waits_then_reports_the_holder(tmp_path):
    path = str(tmp_path / 'lock')
    _run_lock.acquire(path, RUN_B, 3600, 0, 1)
    clock = [NOW]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    result = _run_lock.acquire(path, RUN_A, 60, 2.5, 1, clock=lambda: clock[0], sleep=sleep)
    assert result['acquired'] is False
    assert result['holder']['id'] == RUN_B['id']
    assert slept == [1, 1, 0.5]
    assert json.loads(open(path).read())['id'] == RUN_B['id']


@pytest.mark.parametrize('check_mode', [False, True])
def test_take_over_an_ended_run(tmp_path, check_mode):
    path = str(tmp_path / 'lock')
    _run_lock.acquire(path, RUN_B, 3600, 0, 1)
    result = _run_lock.acquire(path, RUN_A, 60, 0, 1, take_over=[RUN_B['id']], check_mode=check_mode)
    assert (result['acquired'], result['state'], result['replaced']['id']) == (True, 'taken over', RUN_B['id'])
    assert json.loads(open(path).read())['id'] == (RUN_B if check_mode else RUN_A)['id']


HOLDER = r'''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
'''


def test_a_second_process_waits_for_the_flock(tmp_path):
    """Another process holding the file's flock (mid-decision) holds the taker until it lets go."""
    path = str(tmp_path / 'lock')
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, path, '0.5'], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        start = time.monotonic()
        result = _run_lock.acquire(path, RUN_A, 60, 0, 1)
        assert time.monotonic() - start >= 0.3
        assert result['acquired'] is True
    finally:
        holder.wait(timeout=10)
    with open(path) as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
