# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live state of keepalived: its dumps, the kernel's addresses, and waiting.

Private to the failover.keepalived collection (leading underscore): the
keepalived_status and keepalived_maintenance modules are its only users.
Nothing here imports AnsibleModule.  The parsers are pure functions; the
``KeepalivedProbe`` class does the little I/O there is (signal keepalived,
read the dump it writes, run ``ip``) through a ``run_command`` callable so
that tests can replace it.

Sources, as measured on keepalived 2.2.7 (Debian 12) and 2.3.3 (Debian 13):

* JSON dump (``keepalived --signum=JSON``): one object per VRRP instance with
  ``data`` (iname, vrid, numeric state, priorities, vips, evips, the commands
  of its track scripts, and ``auth_data`` - the VRRP password in clear) and
  ``stats``.  It carries neither script names nor script results.
* DATA dump (``keepalived --signum=DATA``): indented text.  The only place
  with per-script ``Status = GOOD|BAD`` and the names and weights of the
  scripts each instance tracks.  It prints the password too (``Password =``).

Both are written by keepalived into its TMPDIR (``/tmp`` unless the unit sets
TMPDIR).  They are read through ``/proc/PID/root`` so that a private /tmp
(systemd ``PrivateTmp=yes``) is seen from keepalived's side.

Secrets never leave the parsers: ``auth_data`` is dropped from the JSON and
password lines from the DATA text before anything else looks at them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time

# keepalived's numeric VRRP states (vrrp.h): RFC states plus its own.
STATE_NAMES = {
    0: 'INIT',
    1: 'BACKUP',
    2: 'MASTER',
    3: 'FAULT',
    97: 'DELETED',
    98: 'STOP',
}

# States a caller may wait for.
WAITABLE_STATES = ('MASTER', 'BACKUP', 'FAULT', 'INIT', 'STOP')

# JSON keys that hold credentials; removed at any depth.
SECRET_KEYS = frozenset(['auth_data'])

# DATA dump keys (left of " = ") that hold credentials, compared lowercased.
SECRET_DATA_KEYS = ('password', 'auth_data', 'auth pass')

JSON_DUMP = 'keepalived.json'
DATA_DUMP = 'keepalived.data'

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
        'addresses': [dict(entry) for entry in addresses],
        'msg': message or (
            'keepalived is running' if running else 'keepalived is not running'),
    }


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


# ---------------------------------------------------------------------------
# I/O: signals, dump files, ip
# ---------------------------------------------------------------------------

def _file_key(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class KeepalivedProbe:
    """Ask the running keepalived for its state and read the kernel's addresses.

    ``run_command`` has the signature of AnsibleModule.run_command.
    """

    def __init__(self, run_command, keepalived_bin='keepalived', ip_bin='ip',
                 pid_file='/run/keepalived.pid', dump_timeout=5.0, proc='/proc',
                 clock=time.monotonic, sleep=time.sleep, kill=os.kill):
        self.run_command = run_command
        self.keepalived_bin = keepalived_bin
        self.ip_bin = ip_bin
        self.pid_file = pid_file
        self.dump_timeout = dump_timeout
        self.proc = proc
        self.clock = clock
        self.sleep = sleep
        self.kill = kill
        self._signums = {}
        self._version = None

    # -- process -----------------------------------------------------------

    def pid(self):
        """keepalived's main PID, or None when it is not running."""
        try:
            with open(self.pid_file) as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return None
        try:
            with open(os.path.join(self.proc, str(pid), 'comm')) as handle:
                comm = handle.read().strip()
        except OSError:
            return None
        return pid if comm.startswith('keepalived') else None

    def version(self):
        if self._version is None and self.keepalived_bin:
            rc, out, err = self.run_command([self.keepalived_bin, '--version'])
            self._version = parse_version((out or '') + (err or '')) or ''
        return self._version or None

    def signum(self, kind):
        """Signal number keepalived uses for a dump kind (JSON, DATA); None if unsupported."""
        if kind not in self._signums:
            number = None
            if self.keepalived_bin:
                rc, out, _err = self.run_command([self.keepalived_bin, '--signum=%s' % kind])
                if rc == 0 and (out or '').strip().isdigit():
                    number = int(out.strip())
            self._signums[kind] = number
        return self._signums[kind]

    def dump_dir(self, pid):
        """Where keepalived writes its dumps, seen through its own mount namespace."""
        tmpdir = '/tmp'
        try:
            with open(os.path.join(self.proc, str(pid), 'environ'), 'rb') as handle:
                for item in handle.read().split(b'\0'):
                    if item.startswith(b'TMPDIR='):
                        value = item[len(b'TMPDIR='):].decode('utf-8', 'replace')
                        if value.startswith('/'):
                            tmpdir = value
        except OSError:
            pass
        root = os.path.join(self.proc, str(pid), 'root')
        through_root = os.path.join(root, tmpdir.lstrip('/'))
        if os.path.isdir(through_root):
            return through_root
        return tmpdir

    # -- dumps -------------------------------------------------------------

    def request_dumps(self, pid, kinds=(('JSON', JSON_DUMP), ('DATA', DATA_DUMP))):
        """Signal keepalived for each dump kind and return {kind: text}.

        The old file, if any, is left alone: its inode, mtime and size are
        noted before signalling and only a file that differs from that and
        has stopped growing counts as fresh.  Kinds keepalived does not
        support are skipped; DumpError if none arrives in time.
        """
        directory = self.dump_dir(pid)
        pending = {}
        for kind, name in kinds:
            number = self.signum(kind)
            if number is None:
                continue
            path = os.path.join(directory, name)
            pending[kind] = {'path': path, 'before': _file_key(path), 'last': None}
        if not pending:
            raise DumpError('keepalived (%s) cannot tell its dump signals (--signum)'
                            % (self.keepalived_bin or 'binary not found'))
        for kind in pending:
            try:
                self.kill(pid, self._signums[kind])
            except OSError as exc:
                hint = ' (run as root: become: true)' if isinstance(exc, PermissionError) else ''
                raise DumpError('cannot signal keepalived (pid %s): %s%s' % (pid, exc, hint))
        texts = {}
        deadline = self.clock() + self.dump_timeout
        while pending:
            for kind in list(pending):
                entry = pending[kind]
                key = _file_key(entry['path'])
                fresh = key is not None and key != entry['before'] and key[2] > 0
                if fresh and key == entry['last']:
                    text = self._read(entry['path'])
                    if text is not None and (kind != 'JSON' or _complete_json(text)):
                        texts[kind] = text
                        del pending[kind]
                        continue
                entry['last'] = key if fresh else None
            if not pending:
                break
            if self.clock() >= deadline:
                raise DumpError('keepalived wrote no fresh %s within %ss (looked in %s)' % (
                    ' and '.join(sorted(pending)), self.dump_timeout, directory))
            self.sleep(0.1)
        return texts

    @staticmethod
    def _read(path):
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                return handle.read()
        except OSError:
            return None

    # -- addresses ---------------------------------------------------------

    def addresses(self):
        rc, out, _err = self.run_command([self.ip_bin, '-j', 'addr', 'show'])
        if rc == 0:
            try:
                return parse_ip_json(out)
            except ValueError:
                pass
        rc, out, err = self.run_command([self.ip_bin, '-o', 'addr', 'show'])
        if rc != 0:
            raise DumpError('ip addr failed: %s' % (err or out).strip())
        return parse_ip_oneline(out)

    # -- everything --------------------------------------------------------

    def status(self):
        """One full reading: keepalived's instances and scripts plus addresses."""
        pid = self.pid()
        if pid is None:
            return build_status(
                False, addresses=self.addresses(), version=self.version(),
                message='keepalived is not running (no live process for %s)' % self.pid_file)
        texts = self.request_dumps(pid)
        json_instances = parse_json_dump(texts['JSON']) if 'JSON' in texts else None
        data = parse_data_dump(texts['DATA']) if 'DATA' in texts else None
        return build_status(
            True, pid=pid,
            instances=merge_instances(json_instances, data),
            scripts=(data or {}).get('scripts'),
            addresses=self.addresses(),
            version=self.version(),
            sources=[kind.lower() for kind in ('JSON', 'DATA') if kind in texts],
        )

    def vip_status(self):
        """A cheap reading for VIP-only conditions: addresses, no signals."""
        pid = self.pid()
        return build_status(pid is not None, pid=pid, addresses=self.addresses(),
                            sources=['ip'])


def probe_for(module):
    """A KeepalivedProbe for an AnsibleModule with pid_file and dump_timeout options."""
    return KeepalivedProbe(
        module.run_command,
        keepalived_bin=module.get_bin_path('keepalived'),
        ip_bin=module.get_bin_path('ip', required=True),
        pid_file=module.params['pid_file'],
        dump_timeout=module.params['dump_timeout'],
    )


def _complete_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------
# What the modules do
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
    status['msg'] = 'timed out after %.1fs waiting for %s; last seen: %s' % (
        elapsed, describe_goal(**goal), seen)
    return status


def _write_down_file(path, reason):
    directory = os.path.dirname(path) or '.'
    temporary = os.path.join(directory, '.%s.%d.tmp' % (os.path.basename(path), os.getpid()))
    with open(temporary, 'w') as handle:
        handle.write(reason.rstrip('\n') + '\n')
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def run_maintenance(probe, params, check_mode=False):
    """keepalived_maintenance: create or remove the down file, then wait.

    Returns the result dict; it carries ``failed`` and ``msg`` on failure.
    """
    path = params['path']
    drained = params['state'] == 'drained'
    exists = os.path.lexists(path)
    changed = exists != drained
    result = {
        'changed': changed,
        'down_file': path,
        'state': params['state'],
        'elapsed': 0.0,
        'diff': {
            'before': {'path': path, 'state': 'present' if exists else 'absent'},
            'after': {'path': path, 'state': 'present' if drained else 'absent'},
        },
    }
    try:
        before = probe.status()
    except DumpError as exc:
        result.update(failed=True, msg='cannot read keepalived state: %s' % exc)
        return result
    result['running'] = before['running']
    result['vips_before'] = before['vips_held']

    if check_mode:
        result['vips_after'] = before['vips_held']
        result['msg'] = ('would %s %s' % ('create' if drained else 'remove', path)
                         if changed else 'nothing to do')
        return result

    if changed:
        try:
            if drained:
                _write_down_file(path, params.get('reason') or '')
            else:
                os.unlink(path)
            result['changed_at'] = round(time.time(), 3)
        except OSError as exc:
            result.update(failed=True, changed=False,
                          msg='cannot %s %s: %s' % ('create' if drained else 'remove', path, exc))
            return result

    if not params.get('wait', True):
        result['vips_after'] = _vips_now(probe, before) or []
        result['msg'] = 'done, not waiting'
        return result

    if drained:
        watched = list(before['vips_held'])

        def gone(status):
            present = address_set(status['addresses'])
            left = [vip for vip in watched if vip_address(vip) in present]
            return not left, ('still held: %s' % ', '.join(left)) if left else 'all VIPs gone'

        reader = probe.vip_status
        check = gone
        goal = 'VIPs %s to leave this host' % (', '.join(watched) or '(none)')
    else:
        names = list(params.get('wait_for_state') or [])

        def masters(status):
            pending = []
            for name in names:
                inst = status['instances'].get(name) if status['running'] else None
                current = inst['state'] if inst else ('missing' if status['running'] else 'STOP')
                if current != 'MASTER':
                    pending.append('%s %s' % (name, current))
            return not pending, ('; '.join(pending) or 'all MASTER')

        reader = probe.status if names else probe.vip_status
        check = masters
        goal = 'instances %s to be MASTER' % (', '.join(names) or '(none)')

    met, elapsed, status, seen = wait_until(
        reader, check, params['timeout'], params.get('poll_interval', 1.0),
        clock=probe.clock, sleep=probe.sleep)
    result['elapsed'] = elapsed
    result['last_seen'] = seen
    result['vips_after'] = (status or {}).get('vips_held') if reader == probe.status \
        else _vips_now(probe, before, status)
    if not met:
        result['failed'] = True
        result['msg'] = 'timed out after %.1fs waiting for %s; last seen: %s' % (
            elapsed, goal, seen)
        return result
    result['met_at'] = round(time.time(), 3)
    result['msg'] = '%s %s; %s after %.1fs' % (
        'created' if drained and changed else 'removed' if changed else 'kept',
        path, seen, elapsed)
    return result


def _vips_now(probe, before, status=None):
    """The VIPs (known from ``before``) held now, from a cheap address reading."""
    try:
        status = status or probe.vip_status()
    except DumpError:
        return None
    present = address_set(status['addresses'])
    configured = []
    for inst in before['instances'].values():
        configured.extend(inst['vips'])
    return sorted(set(vip for vip in configured if vip_address(vip) in present))
