# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KeepalivedProbe as tables of cases: a fake /proc and a fake keepalived stand in for the host.

The fake (conftest's FakeHost, pid 4242) answers ``--signum`` and ``ip addr``
through the runner the probe is given, and writes a real captured dump when
it is signalled.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp
from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_probe as kprobe

PASSWORD = 'dummypw1'
BOTH_SIGNALS = [(4242, 10), (4242, 36)]


@pytest.mark.parametrize('environ, tmpdir', [
    (b'PATH=/usr/bin\0', '/tmp'),
    (b'PATH=/usr/bin\0TMPDIR=/var/tmp/keepalived\0', '/var/tmp/keepalived'),
    (b'TMPDIR=relative\0', '/tmp'),
    (b'', '/tmp'),
    (None, '/tmp'),
])
def test_tmpdir_of(environ, tmpdir):
    assert kprobe.tmpdir_of(environ) == tmpdir


@pytest.mark.parametrize('key, before, fresh', [
    (None, None, False),
    ((1, 100, 10), None, True),
    ((1, 100, 10), (1, 100, 10), False),
    ((1, 200, 10), (1, 100, 10), True),
    ((2, 100, 10), (1, 100, 10), True),
    ((2, 200, 0), (1, 100, 10), False),
])
def test_is_fresh(key, before, fresh):
    assert kprobe.is_fresh(key, before) is fresh


@pytest.mark.parametrize('options, stale, sources, signals, state, script', [
    pytest.param({}, None, ['json', 'data'], BOTH_SIGNALS, 'MASTER', 'GOOD', id='fresh dumps'),
    pytest.param({'capture': '2.2.7-fault'}, '2.2.7-master', ['json', 'data'], BOTH_SIGNALS, 'FAULT', 'BAD',
                 id='a stale dump replaced by a fresh one'),
    pytest.param({'tmpdir': '/var/tmp/keepalived'}, None, ['json', 'data'], BOTH_SIGNALS, 'MASTER', 'GOOD',
                 id="keepalived's own TMPDIR"),
    pytest.param({'json_supported': False}, None, ['data'], [(4242, 10)], 'MASTER', 'GOOD',
                 id='without JSON support the DATA dump alone'),
])
def test_probe_status(fake_host, options, stale, sources, signals, state, script):
    host = fake_host(**options)
    if stale:
        host.stale_dumps(stale)
    status = host.probe().status()
    assert (status['running'], status['pid'], status['version']) == (True, 4242, '2.2.7')
    assert status['sources'] == sources
    assert sorted(host.signals) == signals
    assert status['instances']['VI_1']['state'] == state
    assert status['scripts']['chk_down']['status'] == script
    assert (status['instances']['VI_1']['stats'] == {}) is ('json' not in sources)
    assert PASSWORD not in json.dumps(status)


@pytest.mark.parametrize('options, where', [
    pytest.param({'tmpdir': '/var/tmp/keepalived'}, 'var/tmp/keepalived', id='TMPDIR from the environment'),
    # A private /tmp: the dump exists only in keepalived's own view of /tmp.
    pytest.param({}, 'tmp', id='/tmp through /proc/PID/root'),
])
def test_probe_dump_dir(fake_host, options, where):
    host = fake_host(**options)
    assert host.probe().dump_dir(4242) == str(host.proc / '4242' / 'root' / where)


def _refuse_signals(host):
    def refuse(pid, signum):
        raise PermissionError('Operation not permitted')
    host.kill = refuse


def _no_ip(host):
    host.run_command = lambda args: (1, '', 'ip: not found')


@pytest.mark.parametrize('options, probe_options, setup, reading, message, waited', [
    pytest.param({'writes': False}, {}, lambda host: host.stale_dumps(), 'status',
                 'no fresh DATA and JSON within 5.0s', True, id='a stale dump is never taken'),
    pytest.param({}, {'keepalived_bin': None}, None, 'status', 'cannot tell its dump signals', False,
                 id='no keepalived to ask for signal numbers'),
    pytest.param({}, {}, _refuse_signals, 'status', r'cannot signal keepalived \(pid 4242\): .*become: true', False,
                 id='signals refused'),
    pytest.param({}, {}, _no_ip, 'vip_status', 'ip addr failed', False, id='ip fails'),
])
def test_probe_errors(fake_host, options, probe_options, setup, reading, message, waited):
    host = fake_host(**options)
    if setup:
        setup(host)
    with pytest.raises(kp.DumpError, match=message):
        getattr(host.probe(**probe_options), reading)()
    assert (host.clock.now >= 105.0) is waited


@pytest.mark.parametrize('setup', ['no pid file', 'bad pid file', 'dead pid', 'other process'])
def test_probe_not_running(fake_host, setup):
    host = fake_host(comm='sshd' if setup == 'other process' else 'keepalived')
    if setup == 'no pid file':
        host.pid_file.unlink()
    elif setup == 'bad pid file':
        host.pid_file.write_text('')
    elif setup == 'dead pid':
        host.pid_file.write_text('999\n')
    status = host.probe().status()
    assert status['running'] is False
    assert status['instances'] == {}
    assert 'not running' in status['msg']
    assert host.signals == []


def test_probe_falls_back_to_ip_oneline(capture_text, fake_host):
    host = fake_host()
    original = host.run_command

    def no_json(args):
        if args[:2] == ['ip', '-j']:
            return 255, '', 'Option "-j" is unknown'
        return original(args)

    host.run_command = no_json
    assert host.probe().vip_status()['addresses'] == kp.parse_ip_oneline(
        capture_text('2.2.7-master', 'ip.txt'))


def test_probe_caches_signal_numbers(fake_host):
    host = fake_host()
    probe = host.probe()
    probe.status()
    probe.status()
    signum_calls = [args for args in host.commands if args[1].startswith('--signum')]
    assert len(signum_calls) == 2
