# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the keepalived state parsers and decisions against real dumps.

The fixtures were captured from keepalived 2.2.7 (Debian 12) and 2.3.3
(Debian 13) in a two-node lab (lab-node1.conf, lab-node2.conf): JSON and DATA
dumps plus ``ip -j addr`` and ``ip -o addr`` taken at the same moment.  Their
VRRP password is the dummy value ``dummypw1``; it must never survive parsing.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_status as ks

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
PASSWORD = 'dummypw1'

CAPTURES = [
    '2.2.7-master', '2.2.7-drained', '2.2.7-fault', '2.2.7-peer-fault',
    '2.3.3-backup', '2.3.3-peer-drained', '2.3.3-fault',
]


def fixture_text(capture, kind):
    with open(os.path.join(FIXTURES, 'keepalived-%s.%s' % (capture, kind))) as handle:
        return handle.read()


def status_of(capture, use_json=True, use_data=True):
    json_instances = ks.parse_json_dump(fixture_text(capture, 'json')) if use_json else None
    data = ks.parse_data_dump(fixture_text(capture, 'data')) if use_data else None
    return ks.build_status(
        True, pid=1,
        instances=ks.merge_instances(json_instances, data),
        scripts=(data or {}).get('scripts'),
        addresses=ks.parse_ip_json(fixture_text(capture, 'ip.json')),
    )


# What each capture showed: per instance (state, effective priority, VIPs present)
# and the status of every script.
EXPECTED = {
    '2.2.7-master': (
        {'VI_1': ('MASTER', 110, ['192.168.158.100/24']), 'VI_2': ('BACKUP', 100, [])},
        {'chk_down': 'GOOD', 'chk_fault': 'GOOD'}),
    '2.2.7-drained': (
        {'VI_1': ('BACKUP', 80, []), 'VI_2': ('BACKUP', 70, [])},
        {'chk_down': 'BAD', 'chk_fault': 'GOOD'}),
    '2.2.7-fault': (
        {'VI_1': ('FAULT', 80, []), 'VI_2': ('BACKUP', 70, [])},
        {'chk_down': 'BAD', 'chk_fault': 'BAD'}),
    '2.2.7-peer-fault': (
        {'VI_1': ('MASTER', 110, ['192.168.158.100/24']), 'VI_2': ('BACKUP', 100, [])},
        {'chk_down': 'GOOD', 'chk_fault': 'GOOD'}),
    '2.3.3-backup': (
        {'VI_1': ('BACKUP', 100, []),
         'VI_2': ('MASTER', 110, ['192.168.158.101/24', '192.168.158.102/32', '192.168.158.103/24'])},
        {'chk_down': 'GOOD', 'chk_fault': 'GOOD'}),
    '2.3.3-peer-drained': (
        {'VI_1': ('MASTER', 100, ['192.168.158.100/24']),
         'VI_2': ('MASTER', 110, ['192.168.158.101/24', '192.168.158.102/32', '192.168.158.103/24'])},
        {'chk_down': 'GOOD', 'chk_fault': 'GOOD'}),
    '2.3.3-fault': (
        {'VI_1': ('FAULT', 100, []),
         'VI_2': ('MASTER', 110, ['192.168.158.101/24', '192.168.158.102/32', '192.168.158.103/24'])},
        {'chk_down': 'GOOD', 'chk_fault': 'BAD'}),
}


# ---------------------------------------------------------------------------
# Real dumps
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('capture', CAPTURES)
def test_status_from_real_dumps(capture):
    instances, scripts = EXPECTED[capture]
    status = status_of(capture)
    assert sorted(status['instances']) == sorted(instances)
    for name, (state, priority, present) in instances.items():
        inst = status['instances'][name]
        assert inst['state'] == state
        assert inst['effective_priority'] == priority
        assert inst['vips_present'] == present
    assert dict((name, script['status']) for name, script in status['scripts'].items()) == scripts
    assert status['vips_held'] == sorted(set(
        vip for _state, _prio, present in instances.values() for vip in present))


@pytest.mark.parametrize('capture', CAPTURES)
def test_track_scripts_carry_names_and_results(capture):
    _instances, scripts = EXPECTED[capture]
    status = status_of(capture)
    vi1 = status['instances']['VI_1']['track_scripts']
    assert [(t['name'], t['weight'], t['status']) for t in vi1] == [
        ('chk_down', -30, scripts['chk_down']), ('chk_fault', 0, scripts['chk_fault'])]
    assert vi1[0]['command'] == "'/usr/bin/test' '!' '-e' '/etc/keepalived/down'"


@pytest.mark.parametrize('capture', CAPTURES)
def test_json_and_data_dumps_agree(capture):
    from_json = ks.parse_json_dump(fixture_text(capture, 'json'))
    from_data = ks.parse_data_dump(fixture_text(capture, 'data'))['instances']
    keys = ('name', 'vrid', 'state', 'wanted_state', 'vrrp_version', 'interface',
            'base_priority', 'effective_priority', 'vips', 'excluded_vips', 'last_transition')
    assert [[inst[key] for key in keys] for inst in from_json] == \
        [[inst[key] for key in keys] for inst in from_data]


@pytest.mark.parametrize('capture', CAPTURES)
def test_data_dump_alone_is_enough(capture):
    instances, _scripts = EXPECTED[capture]
    status = status_of(capture, use_json=False)
    for name, (state, priority, present) in instances.items():
        assert status['instances'][name]['state'] == state
        assert status['instances'][name]['effective_priority'] == priority
        assert status['instances'][name]['vips_present'] == present


@pytest.mark.parametrize('capture', CAPTURES)
def test_json_dump_alone_reports_scripts_as_unknown(capture):
    status = status_of(capture, use_data=False)
    scripts = status['instances']['VI_1']['track_scripts']
    assert [t['status'] for t in scripts] == ['UNKNOWN', 'UNKNOWN']
    assert scripts[1]['command'].endswith("'/etc/keepalived/fault'")
    assert status['scripts'] == {}


@pytest.mark.parametrize('capture', CAPTURES)
def test_the_vrrp_password_never_survives(capture):
    raw_json = fixture_text(capture, 'json')
    raw_data = fixture_text(capture, 'data')
    # The fixtures really carry it, or this test would prove nothing.
    assert '"auth_data":"%s"' % PASSWORD in raw_json
    assert 'Password = %s' % PASSWORD in raw_data
    for use_json, use_data in ((True, True), (True, False), (False, True)):
        text = json.dumps(status_of(capture, use_json, use_data))
        assert PASSWORD not in text
        assert 'auth_data' not in text
    sections = ks.split_sections(raw_data)
    assert PASSWORD not in json.dumps(sections)


@pytest.mark.parametrize('capture', CAPTURES)
def test_ip_json_and_oneline_agree(capture):
    from_json = ks.parse_ip_json(fixture_text(capture, 'ip.json'))
    from_text = ks.parse_ip_oneline(fixture_text(capture, 'ip.txt'))
    assert from_json == from_text
    assert from_json[0] == {'interface': 'lo', 'address': '127.0.0.1', 'prefix': 8,
                            'cidr': '127.0.0.1/8', 'label': 'lo'}


def test_label_and_host_prefix_from_2_3_3():
    addresses = ks.parse_ip_json(fixture_text('2.3.3-backup', 'ip.json'))
    by_address = dict((entry['address'], entry) for entry in addresses)
    assert by_address['192.168.158.101']['label'] == 'eth0:vip2'
    assert by_address['192.168.158.102']['prefix'] == 32


def test_excluded_vips_are_vips_too():
    inst = status_of('2.3.3-backup')['instances']['VI_2']
    assert inst['excluded_vips'] == ['192.168.158.103/24']
    assert '192.168.158.103/24' in inst['vips']


def test_json_stats_are_passed_on():
    inst = status_of('2.2.7-master')['instances']['VI_1']
    assert inst['stats']['become_master'] == 1
    assert inst['master_priority'] == 0
    assert inst['vrrp_version'] == 2


# ---------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('value, name', [
    (0, 'INIT'), (1, 'BACKUP'), (2, 'MASTER'), (3, 'FAULT'), (97, 'DELETED'), (98, 'STOP'),
    (42, 'UNKNOWN'), (None, 'UNKNOWN'), (True, 'UNKNOWN'), ('2', 'MASTER'), ('backup', 'BACKUP'),
    (' FAULT ', 'FAULT'), ('', 'UNKNOWN'),
])
def test_state_name(value, name):
    assert ks.state_name(value) == name


@pytest.mark.parametrize('entry, expected', [
    ('192.168.158.100/24 dev eth0 scope global set',
     {'address': '192.168.158.100', 'prefix': 24, 'cidr': '192.168.158.100/24',
      'interface': 'eth0', 'label': None}),
    ('192.168.158.101/24 dev eth0 scope global label eth0:vip2',
     {'address': '192.168.158.101', 'prefix': 24, 'cidr': '192.168.158.101/24',
      'interface': 'eth0', 'label': 'eth0:vip2'}),
    ('192.168.158.102 dev eth0 scope global',
     {'address': '192.168.158.102', 'prefix': 32, 'cidr': '192.168.158.102/32',
      'interface': 'eth0', 'label': None}),
    ('2001:DB8:0:0::10 dev eth1',
     {'address': '2001:db8::10', 'prefix': 128, 'cidr': '2001:db8::10/128',
      'interface': 'eth1', 'label': None}),
    ('2001:db8::10/64',
     {'address': '2001:db8::10', 'prefix': 64, 'cidr': '2001:db8::10/64',
      'interface': None, 'label': None}),
])
def test_parse_vip(entry, expected):
    assert ks.parse_vip(entry) == expected


@pytest.mark.parametrize('entry', ['', 'not-an-ip dev eth0', '192.168.1.1/33', '10.0.0.1/x'])
def test_parse_vip_rejects(entry):
    with pytest.raises(ValueError):
        ks.parse_vip(entry)


def test_unparseable_vips_are_skipped():
    assert ks._parse_vips(['bogus', '10.0.0.1/8']) == [ks.parse_vip('10.0.0.1/8')]


@pytest.mark.parametrize('value, expected', [
    ({'a': 1, 'auth_data': 'x'}, {'a': 1}),
    ([{'data': {'auth_data': 'x', 'iname': 'VI'}}], [{'data': {'iname': 'VI'}}]),
    ({'nested': [{'auth_data': 'x'}]}, {'nested': [{}]}),
    ('auth_data', 'auth_data'),
])
def test_drop_secrets(value, expected):
    assert ks.drop_secrets(value) == expected


@pytest.mark.parametrize('text, version', [
    ('Keepalived v2.2.7 (01/16,2022)\n', '2.2.7'),
    ('Keepalived v2.3.3 (03/30,2025)\nCopyright', '2.3.3'),
    ('', None),
    (None, None),
])
def test_parse_version(text, version):
    assert ks.parse_version(text) == version


@pytest.mark.parametrize('text', ['{', '{"data": {}}', '[1]', '[{"stats": {}}]'])
def test_parse_json_dump_rejects(text):
    with pytest.raises(ks.DumpError):
        ks.parse_json_dump(text)


def test_parse_json_dump_empty_list():
    assert ks.parse_json_dump('[]') == []


@pytest.mark.parametrize('text', ['', 'garbage\n', '------< Global definitions >------\n x = 1\n'])
def test_parse_data_dump_rejects(text):
    with pytest.raises(ks.DumpError):
        ks.parse_data_dump(text)


@pytest.mark.parametrize('line', [
    '   Password = secret', '   password = secret', '   Auth pass = secret', '   auth_data = secret',
])
def test_split_sections_drops_password_lines(line):
    text = '------< VRRP Topology >------\n VRRP Instance = VI\n%s\n   State = MASTER\n' % line
    sections = ks.split_sections(text)
    assert 'secret' not in json.dumps(sections)
    assert ks.parse_blocks(sections['VRRP Topology'], 'VRRP Instance')[0]['fields'] == {
        'State': 'MASTER'}


def test_parse_blocks_lists():
    lines = [
        ' VRRP Instance = VI_9',
        '   Virtual IP (2):',
        '     10.0.0.1/24 dev eth0',
        '     10.0.0.2 dev eth0',
        '   Tracked scripts :',
        '     chk_a weight 5',
        '   State = BACKUP',
        '   fd_in 13, fd_out 14',
    ]
    block = ks.parse_blocks(lines, 'VRRP Instance')[0]
    assert block['name'] == 'VI_9'
    assert block['lists'] == {'Virtual IP': ['10.0.0.1/24 dev eth0', '10.0.0.2 dev eth0'],
                              'Tracked scripts': ['chk_a weight 5']}
    assert block['fields'] == {'State': 'BACKUP'}


def test_parse_ip_json_rejects_garbage():
    with pytest.raises(ValueError):
        ks.parse_ip_json('not json')


def test_parse_ip_oneline_skips_other_lines():
    text = '3: eth1    link/ether 00:11:22:33:44:55\n4: eth2@if9    inet 10.1.1.1/24 scope global eth2\\ x\n'
    assert ks.parse_ip_oneline(text) == [
        {'interface': 'eth2', 'address': '10.1.1.1', 'prefix': 24, 'cidr': '10.1.1.1/24',
         'label': 'eth2'}]


def test_build_status_when_stopped():
    status = ks.build_status(False)
    assert status['running'] is False
    assert status['instances'] == {}
    assert status['vips_held'] == []
    assert status['msg'] == 'keepalived is not running'


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
def test_check_conditions(capture, goal, met, seen):
    assert ks.check_conditions(status_of(capture), **goal) == (met, seen)


@pytest.mark.parametrize('state, met', [('STOP', True), ('MASTER', False)])
def test_check_conditions_when_stopped(state, met):
    status = ks.build_status(False)
    assert ks.check_conditions(status, instance='VI_1', state=state) == (met, 'keepalived not running')


@pytest.mark.parametrize('goal, text', [
    (dict(instance='VI_1', state='MASTER'), 'instance VI_1 to reach MASTER'),
    (dict(vip='10.0.0.1', vip_state='absent'), 'VIP 10.0.0.1 to be absent'),
    (dict(instance='VI_1', state='BACKUP', vip='10.0.0.1'),
     'instance VI_1 to reach BACKUP and VIP 10.0.0.1 to be present'),
])
def test_describe_goal(goal, text):
    assert ks.describe_goal(**goal) == text


# ---------------------------------------------------------------------------
# Waiting, with a clock that only moves when the code sleeps
# ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize('results, timeout, met, elapsed, calls', [
    ([True], 10, True, 0.0, 1),
    ([False, False, True], 10, True, 2.0, 3),
    ([False] * 20, 3, False, 3.0, 4),
    ([False] * 20, 2.5, False, 2.5, 4),
])
def test_wait_until(results, timeout, met, elapsed, calls):
    clock = FakeClock()
    feed = iter(results)
    seen_calls = []

    def probe():
        seen_calls.append(1)
        return next(feed)

    outcome = ks.wait_until(probe, lambda ok: (ok, 'ok' if ok else 'not yet'), timeout, 1.0,
                            clock=clock, sleep=clock.sleep)
    assert outcome[0] is met
    assert outcome[1] == elapsed
    assert outcome[3] == ('ok' if met else 'not yet')
    assert len(seen_calls) == calls


def test_wait_until_survives_dump_errors():
    clock = FakeClock()
    feed = iter([ks.DumpError('no dump'), 'good'])

    def probe():
        item = next(feed)
        if isinstance(item, Exception):
            raise item
        return item

    met, elapsed, result, seen = ks.wait_until(
        probe, lambda value: (value == 'good', value), 5, 0.5, clock=clock, sleep=clock.sleep)
    assert (met, elapsed, result, seen) == (True, 0.5, 'good', 'good')


def test_wait_until_reports_the_last_dump_error():
    clock = FakeClock()

    def probe():
        raise ks.DumpError('keepalived wrote nothing')

    assert ks.wait_until(probe, None, 1, 1, clock=clock, sleep=clock.sleep) == (
        False, 1.0, None, 'keepalived wrote nothing')


# ---------------------------------------------------------------------------
# KeepalivedProbe against a fake /proc and a fake keepalived
# ---------------------------------------------------------------------------

SIGNUMS = {'JSON': 36, 'DATA': 10}


class FakeHost:
    """A /proc with one keepalived whose signals write the captured dumps."""

    def __init__(self, tmp_path, capture='2.2.7-master', tmpdir='/tmp', comm='keepalived',
                 json_supported=True, writes=True, private_tmp=False):
        self.capture = capture
        self.writes = writes
        self.json_supported = json_supported
        self.clock = FakeClock()
        self.commands = []
        self.signals = []
        self.pid_file = tmp_path / 'keepalived.pid'
        self.pid_file.write_text('4242\n')
        self.proc = tmp_path / 'proc'
        process = self.proc / '4242'
        process.mkdir(parents=True)
        (process / 'comm').write_text(comm + '\n')
        environ = b'PATH=/usr/bin\0'
        if tmpdir != '/tmp':
            environ += b'TMPDIR=' + tmpdir.encode() + b'\0'
        (process / 'environ').write_bytes(environ)
        self.rootfs = tmp_path / 'rootfs'
        self.dump_dir = self.rootfs / tmpdir.lstrip('/')
        self.dump_dir.mkdir(parents=True)
        (process / 'root').symlink_to(self.rootfs)
        # With a private /tmp the host's own /tmp holds only an old dump.
        self.private_tmp = private_tmp

    def run_command(self, args):
        self.commands.append(args)
        if args[0] == 'keepalived' and args[1].startswith('--signum='):
            kind = args[1].split('=', 1)[1]
            if kind == 'JSON' and not self.json_supported:
                return 1, '', 'Unknown signal JSON'
            return 0, '%d\n' % SIGNUMS[kind], ''
        if args[0] == 'keepalived' and args[1] == '--version':
            return 0, '', 'Keepalived v%s (01/16,2022)\n' % self.capture.split('-')[0]
        if args[:3] == ['ip', '-j', 'addr']:
            return 0, fixture_text(self.capture, 'ip.json'), ''
        if args[:3] == ['ip', '-o', 'addr']:
            return 0, fixture_text(self.capture, 'ip.txt'), ''
        raise AssertionError('unexpected command %r' % (args,))

    def kill(self, pid, signum):
        self.signals.append((pid, signum))
        if not self.writes:
            return
        kind = 'json' if signum == SIGNUMS['JSON'] else 'data'
        (self.dump_dir / ('keepalived.' + kind)).write_text(fixture_text(self.capture, kind))

    def probe(self, **kwargs):
        return ks.KeepalivedProbe(
            self.run_command, pid_file=str(self.pid_file), proc=str(self.proc),
            clock=self.clock, sleep=self.clock.sleep, kill=self.kill, **kwargs)


def test_probe_reads_fresh_dumps(tmp_path):
    host = FakeHost(tmp_path)
    status = host.probe().status()
    assert status['running'] is True
    assert status['pid'] == 4242
    assert status['version'] == '2.2.7'
    assert status['sources'] == ['json', 'data']
    assert status['instances']['VI_1']['state'] == 'MASTER'
    assert status['scripts']['chk_down']['status'] == 'GOOD'
    assert sorted(host.signals) == [(4242, 10), (4242, 36)]
    assert PASSWORD not in json.dumps(status)


def test_probe_never_takes_a_stale_dump(tmp_path):
    host = FakeHost(tmp_path, writes=False)
    (host.dump_dir / 'keepalived.json').write_text(fixture_text('2.2.7-master', 'json'))
    (host.dump_dir / 'keepalived.data').write_text(fixture_text('2.2.7-master', 'data'))
    with pytest.raises(ks.DumpError, match='no fresh DATA and JSON within 5.0s'):
        host.probe().status()
    assert host.clock.now >= 105.0


def test_probe_replaces_a_stale_dump_with_a_fresh_one(tmp_path):
    host = FakeHost(tmp_path, capture='2.2.7-fault')
    (host.dump_dir / 'keepalived.json').write_text(fixture_text('2.2.7-master', 'json'))
    (host.dump_dir / 'keepalived.data').write_text(fixture_text('2.2.7-master', 'data'))
    assert host.probe().status()['instances']['VI_1']['state'] == 'FAULT'


def test_probe_follows_keepalived_tmpdir(tmp_path):
    host = FakeHost(tmp_path, tmpdir='/var/tmp/keepalived')
    probe = host.probe()
    assert probe.dump_dir(4242) == str(host.proc / '4242' / 'root' / 'var/tmp/keepalived')
    assert probe.status()['instances']['VI_1']['state'] == 'MASTER'


def test_probe_reads_through_proc_root(tmp_path):
    # A private /tmp: the dump exists only in keepalived's own view of /tmp.
    host = FakeHost(tmp_path, private_tmp=True)
    assert host.probe().dump_dir(4242) == str(host.proc / '4242' / 'root' / 'tmp')


def test_probe_without_json_support_uses_data(tmp_path):
    host = FakeHost(tmp_path, json_supported=False)
    status = host.probe().status()
    assert status['sources'] == ['data']
    assert host.signals == [(4242, 10)]
    assert status['instances']['VI_1']['state'] == 'MASTER'
    assert status['instances']['VI_1']['stats'] == {}


@pytest.mark.parametrize('setup', ['no pid file', 'bad pid file', 'dead pid', 'other process'])
def test_probe_not_running(tmp_path, setup):
    host = FakeHost(tmp_path, comm='sshd' if setup == 'other process' else 'keepalived')
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


def test_probe_without_signal_support(tmp_path):
    host = FakeHost(tmp_path)
    probe = host.probe(keepalived_bin=None)
    with pytest.raises(ks.DumpError, match='cannot tell its dump signals'):
        probe.status()


def test_probe_cannot_signal(tmp_path):
    host = FakeHost(tmp_path)

    def refuse(pid, signum):
        raise PermissionError('Operation not permitted')

    host.kill = refuse
    with pytest.raises(ks.DumpError, match=r'cannot signal keepalived \(pid 4242\): .*become: true'):
        host.probe().status()


def test_probe_falls_back_to_ip_oneline(tmp_path):
    host = FakeHost(tmp_path)
    original = host.run_command

    def no_json(args):
        if args[:2] == ['ip', '-j']:
            return 255, '', 'Option "-j" is unknown'
        return original(args)

    host.run_command = no_json
    assert host.probe().vip_status()['addresses'] == ks.parse_ip_oneline(
        fixture_text('2.2.7-master', 'ip.txt'))


def test_probe_ip_failure(tmp_path):
    host = FakeHost(tmp_path)
    host.run_command = lambda args: (1, '', 'ip: not found')
    with pytest.raises(ks.DumpError, match='ip addr failed'):
        host.probe().vip_status()


def test_probe_caches_signal_numbers(tmp_path):
    host = FakeHost(tmp_path)
    probe = host.probe()
    probe.status()
    probe.status()
    signum_calls = [args for args in host.commands if args[1].startswith('--signum')]
    assert len(signum_calls) == 2


# ---------------------------------------------------------------------------
# run_status and run_maintenance with a scripted probe
# ---------------------------------------------------------------------------

class ScriptedProbe:
    """Returns one capture after another; the last one repeats."""

    def __init__(self, captures, running=True):
        self.captures = list(captures)
        self.running = running
        self.clock = FakeClock()
        self.sleep = self.clock.sleep
        self.calls = []

    def _next(self):
        capture = self.captures.pop(0) if len(self.captures) > 1 else self.captures[0]
        if capture is None:
            return ks.build_status(False, addresses=ks.parse_ip_json(
                fixture_text('2.2.7-drained', 'ip.json')))
        if isinstance(capture, Exception):
            raise capture
        return status_of(capture)

    def status(self):
        self.calls.append('status')
        return self._next()

    def vip_status(self):
        self.calls.append('vip_status')
        return self._next()


STATUS_PARAMS = dict(wait_for=None, timeout=10.0, poll_interval=1.0, fail_when_stopped=False)


def test_run_status_once():
    result = ks.run_status(ScriptedProbe(['2.2.7-master']), dict(STATUS_PARAMS))
    assert 'failed' not in result
    assert result['elapsed'] == 0.0
    assert result['vips_held'] == ['192.168.158.100/24']


@pytest.mark.parametrize('fail_when_stopped, failed', [(False, False), (True, True)])
def test_run_status_stopped(fail_when_stopped, failed):
    params = dict(STATUS_PARAMS, fail_when_stopped=fail_when_stopped)
    result = ks.run_status(ScriptedProbe([None]), params)
    assert result.get('failed', False) is failed
    assert result['running'] is False


def test_run_status_dump_error():
    result = ks.run_status(ScriptedProbe([ks.DumpError('no fresh JSON')]), dict(STATUS_PARAMS))
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
def test_run_status_wait(captures, wait_for, failed, elapsed, calls, msg):
    probe = ScriptedProbe(captures)
    params = dict(STATUS_PARAMS, wait_for=dict(dict(instance=None, state=None, vip=None,
                                                    vip_state='present'), **wait_for))
    result = ks.run_status(probe, params)
    assert result.get('failed', False) is failed
    assert result['elapsed'] == elapsed
    assert result['msg'] == msg
    assert set(probe.calls) == {calls}


def test_run_status_wait_rejects_a_bad_vip():
    params = dict(STATUS_PARAMS, wait_for=dict(instance=None, state=None, vip='nope',
                                               vip_state='present'))
    result = ks.run_status(ScriptedProbe(['2.2.7-master']), params)
    assert result['failed'] is True
    assert result['msg'] == 'wait_for.vip is not an IP address: nope'


def test_run_status_wait_for_stop_ignores_fail_when_stopped():
    params = dict(STATUS_PARAMS, fail_when_stopped=True,
                  wait_for=dict(instance='VI_1', state='STOP', vip=None, vip_state='present'))
    assert 'failed' not in ks.run_status(ScriptedProbe([None]), params)


def test_run_status_wait_when_every_reading_fails():
    params = dict(STATUS_PARAMS, timeout=2.0,
                  wait_for=dict(instance='VI_1', state='MASTER', vip=None, vip_state='present'))
    result = ks.run_status(ScriptedProbe([ks.DumpError('no fresh JSON')]), params)
    assert result['failed'] is True
    assert result['last_seen'] == 'no fresh JSON'
    assert result['running'] is None


MAINT_PARAMS = dict(state='drained', reason='patching', wait=True, wait_for_state=[],
                    timeout=10.0, poll_interval=1.0)


def maint_params(tmp_path, **overrides):
    return dict(MAINT_PARAMS, path=str(tmp_path / 'down'), **overrides)


@pytest.mark.parametrize('state, exists, changed', [
    ('drained', False, True), ('drained', True, False), ('active', True, True), ('active', False, False),
])
def test_maintenance_check_mode_touches_nothing(tmp_path, state, exists, changed):
    down = tmp_path / 'down'
    if exists:
        down.write_text('old reason\n')
    probe = ScriptedProbe(['2.2.7-master'])
    result = ks.run_maintenance(probe, maint_params(tmp_path, state=state), check_mode=True)
    assert result['changed'] is changed
    assert down.exists() is exists
    assert result['elapsed'] == 0.0
    assert result['vips_before'] == result['vips_after'] == ['192.168.158.100/24']
    assert result['diff'] == {
        'before': {'path': str(down), 'state': 'present' if exists else 'absent'},
        'after': {'path': str(down), 'state': 'present' if state == 'drained' else 'absent'},
    }
    assert probe.calls == ['status']


def test_maintenance_drain_waits_for_the_vips_to_leave(tmp_path):
    probe = ScriptedProbe(['2.2.7-master', '2.2.7-master', '2.2.7-master', '2.2.7-drained'])
    result = ks.run_maintenance(probe, maint_params(tmp_path))
    assert 'failed' not in result
    assert result['changed'] is True
    assert (tmp_path / 'down').read_text() == 'patching\n'
    assert oct((tmp_path / 'down').stat().st_mode & 0o777) == '0o644'
    assert result['vips_before'] == ['192.168.158.100/24']
    assert result['vips_after'] == []
    assert result['elapsed'] == 2.0
    assert result['msg'] == 'created %s; all VIPs gone after 2.0s' % (tmp_path / 'down')
    assert probe.calls == ['status', 'vip_status', 'vip_status', 'vip_status']


def test_maintenance_drain_keeps_an_existing_file(tmp_path):
    (tmp_path / 'down').write_text('somebody else\n')
    result = ks.run_maintenance(ScriptedProbe(['2.2.7-drained']), maint_params(tmp_path))
    assert result['changed'] is False
    assert (tmp_path / 'down').read_text() == 'somebody else\n'
    assert result['vips_before'] == []


def test_maintenance_drain_times_out(tmp_path):
    result = ks.run_maintenance(ScriptedProbe(['2.3.3-backup']), maint_params(tmp_path))
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['msg'] == (
        'timed out after 10.0s waiting for VIPs 192.168.158.101/24, 192.168.158.102/32, '
        '192.168.158.103/24 to leave this host; last seen: still held: 192.168.158.101/24, '
        '192.168.158.102/32, 192.168.158.103/24')


def test_maintenance_drain_without_wait(tmp_path):
    probe = ScriptedProbe(['2.2.7-master'])
    result = ks.run_maintenance(probe, maint_params(tmp_path, wait=False))
    assert result['changed'] is True
    assert result['elapsed'] == 0.0
    assert result['vips_after'] == ['192.168.158.100/24']
    assert probe.calls == ['status', 'vip_status']


def test_maintenance_drain_cannot_write(tmp_path):
    params = maint_params(tmp_path)
    params['path'] = str(tmp_path / 'missing-dir' / 'down')
    result = ks.run_maintenance(ScriptedProbe(['2.2.7-master']), params)
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'].startswith('cannot create %s' % params['path'])


def test_maintenance_drain_with_keepalived_stopped(tmp_path):
    result = ks.run_maintenance(ScriptedProbe([None]), maint_params(tmp_path))
    assert 'failed' not in result
    assert result['running'] is False
    assert result['vips_before'] == result['vips_after'] == []
    assert (tmp_path / 'down').exists()


def test_maintenance_activate_waits_for_master(tmp_path):
    (tmp_path / 'down').write_text('patching\n')
    probe = ScriptedProbe(['2.2.7-drained', '2.2.7-drained', '2.2.7-master'])
    result = ks.run_maintenance(probe, maint_params(tmp_path, state='active', wait_for_state=['VI_1']))
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
def test_maintenance_activate_times_out(tmp_path, captures, names, seen):
    (tmp_path / 'down').write_text('patching\n')
    result = ks.run_maintenance(
        ScriptedProbe(captures), maint_params(tmp_path, state='active', wait_for_state=names))
    assert result['failed'] is True
    assert result['msg'] == 'timed out after 10.0s waiting for instances %s to be MASTER; last seen: %s' % (
        ', '.join(names), seen)


def test_maintenance_activate_without_names_returns_at_once(tmp_path):
    (tmp_path / 'down').write_text('patching\n')
    probe = ScriptedProbe(['2.2.7-drained'])
    result = ks.run_maintenance(probe, maint_params(tmp_path, state='active'))
    assert 'failed' not in result
    assert result['elapsed'] == 0.0
    assert probe.calls == ['status', 'vip_status']


def test_maintenance_cannot_read_state(tmp_path):
    result = ks.run_maintenance(ScriptedProbe([ks.DumpError('no fresh JSON')]), maint_params(tmp_path))
    assert result['failed'] is True
    assert result['msg'] == 'cannot read keepalived state: no fresh JSON'
    assert not (tmp_path / 'down').exists()
