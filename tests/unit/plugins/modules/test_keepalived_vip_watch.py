# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_vip_watch against the real kernel: addresses added and removed in a network namespace
of the test's own while the module follows the address events, as the drill runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

MODULE = 'keepalived_vip_watch'

# name, the watched VIPs, addresses set before the watch starts, the changes made while it runs
# (ip -n NS addr ARGS), then what the module reports: held at the start, the events (vip, held) in
# order, held at the end.
CASES = [
    ('an address added, then removed',
     ['10.9.0.5/24'], [], [['add', '10.9.0.5/24', 'dev', 'v0'], ['del', '10.9.0.5/24', 'dev', 'v0']],
     {'10.9.0.5': False}, [('10.9.0.5', True), ('10.9.0.5', False)], {'10.9.0.5': False}),
    ('held at the start, then removed',
     ['10.9.0.5'], [['add', '10.9.0.5/24', 'dev', 'v0']], [['del', '10.9.0.5/24', 'dev', 'v0']],
     {'10.9.0.5': True}, [('10.9.0.5', False)], {'10.9.0.5': False}),
    ('on two interfaces, held until it leaves the last',
     ['10.9.0.5'], [], [['add', '10.9.0.5/24', 'dev', 'v0'], ['add', '10.9.0.5/24', 'dev', 'v1'],
                        ['del', '10.9.0.5/24', 'dev', 'v0'], ['del', '10.9.0.5/24', 'dev', 'v1']],
     {'10.9.0.5': False}, [('10.9.0.5', True), ('10.9.0.5', False)], {'10.9.0.5': False}),
    ('IPv6, written in a long form',
     ['fd00:0:0::5/64'], [], [['add', 'fd00::5/64', 'dev', 'v0', 'nodad']],
     {'fd00::5': False}, [('fd00::5', True)], {'fd00::5': True}),
    ('two VIPs, and an address that is not one of them',
     ['10.9.0.5', '10.9.0.7'], [['add', '10.9.0.7/24', 'dev', 'v1']],
     [['add', '10.9.0.6/24', 'dev', 'v0'], ['add', '10.9.0.5/24', 'dev', 'v0'], ['del', '10.9.0.7/24', 'dev', 'v1']],
     {'10.9.0.5': False, '10.9.0.7': True}, [('10.9.0.5', True), ('10.9.0.7', False)],
     {'10.9.0.5': True, '10.9.0.7': False}),
]


@pytest.mark.parametrize('vips, before, changes, at_start, events, at_end', [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_follows_the_kernel(netns, module_background, tmp_path, vips, before, changes, at_start, events, at_end):
    for change in before:
        subprocess.run(['ip', '-n', netns, 'addr'] + change, check=True)
    ready, stop = tmp_path / 'ready', tmp_path / 'stop'
    stop.write_text('left by an earlier watch\n')
    finish = module_background(MODULE, {'vips': vips, 'seconds': 60, 'ready_file': str(ready),
                                        'stop_file': str(stop)}, prefix=['ip', 'netns', 'exec', netns])
    deadline = time.time() + 30
    while not ready.exists():
        assert time.time() < deadline, 'the watch never said it was ready'
        time.sleep(0.05)
    assert not stop.exists(), 'the stale stop file was not removed'
    marks = []
    for change in changes:
        marks.append(time.time())
        subprocess.run(['ip', '-n', netns, 'addr'] + change, check=True)
    marks.append(time.time())
    stop.touch()
    result = finish()
    assert result['ended_by'] == 'stopped' and result['changed'] is False
    assert result['held_at_start'] == at_start
    assert [(e['vip'], e['held']) for e in result['events']] == events
    assert result['held_at_end'] == at_end
    # Timed when read, after the change was made and in order.
    times = [e['at'] for e in result['events']]
    assert times == sorted(times) and all(marks[0] <= t for t in times)
    assert not ready.exists(), 'the ready file outlived the watch'


def test_ends_after_its_seconds(netns, module_background, tmp_path):
    finish = module_background(MODULE, {'vips': ['10.9.0.5'], 'seconds': 0.5, 'ready_file': str(tmp_path / 'r'),
                                        'stop_file': str(tmp_path / 's')}, prefix=['ip', 'netns', 'exec', netns])
    result = finish()
    assert result['ended_by'] == 'timeout' and result['events'] == []
    assert 0.5 <= result['ended_at'] - result['started_at'] < 10


@pytest.mark.parametrize('args, message', [
    ({'vips': ['10.9.0.300']}, 'vips: '),
    ({'vips': []}, 'name at least one address'),
    ({'vips': ['10.9.0.5'], 'seconds': 0}, 'seconds must be above 0'),
], ids=['not an address', 'no address', 'no time'])
def test_refuses(run_module, tmp_path, args, message):
    result, _out = run_module(dict(args, ready_file=str(tmp_path / 'r'), stop_file=str(tmp_path / 's')))
    assert result['failed'] and message in result['msg']
    assert not os.path.exists(tmp_path / 'r')


STOP_AT_ONCE = '''
import json, subprocess, sys
from ansible_collections.failover.keepalived.plugins.module_utils._vip_watch import AddressWatch
watcher = AddressWatch(["10.9.0.5/24"])
watcher.start()
for change in (["add", "10.9.0.5/24", "dev", "v0"], ["del", "10.9.0.5/24", "dev", "v0"]):
    subprocess.run(["ip", "addr"] + change, check=True)
ended = watcher.follow(until=watcher.clock() + 60, stop=lambda: True)
print(json.dumps([ended, [(e["vip"], e["held"]) for e in watcher.events]]))
'''


def test_a_stop_seen_at_once_still_reads_the_changes_made_before_it(netns, module_env):
    """The kernel queues an address event before `ip` returns: a stop that comes after the changes (here
    at the watch's first look) must not lose them, however late the watch looks."""
    out = subprocess.run(['ip', 'netns', 'exec', netns, sys.executable, '-c', STOP_AT_ONCE], env=module_env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == ['stopped', [['10.9.0.5', True], ['10.9.0.5', False]]]
