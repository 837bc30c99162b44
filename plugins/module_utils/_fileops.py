# -*- coding: utf-8 -*-
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files on the host: look at a path, compare it, write it atomically, show a change safely.

Private to the collection. The generic layer under the modules that write
files (keepalived_config through _config_apply, keepalived_files through
_files, the down file of keepalived_maintenance): it knows nothing about
keepalived and imports no other module_utils file, so each of them builds on
it instead of on one another.

Pure helpers (``parse_mode``, ``differences``, ``attribute_reasons``,
``is_private``, ``mode_header``, ``shown``) take plain values; the others do
the file system work and raise OSError as the os module does.
"""

from __future__ import annotations

import collections
import contextlib
import grp
import os
import pwd
import shutil
import stat
import tempfile


class FileError(Exception):
    """A problem with the module's input or the host, reported as a failure."""


# What is at a path: kind is 'absent', 'file', 'directory', 'link' or
# 'other'; content is bytes for a regular file, None otherwise; mode is the
# permission bits; uid and gid the owner (None when absent).
Found = collections.namedtuple('Found', ['kind', 'content', 'mode', 'uid', 'gid'])
ABSENT = Found('absent', None, None, None, None)


def to_bytes(text):
    """Encode TEXT as UTF-8 (bytes are passed through)."""
    if isinstance(text, bytes):
        return text
    return str(text).encode('utf-8', 'surrogateescape')


def to_text(data):
    """Decode DATA for display; undecodable bytes are replaced."""
    if isinstance(data, str):
        return data
    return data.decode('utf-8', 'replace')


def parse_mode(mode, path):
    """Return the permission bits of MODE, an octal string such as '0644'."""
    text = str(mode)
    try:
        value = int(text, 8)
    except ValueError:
        raise FileError('%s: mode %r is not an octal number such as "0644"' % (path, text)) from None
    if not 0 <= value <= 0o7777:
        raise FileError('%s: mode %r is outside 0000..7777' % (path, text))
    return value


def resolve_owner(owner, group):
    """Return (uid, gid) for OWNER and GROUP names or numbers; None stays None."""
    uid = gid = None
    if owner is not None:
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise FileError('owner %r does not exist on this host' % owner) from None
    if group is not None:
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise FileError('group %r does not exist on this host' % group) from None
    return uid, gid


# ---------------------------------------------------------------------------
# Looking and comparing
# ---------------------------------------------------------------------------

def inspect(path):
    """Return a Found for PATH (symbolic links are not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        with open(path, 'rb') as handle:
            return Found('file', handle.read(), mode, st.st_uid, st.st_gid)
    if stat.S_ISDIR(st.st_mode):
        kind = 'directory'
    elif stat.S_ISLNK(st.st_mode):
        kind = 'link'
    else:
        kind = 'other'
    return Found(kind, None, mode, st.st_uid, st.st_gid)


def list_dir(path):
    """Return the sorted entry names of directory PATH ([] if missing)."""
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def attribute_reasons(found, mode, uid=None, gid=None):
    """Return ['mode'] and/or ['owner'] where FOUND differs; a None uid or gid is not compared."""
    reasons = []
    if found.mode != mode:
        reasons.append('mode')
    if (uid is not None and found.uid != uid) or (gid is not None and found.gid != gid):
        reasons.append('owner')
    return reasons


def differences(found, content, mode, uid=None, gid=None):
    """Return why FOUND (a Found or None) is not a regular file with CONTENT, MODE and owner.

    ['missing'], ['not a regular file'], or any of 'content', 'mode' and
    'owner' in that order; an empty list means the file is as wanted.
    """
    if found is None or found.kind == 'absent':
        return ['missing']
    if found.kind != 'file':
        return ['not a regular file']
    reasons = ['content'] if found.content != content else []
    return reasons + attribute_reasons(found, mode, uid, gid)


# ---------------------------------------------------------------------------
# Showing a change
# ---------------------------------------------------------------------------

def is_private(mode):
    """Return True if permission bits MODE let nobody but the owner in (no group or other bits)."""
    return mode is not None and mode & 0o077 == 0


def mode_header(path, mode):
    """A diff header that shows PATH's permission bits: '/etc/x (mode 0644)'."""
    return '%s (mode %04o)' % (path, mode)


def shown(content, hidden, placeholder):
    """Return CONTENT as text for a diff, or PLACEHOLDER where it must stay hidden."""
    return placeholder if hidden else to_text(content)


# ---------------------------------------------------------------------------
# Changing
# ---------------------------------------------------------------------------

def _ids(uid, gid):
    return -1 if uid is None else uid, -1 if gid is None else gid


def _write_temp(full, content, mode, uid=None, gid=None):
    """CONTENT in a new temporary file beside FULL, with MODE and the owner, flushed to disk; its path.

    Created with mode 0600 and given its final mode and owner before it is renamed; removed again if
    anything fails (a full file system, a quota), so that nothing of it is left.
    """
    directory = os.path.dirname(full) or '.'
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(full) + '.')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), *_ids(uid, gid))
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write(full, content, mode, uid=None, gid=None):
    """Replace FULL with CONTENT atomically.

    The temporary file is created in the same directory with mode 0600, gets
    its final mode and owner, is flushed to disk and renamed over FULL; the
    directory is then synced so the rename survives a crash.
    """
    atomic_write_all([(full, content, mode, uid, gid)])


def atomic_write_all(items):
    """Replace several files, all or none of them: ITEMS are (full, content, mode, uid, gid).

    Every new content is first written to a temporary file beside its target; only when all of them
    are written are they renamed over their targets, one rename each, and the directories synced. A
    failure while writing (a full file system, a quota) removes the temporary files and leaves every
    target as it was, so a set of files that belong together is never half new.
    """
    temps = []
    try:
        for full, content, mode, uid, gid in items:
            temps.append((_write_temp(full, content, mode, uid, gid), full))
    except BaseException:
        for tmp, _full in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for tmp, full in temps:
        os.replace(tmp, full)
    for directory in sorted({os.path.dirname(full) or '.' for _tmp, full in temps}):
        fsync_dir(directory)


def fsync_dir(directory):
    """Flush DIRECTORY's entries to disk (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dir(path, mode, uid=None, gid=None):
    """Create directory PATH and its missing parents; PATH gets MODE and the owner."""
    os.makedirs(path, mode)
    os.chmod(path, mode)
    os.chown(path, *_ids(uid, gid))


def set_attributes(path, mode, uid=None, gid=None):
    """Give PATH (not followed if a link) the owner and then the permission bits MODE."""
    os.chown(path, *_ids(uid, gid), follow_symlinks=False)
    os.chmod(path, mode)


def remove(path):
    """Remove file or link PATH and sync its directory."""
    os.unlink(path)
    fsync_dir(os.path.dirname(path))


@contextlib.contextmanager
def private_dir(prefix):
    """A temporary directory only its owner can enter (mode 0700), removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
