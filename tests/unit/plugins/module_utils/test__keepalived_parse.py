# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tables of cases for the keepalived dump and ``ip addr`` parsers, against real dumps.

The fixtures were captured from keepalived 2.2.7 (Debian 12) and 2.3.3
(Debian 13) in a two-node lab (lab-node1.conf, lab-node2.conf): JSON and DATA
dumps plus ``ip -j addr`` and ``ip -o addr`` taken at the same moment.  Their
VRRP password is the dummy value ``dummypw1``; it must never survive parsing.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp

PASSWORD = 'dummypw1'

CAPTURES = [
    '2.2.7-master', '2.2.7-drained', '2.2.7-fault', '2.2.7-peer-fault',
    '2.3.3-backup', '2.3.3-peer-drained', '2.3.3-fault',
]


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
def test_status_from_real_dumps(capture_status, capture):
    instances, scripts = EXPECTED[capture]
    status = capture_status(capture)
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
def test_track_scripts_carry_names_and_results(capture_status, capture):
    _instances, scripts = EXPECTED[capture]
    status = capture_status(capture)
    vi1 = status['instances']['VI_1']['track_scripts']
    assert [(t['name'], t['weight'], t['status']) for t in vi1] == [
        ('chk_down', -30, scripts['chk_down']), ('chk_fault', 0, scripts['chk_fault'])]
    assert vi1[0]['command'] == "'/usr/bin/test' '!' '-e' '/etc/keepalived/down'"


@pytest.mark.parametrize('capture', CAPTURES)
def test_json_and_data_dumps_agree(capture_text, capture):
    from_json = kp.parse_json_dump(capture_text(capture, 'json'))
    from_data = kp.parse_data_dump(capture_text(capture, 'data'))['instances']
    keys = ('name', 'vrid', 'state', 'wanted_state', 'vrrp_version', 'interface',
            'base_priority', 'effective_priority', 'vips', 'excluded_vips', 'last_transition')
    assert [[inst[key] for key in keys] for inst in from_json] == \
        [[inst[key] for key in keys] for inst in from_data]


@pytest.mark.parametrize('capture', CAPTURES)
def test_data_dump_alone_is_enough(capture_status, capture):
    instances, _scripts = EXPECTED[capture]
    status = capture_status(capture, use_json=False)
    for name, (state, priority, present) in instances.items():
        assert status['instances'][name]['state'] == state
        assert status['instances'][name]['effective_priority'] == priority
        assert status['instances'][name]['vips_present'] == present


@pytest.mark.parametrize('capture', CAPTURES)
def test_json_dump_alone_reports_scripts_as_unknown(capture_status, capture):
    status = capture_status(capture, use_data=False)
    scripts = status['instances']['VI_1']['track_scripts']
    assert [t['status'] for t in scripts] == ['UNKNOWN', 'UNKNOWN']
    assert scripts[1]['command'].endswith("'/etc/keepalived/fault'")
    assert status['scripts'] == {}


@pytest.mark.parametrize('capture', CAPTURES)
def test_the_vrrp_password_never_survives(capture_text, capture_status, capture):
    raw_json = capture_text(capture, 'json')
    raw_data = capture_text(capture, 'data')
    # The fixtures really carry it, or this test would prove nothing.
    assert '"auth_data":"%s"' % PASSWORD in raw_json
    assert 'Password = %s' % PASSWORD in raw_data
    for use_json, use_data in ((True, True), (True, False), (False, True)):
        text = json.dumps(capture_status(capture, use_json, use_data))
        assert PASSWORD not in text
        assert 'auth_data' not in text
    sections = kp.split_sections(raw_data)
    assert PASSWORD not in json.dumps(sections)


@pytest.mark.parametrize('capture', CAPTURES)
def test_ip_json_and_oneline_agree(capture_text, capture):
    from_json = kp.parse_ip_json(capture_text(capture, 'ip.json'))
    from_text = kp.parse_ip_oneline(capture_text(capture, 'ip.txt'))
    assert from_json == from_text
    assert from_json[0] == {'interface': 'lo', 'address': '127.0.0.1', 'prefix': 8,
                            'cidr': '127.0.0.1/8', 'label': 'lo'}


def test_label_and_host_prefix_from_2_3_3(capture_text):
    addresses = kp.parse_ip_json(capture_text('2.3.3-backup', 'ip.json'))
    by_address = dict((entry['address'], entry) for entry in addresses)
    assert by_address['192.168.158.101']['label'] == 'eth0:vip2'
    assert by_address['192.168.158.102']['prefix'] == 32


def test_excluded_vips_are_vips_too(capture_status):
    inst = capture_status('2.3.3-backup')['instances']['VI_2']
    assert inst['excluded_vips'] == ['192.168.158.103/24']
    assert '192.168.158.103/24' in inst['vips']


def test_json_stats_are_passed_on(capture_status):
    inst = capture_status('2.2.7-master')['instances']['VI_1']
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
    assert kp.state_name(value) == name


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
    assert kp.parse_vip(entry) == expected


@pytest.mark.parametrize('entry', ['', 'not-an-ip dev eth0', '192.168.1.1/33', '10.0.0.1/x'])
def test_parse_vip_rejects(entry):
    with pytest.raises(ValueError):
        kp.parse_vip(entry)


def test_unparseable_vips_are_skipped():
    assert kp._parse_vips(['bogus', '10.0.0.1/8']) == [kp.parse_vip('10.0.0.1/8')]


@pytest.mark.parametrize('value, expected', [
    ({'a': 1, 'auth_data': 'x'}, {'a': 1}),
    ([{'data': {'auth_data': 'x', 'iname': 'VI'}}], [{'data': {'iname': 'VI'}}]),
    ({'nested': [{'auth_data': 'x'}]}, {'nested': [{}]}),
    ('auth_data', 'auth_data'),
])
def test_drop_secrets(value, expected):
    assert kp.drop_secrets(value) == expected


@pytest.mark.parametrize('text, version', [
    ('Keepalived v2.2.7 (01/16,2022)\n', '2.2.7'),
    ('Keepalived v2.3.3 (03/30,2025)\nCopyright', '2.3.3'),
    ('', None),
    (None, None),
])
def test_parse_version(text, version):
    assert kp.parse_version(text) == version


@pytest.mark.parametrize('text', ['{', '{"data": {}}', '[1]', '[{"stats": {}}]'])
def test_parse_json_dump_rejects(text):
    with pytest.raises(kp.DumpError):
        kp.parse_json_dump(text)


def test_parse_json_dump_empty_list():
    assert kp.parse_json_dump('[]') == []


@pytest.mark.parametrize('text', ['', 'garbage\n', '------< Global definitions >------\n x = 1\n'])
def test_parse_data_dump_rejects(text):
    with pytest.raises(kp.DumpError):
        kp.parse_data_dump(text)


@pytest.mark.parametrize('line', [
    '   Password = secret', '   password = secret', '   Auth pass = secret', '   auth_data = secret',
])
def test_split_sections_drops_password_lines(line):
    text = '------< VRRP Topology >------\n VRRP Instance = VI\n%s\n   State = MASTER\n' % line
    sections = kp.split_sections(text)
    assert 'secret' not in json.dumps(sections)
    assert kp.parse_blocks(sections['VRRP Topology'], 'VRRP Instance')[0]['fields'] == {
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
    block = kp.parse_blocks(lines, 'VRRP Instance')[0]
    assert block['name'] == 'VI_9'
    assert block['lists'] == {'Virtual IP': ['10.0.0.1/24 dev eth0', '10.0.0.2 dev eth0'],
                              'Tracked scripts': ['chk_a weight 5']}
    assert block['fields'] == {'State': 'BACKUP'}


def test_parse_ip_json_rejects_garbage():
    with pytest.raises(ValueError):
        kp.parse_ip_json('not json')


def test_parse_ip_oneline_skips_other_lines():
    text = '3: eth1    link/ether 00:11:22:33:44:55\n4: eth2@if9    inet 10.1.1.1/24 scope global eth2\\ x\n'
    assert kp.parse_ip_oneline(text) == [
        {'interface': 'eth2', 'address': '10.1.1.1', 'prefix': 24, 'cidr': '10.1.1.1/24',
         'label': 'eth2'}]


def test_build_status_when_stopped():
    status = kp.build_status(False)
    assert status['running'] is False
    assert status['instances'] == {}
    assert status['vips_held'] == []
    assert status['holder'] is False
    assert status['msg'] == 'keepalived is not running'


def _instance(state, vips=('10.0.0.100/24',)):
    return {'name': 'VI_%s' % state, 'state': state, 'vips': list(vips)}


ETH0 = {'interface': 'eth0', 'address': '10.0.0.11', 'prefix': 24, 'cidr': '10.0.0.11/24', 'label': 'eth0'}
VIP_ON_ETH0 = dict(ETH0, address='10.0.0.100', cidr='10.0.0.100/24')


# The one rule every rollout order uses: MASTER, or a configured VIP on the host's interfaces.
@pytest.mark.parametrize('instances, addresses, holder', [
    ([], [ETH0], False),
    ([_instance('BACKUP')], [ETH0], False),
    ([_instance('FAULT')], [ETH0], False),
    ([_instance('BACKUP')], [ETH0, VIP_ON_ETH0], True),   # the VIP is still here (a move under way)
    ([_instance('MASTER')], [ETH0, VIP_ON_ETH0], True),
    ([_instance('MASTER')], [ETH0], True),                 # MASTER before its VIPs are added
    ([_instance('MASTER', vips=())], [ETH0], True),        # MASTER of an instance without VIPs
    ([_instance('BACKUP'), _instance('MASTER')], [ETH0], True),
    ([_instance('BACKUP', vips=('10.0.0.200/24',))], [ETH0, VIP_ON_ETH0], False),  # someone else's address
])
def test_holder(instances, addresses, holder):
    assert kp.build_status(True, instances=instances, addresses=addresses)['holder'] is holder
