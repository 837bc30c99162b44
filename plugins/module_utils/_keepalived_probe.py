# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the running keepalived for its state: signals, the dumps it writes, ``ip addr``.

Private to the failover.keepalived collection (leading underscore). All the
I/O of a reading is here, and all of it goes through what ``KeepalivedProbe``
is given: commands through ``run_command`` (AnsibleModule.run_command's
signature, as linux-system-roles/ha_cluster's loader takes its runner),
signals through ``kill``, time through ``clock`` and ``sleep``, and the
process's files under ``proc``. Tests hand it a fake of each and a table of
cases. What the texts mean is _keepalived_parse's business.

The dumps are written by keepalived into its TMPDIR (``/tmp`` unless the unit
sets TMPDIR).  They are read through ``/proc/PID/root`` so that a private
/tmp (systemd ``PrivateTmp=yes``) is seen from keepalived's side.
"""

from __future__ import annotations

import os
import time

from ._keepalived_parse import (
    DumpError,
    build_status,
    is_complete_json,
    merge_instances,
    parse_data_dump,
    parse_ip_json,
    parse_ip_oneline,
    parse_json_dump,
    parse_version,
)

JSON_DUMP = 'keepalived.json'
DATA_DUMP = 'keepalived.data'


def tmpdir_of(environ):
    """keepalived's TMPDIR from the raw bytes of /proc/PID/environ ('/tmp' unless set absolute)."""
    tmpdir = '/tmp'
    for item in (environ or b'').split(b'\0'):
        if item.startswith(b'TMPDIR='):
            value = item[len(b'TMPDIR='):].decode('utf-8', 'replace')
            if value.startswith('/'):
                tmpdir = value
    return tmpdir


def is_fresh(key, before):
    """True when a dump file's KEY (inode, mtime, size; None: missing) is new since BEFORE and not empty."""
    return key is not None and key != before and key[2] > 0


def _file_key(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class KeepalivedProbe:
    """Ask the running keepalived for its state and read the kernel's addresses.

    ``run_command`` has the signature of AnsibleModule.run_command (argv ->
    rc, stdout, stderr); ``kill`` that of os.kill; ``clock`` and ``sleep``
    time the wait for a dump; ``proc`` is where the process table is.
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

    def command_line(self):
        """The running keepalived's command line (program and arguments, from /proc), or None when it is not running."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            with open(os.path.join(self.proc, str(pid), 'cmdline'), 'rb') as handle:
                words = handle.read().split(b'\0')
        except OSError:
            return None
        return [word.decode('utf-8', 'replace') for word in words if word]

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
        try:
            with open(os.path.join(self.proc, str(pid), 'environ'), 'rb') as handle:
                tmpdir = tmpdir_of(handle.read())
        except OSError:
            tmpdir = '/tmp'
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
                fresh = is_fresh(key, entry['before'])
                if fresh and key == entry['last']:
                    text = self._read(entry['path'])
                    if text is not None and (kind != 'JSON' or is_complete_json(text)):
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
