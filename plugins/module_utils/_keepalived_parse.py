# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What keepalived's state dumps and ``ip addr`` say, as plain values: pure parsers.

Private to the failover.keepalived collection (leading underscore). Nothing
here does I/O: _keepalived_probe fetches the texts, these functions read them,
and ``build_status`` assembles the reading that keepalived_status returns and
the other modules decide on.

Sources, as measured on keepalived 2.2.7 (Debian 12) and 2.3.3 (Debian 13):

* JSON dump (``keepalived --signum=JSON``): one object per VRRP instance with
  ``data`` (iname, vrid, numeric state, priorities, vips, evips, the commands
  of its track scripts, and ``auth_data`` - the VRRP password in clear) and
  ``stats``.  It carries neither script names nor script results.
* DATA dump (``keepalived --signum=DATA``): indented text.  The only place
  with per-script ``Status = GOOD|BAD`` and the names and weights of the
  scripts each instance tracks.  It prints the password too (``Password =``).
* ``ip -j addr`` (or ``ip -o addr`` where iproute2 has no JSON): the
  addresses on this host's interfaces.

Secrets never leave the parsers: ``auth_data`` is dropped from the JSON and
password lines from the DATA text before anything else looks at them.
"""

from __future__ import annotations

import ipaddress
import json
import re

# keepalived's numeric VRRP states (vrrp.h): RFC states plus its own.
STATE_NAMES = {
    0: 'INIT',
    1: 'BACKUP',
    2: 'MASTER',
    3: 'FAULT',
    97: 'DELETED',
    98: 'STOP',
}

# JSON keys that hold credentials; removed at any depth.
SECRET_KEYS = frozenset(['auth_data'])

# DATA dump keys (left of " = ") that hold credentials, compared lowercased.
SECRET_DATA_KEYS = ('password', 'auth_data', 'auth pass')

_SECTION_RE = re.compile(r'^-+<\s*(?P<name>.+?)\s*>-+$')
_COUNT_SUFFIX_RE = re.compile(r'\s*\(\d+\)$')
_VERSION_RE = re.compile(r'Keepalived v(?P<version>\d+(?:\.\d+)*)')


class DumpError(Exception):
    """keepalived did not produce a usable dump."""


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def state_name(value):
    """Return keepalived's state as a name: 2 -> MASTER, 'backup' -> BACKUP."""
    if value is None:
        return 'UNKNOWN'
    if isinstance(value, bool):
        return 'UNKNOWN'
    if isinstance(value, int):
        return STATE_NAMES.get(value, 'UNKNOWN')
    text = str(value).strip()
    if text.isdigit():
        return STATE_NAMES.get(int(text), 'UNKNOWN')
    return text.upper() or 'UNKNOWN'


def drop_secrets(value):
    """Return a copy of ``value`` without any key listed in SECRET_KEYS."""
    if isinstance(value, dict):
        return dict(
            (key, drop_secrets(item)) for key, item in value.items() if key not in SECRET_KEYS
        )
    if isinstance(value, list):
        return [drop_secrets(item) for item in value]
    return value


def _to_int(value, default=None):
    try:
        return int(str(value).strip().split()[0])
    except (IndexError, TypeError, ValueError):
        return default


def normalize_address(text):
    """'192.168.1.10/24' -> ('192.168.1.10', 24); bare addresses get the host prefix.

    Raises ValueError for text that is not an IP address.
    """
    address, _sep, prefix = str(text).strip().partition('/')
    ip = ipaddress.ip_address(address)
    if prefix:
        length = int(prefix)
        if length < 0 or length > ip.max_prefixlen:
            raise ValueError('prefix length out of range: %s' % text)
    else:
        length = ip.max_prefixlen
    return str(ip), length


def parse_vip(entry):
    """Parse one VIP line as keepalived prints it in both dumps.

    '192.168.158.101/24 dev eth0 scope global label eth0:vip2 set' ->
    {'address': '192.168.158.101', 'prefix': 24, 'cidr': '192.168.158.101/24',
     'interface': 'eth0', 'label': 'eth0:vip2'}
    """
    tokens = str(entry).split()
    if not tokens:
        raise ValueError('empty VIP entry')
    address, prefix = normalize_address(tokens[0])
    attrs = {}
    rest = tokens[1:]
    index = 0
    while index < len(rest):
        if rest[index] in ('dev', 'label', 'scope', 'brd') and index + 1 < len(rest):
            attrs[rest[index]] = rest[index + 1]
            index += 2
        else:
            index += 1
    return {
        'address': address,
        'prefix': prefix,
        'cidr': '%s/%d' % (address, prefix),
        'interface': attrs.get('dev'),
        'label': attrs.get('label'),
    }


def _parse_vips(entries):
    vips = []
    for entry in entries or []:
        try:
            vips.append(parse_vip(entry))
        except ValueError:
            continue
    return vips


def parse_version(text):
    """'Keepalived v2.2.7 (01/16,2022)' -> '2.2.7' (None when absent)."""
    match = _VERSION_RE.search(text or '')
    return match.group('version') if match else None


# ---------------------------------------------------------------------------
# JSON dump
# ---------------------------------------------------------------------------

def parse_json_dump(text):
    """Parse keepalived.json into a list of instance dicts (no secrets).

    Raises DumpError when the text is not the expected list of instances.
    """
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise DumpError('keepalived JSON dump is not valid JSON: %s' % exc)
    if not isinstance(raw, list):
        raise DumpError('keepalived JSON dump is not a list of instances')
    raw = drop_secrets(raw)
    instances = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get('data'), dict):
            raise DumpError('keepalived JSON dump holds an entry without "data"')
        data = item['data']
        vips = _parse_vips(data.get('vips'))
        excluded = _parse_vips(data.get('evips'))
        instances.append({
            'name': data.get('iname'),
            'vrid': data.get('vrid'),
            'state': state_name(data.get('state')),
            'wanted_state': state_name(data.get('wantstate')),
            'vrrp_version': data.get('version'),
            'interface': data.get('ifp_ifname'),
            'base_priority': data.get('base_priority'),
            'effective_priority': data.get('effective_priority'),
            'master_priority': data.get('master_priority'),
            'last_transition': data.get('last_transition'),
            'vips': [vip['cidr'] for vip in vips + excluded],
            'excluded_vips': [vip['cidr'] for vip in excluded],
            'track_scripts': [
                {'name': None, 'weight': None, 'status': 'UNKNOWN', 'command': command}
                for command in data.get('track_script') or []
            ],
            'stats': item.get('stats') if isinstance(item.get('stats'), dict) else {},
        })
    return instances


def is_complete_json(text):
    """True when TEXT is a whole JSON document (a dump keepalived has finished writing)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------
# DATA dump
# ---------------------------------------------------------------------------

def _is_secret_key(key):
    lowered = key.strip().lower()
    return any(lowered.startswith(secret) for secret in SECRET_DATA_KEYS)


def split_sections(text):
    """Split the DATA dump into {section title: [lines]}; password lines dropped."""
    sections = {}
    current = None
    for line in (text or '').splitlines():
        stripped = line.strip()
        match = _SECTION_RE.match(stripped)
        if match:
            current = sections.setdefault(match.group('name'), [])
            continue
        if current is None:
            continue
        if ' = ' in stripped and _is_secret_key(stripped.split(' = ', 1)[0]):
            continue
        current.append(line.rstrip())
    return sections


def parse_blocks(lines, header):
    """Group a section's lines into blocks that start with ' HEADER = NAME'.

    Each block is {'name', 'fields': {key: value}, 'lists': {key: [lines]}}.
    Lines 'Key = value' at the block's first level become fields; a line
    ending in ':' (optionally 'Key (2):') opens a list that collects the more
    deeply indented lines after it.
    """
    blocks = []
    block = None
    list_key = None
    list_indent = None
    prefix = header + ' = '
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(' '))
        stripped = line.strip()
        if stripped.startswith(prefix) and (block is None or indent <= block['indent']):
            block = {'name': stripped[len(prefix):].strip(), 'indent': indent,
                     'fields': {}, 'lists': {}}
            blocks.append(block)
            list_key = None
            continue
        if block is None or indent <= block['indent']:
            continue
        if list_key is not None and indent > list_indent:
            block['lists'][list_key].append(stripped)
            continue
        list_key = None
        if ' = ' in stripped:
            key, value = stripped.split(' = ', 1)
            block['fields'].setdefault(key.strip(), value.strip())
        elif stripped.endswith(':'):
            list_key = _COUNT_SUFFIX_RE.sub('', stripped[:-1].strip()).strip()
            list_indent = indent
            block['lists'][list_key] = []
    for block in blocks:
        del block['indent']
    return blocks


def _parse_tracked(lines):
    """'chk_down weight -30' -> {'name': 'chk_down', 'weight': -30}."""
    tracked = []
    for entry in lines:
        tokens = entry.replace(',', ' ').split()
        if not tokens:
            continue
        weight = None
        if 'weight' in tokens:
            position = tokens.index('weight')
            if position + 1 < len(tokens):
                weight = _to_int(tokens[position + 1])
        tracked.append({'name': tokens[0], 'weight': weight})
    return tracked


def parse_data_dump(text):
    """Parse keepalived.data into {'instances': [...], 'scripts': {...}}."""
    sections = split_sections(text)
    if 'VRRP Topology' not in sections and 'VRRP Scripts' not in sections:
        raise DumpError('keepalived DATA dump has no VRRP sections')
    scripts = {}
    for block in parse_blocks(sections.get('VRRP Scripts', []), 'VRRP Script'):
        fields = block['fields']
        scripts[block['name']] = {
            'status': (fields.get('Status') or 'UNKNOWN').upper(),
            'command': fields.get('Command'),
            'weight': _to_int(fields.get('Weight')),
            'interval': _to_int(fields.get('Interval')),
            'rise': _to_int(fields.get('Rise')),
            'fall': _to_int(fields.get('Fall')),
        }
    instances = []
    for block in parse_blocks(sections.get('VRRP Topology', []), 'VRRP Instance'):
        fields = block['fields']
        lists = block['lists']
        vips = _parse_vips(lists.get('Virtual IP'))
        excluded = _parse_vips(lists.get('Virtual IP Excluded'))
        tracked = []
        for entry in _parse_tracked(lists.get('Tracked scripts', [])):
            script = scripts.get(entry['name'], {})
            tracked.append({
                'name': entry['name'],
                'weight': entry['weight'],
                'status': script.get('status', 'UNKNOWN'),
                'command': script.get('command'),
            })
        instances.append({
            'name': block['name'],
            'vrid': _to_int(fields.get('Virtual Router ID')),
            'state': state_name(fields.get('State')),
            'wanted_state': state_name(fields.get('Wantstate')),
            'vrrp_version': _to_int(fields.get('VRRP Version')),
            'interface': fields.get('Interface'),
            'base_priority': _to_int(fields.get('Priority')),
            'effective_priority': _to_int(fields.get('Effective priority')),
            'master_priority': _to_int(fields.get('Master priority'), 0),
            'last_transition': _last_transition(fields.get('Last transition')),
            'vips': [vip['cidr'] for vip in vips + excluded],
            'excluded_vips': [vip['cidr'] for vip in excluded],
            'track_scripts': tracked,
            'stats': {},
        })
    return {'instances': instances, 'scripts': scripts}


def _last_transition(value):
    try:
        return float(str(value).split()[0])
    except (IndexError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Kernel addresses
# ---------------------------------------------------------------------------

def parse_ip_json(text):
    """Parse ``ip -j addr`` into [{'interface', 'address', 'prefix', 'cidr', 'label'}]."""
    try:
        links = json.loads(text)
    except ValueError as exc:
        raise ValueError('ip -j addr output is not JSON: %s' % exc)
    addresses = []
    for link in links if isinstance(links, list) else []:
        for info in link.get('addr_info') or []:
            if info.get('family') not in ('inet', 'inet6') or 'local' not in info:
                continue
            address, prefix = normalize_address(
                '%s/%s' % (info['local'], info.get('prefixlen', '')) if 'prefixlen' in info
                else info['local'])
            addresses.append({
                'interface': link.get('ifname'),
                'address': address,
                'prefix': prefix,
                'cidr': '%s/%d' % (address, prefix),
                'label': info.get('label'),
            })
    return addresses


def parse_ip_oneline(text):
    """Parse ``ip -o addr`` (for iproute2 without JSON) like parse_ip_json."""
    addresses = []
    for line in (text or '').splitlines():
        tokens = line.split()
        if len(tokens) < 4 or tokens[2] not in ('inet', 'inet6'):
            continue
        try:
            address, prefix = normalize_address(tokens[3])
        except ValueError:
            continue
        label = None
        if tokens[2] == 'inet':
            before_lifetimes = line.split('\\')[0].split()
            if before_lifetimes and before_lifetimes[-1] != tokens[3]:
                label = before_lifetimes[-1]
        addresses.append({
            'interface': tokens[1].rstrip(':').split('@')[0],
            'address': address,
            'prefix': prefix,
            'cidr': '%s/%d' % (address, prefix),
            'label': label,
        })
    return addresses


def address_set(addresses):
    """The plain addresses (no prefix) from a list built by parse_ip_*."""
    return set(entry['address'] for entry in addresses)


def vip_address(vip):
    """'192.168.158.100/24' -> '192.168.158.100' (normalized)."""
    return normalize_address(vip)[0]


# ---------------------------------------------------------------------------
# Putting the pieces together
# ---------------------------------------------------------------------------

def merge_instances(json_instances, data):
    """Prefer JSON for instance facts; take script names and results from DATA."""
    data_instances = dict((inst['name'], inst) for inst in (data or {}).get('instances', []))
    if json_instances is None:
        return [dict(inst) for inst in (data or {}).get('instances', [])]
    merged = []
    for inst in json_instances:
        combined = dict(inst)
        from_data = data_instances.get(inst['name'])
        if from_data is not None and from_data['track_scripts']:
            combined['track_scripts'] = from_data['track_scripts']
        merged.append(combined)
    return merged


def is_holder(instances, vips_held):
    """Whether a host counts as a VIP holder, the one rule of every rollout order (changes reach the
    holders last): one of its instances is MASTER, or one of their VIPs is on its interfaces."""
    return bool(vips_held) or any(inst.get('state') == 'MASTER' for inst in instances)


def build_status(running, pid=None, instances=None, scripts=None, addresses=None,
                 version=None, sources=None, message=None):
    """Assemble the result dict both modules return."""
    addresses = addresses or []
    held = address_set(addresses)
    by_name = {}
    vips_held = []
    for inst in instances or []:
        inst = dict(inst)
        inst['vips_present'] = [vip for vip in inst['vips'] if vip_address(vip) in held]
        for vip in inst['vips_present']:
            if vip not in vips_held:
                vips_held.append(vip)
        by_name[inst['name']] = inst
    return {
        'running': bool(running),
        'pid': pid,
        'version': version,
        'sources': list(sources or []),
        'instances': by_name,
        'scripts': dict(scripts or {}),
        'vips_held': sorted(vips_held),
        'holder': is_holder(by_name.values(), vips_held),
        'addresses': [dict(entry) for entry in addresses],
        'msg': message or (
            'keepalived is running' if running else 'keepalived is not running'),
    }
