# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables of cases for the generic file layer under keepalived_config and keepalived_files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _fileops as fo

F = fo.Found


@pytest.mark.parametrize('mode, value', [
    ('0644', 0o644), ('644', 0o644), ('0600', 0o600), ('0', 0), ('7777', 0o7777), (644, 0o644),
])
def test_parse_mode(mode, value):
    assert fo.parse_mode(mode, '/x') == value


@pytest.mark.parametrize('mode, message', [
    ('0999', 'not an octal number'), ('rw-r--r--', 'not an octal number'), ('17777', 'outside 0000..7777'),
])
def test_parse_mode_refuses(mode, message):
    with pytest.raises(fo.FileError, match=message.replace('.', r'\.')):
        fo.parse_mode(mode, '/x')


@pytest.mark.parametrize('owner, group, expected', [
    ('root', 'root', (0, 0)),
    ('0', '0', (0, 0)),
    ('1234', '4321', (1234, 4321)),
    (None, None, (None, None)),
])
def test_resolve_owner(owner, group, expected):
    assert fo.resolve_owner(owner, group) == expected


@pytest.mark.parametrize('owner, group, message', [
    ('no-such-user-here', None, 'owner'),
    (None, 'no-such-group-here', 'group'),
])
def test_resolve_owner_unknown(owner, group, message):
    with pytest.raises(fo.FileError, match=message):
        fo.resolve_owner(owner, group)


@pytest.mark.parametrize('value, as_bytes, as_text', [
    ('caf\u00e9', b'caf\xc3\xa9', 'caf\u00e9'),
    (b'\xff', b'\xff', '\ufffd'),
    ('', b'', ''),
])
def test_to_bytes_and_text(value, as_bytes, as_text):
    assert fo.to_bytes(value) == as_bytes
    assert fo.to_text(fo.to_bytes(value)) == as_text


@pytest.mark.parametrize('found, mode, uid, gid, expected', [
    (F('file', b'x', 0o644, 0, 0), 0o644, 0, 0, []),
    (F('file', b'x', 0o600, 0, 0), 0o644, 0, 0, ['mode']),
    (F('file', b'x', 0o644, 5, 0), 0o644, 0, 0, ['owner']),
    (F('file', b'x', 0o644, 0, 5), 0o644, 0, 0, ['owner']),
    (F('file', b'x', 0o644, 5, 5), 0o644, None, None, []),
    (F('directory', None, 0o700, 5, 0), 0o755, 0, 0, ['mode', 'owner']),
])
def test_attribute_reasons(found, mode, uid, gid, expected):
    assert fo.attribute_reasons(found, mode, uid, gid) == expected


@pytest.mark.parametrize('found, expected', [
    (None, ['missing']),
    (fo.ABSENT, ['missing']),
    (F('link', None, 0o777, 0, 0), ['not a regular file']),
    (F('directory', None, 0o755, 0, 0), ['not a regular file']),
    (F('file', b'x', 0o644, 0, 0), []),
    (F('file', b'y', 0o644, 0, 0), ['content']),
    (F('file', b'y', 0o640, 5, 0), ['content', 'mode', 'owner']),
])
def test_differences(found, expected):
    assert fo.differences(found, b'x', 0o644, 0, 0) == expected


@pytest.mark.parametrize('mode, private', [
    (0o600, True), (0o700, True), (0o400, True), (0o000, True),
    (0o640, False), (0o604, False), (0o644, False), (None, False),
])
def test_is_private(mode, private):
    assert fo.is_private(mode) is private


@pytest.mark.parametrize('content, hidden, expected', [
    (b'pw=1\n', True, '(hidden)\n'),
    (b'plain\n', False, 'plain\n'),
    ('text\n', False, 'text\n'),
])
def test_shown(content, hidden, expected):
    assert fo.shown(content, hidden, '(hidden)\n') == expected
    assert fo.mode_header('/etc/x', 0o640) == '/etc/x (mode 0640)'


@pytest.mark.parametrize('make, kind, content', [
    (None, 'absent', None),
    (lambda p: p.write_bytes(b'data\n'), 'file', b'data\n'),
    (lambda p: p.mkdir(), 'directory', None),
    (lambda p: p.symlink_to('/etc/hostname'), 'link', None),
    (lambda p: os.mkfifo(str(p)), 'other', None),
])
def test_inspect(tmp_path, make, kind, content):
    target = tmp_path / 'thing'
    if make:
        make(target)
    found = fo.inspect(str(target))
    assert (found.kind, found.content) == (kind, content)
    if make:
        assert (found.mode, found.uid) == (stat.S_IMODE(os.lstat(str(target)).st_mode), os.getuid())


@pytest.mark.parametrize('existing, mode', [
    (None, 0o600),
    (b'old content that is longer\n', 0o644),
    (b'', 0o600),
])
def test_atomic_write(tmp_path, existing, mode):
    target = tmp_path / 'a.conf'
    if existing is not None:
        target.write_bytes(existing)
        target.chmod(0o666)
    fo.atomic_write(str(target), b'new\n', mode, os.getuid(), os.getgid())
    assert target.read_bytes() == b'new\n'
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert os.listdir(tmp_path) == ['a.conf']


def test_atomic_write_failure_leaves_target(tmp_path):
    target = tmp_path / 'a.conf'
    target.write_bytes(b'keep\n')
    with pytest.raises(TypeError):
        fo.atomic_write(str(target), 'not bytes', 0o644)
    assert target.read_bytes() == b'keep\n'
    assert os.listdir(tmp_path) == ['a.conf']


# In a child process whose files may not grow past argv[2] bytes (RLIMIT_FSIZE: the kernel refuses the write
# with EFBIG, as a full file system refuses it with ENOSPC), atomic_write_all of the items in argv[1].
WRITE_ALL_UNDER_A_LIMIT = r"""
import json, resource, signal, sys
from ansible_collections.failover.keepalived.plugins.module_utils import _fileops
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
items = [(full, content.encode(), 0o644, None, None) for full, content in json.loads(sys.argv[1])]
try:
    _fileops.atomic_write_all(items)
except OSError as exc:
    print(exc.strerror)
"""


@pytest.mark.parametrize('sizes, refused', [
    ((10, 10, 10), False),
    ((5000, 10, 10), True),
    ((10, 5000, 10), True),
    ((10, 10, 5000), True),
], ids=['all fit', 'the first too big', 'the second too big', 'the last too big'])
def test_atomic_write_all_is_all_or_none(tmp_path, sizes, refused):
    targets = [tmp_path / name for name in ('keepalived.conf', 'a.conf', 'b.conf')]
    for target in targets:
        target.write_bytes(b'old\n')
    items = [(str(target), 'x' * size) for target, size in zip(targets, sizes)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', WRITE_ALL_UNDER_A_LIMIT, json.dumps(items), '1000'],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == ('File too large' if refused else '')
    expected = [b'old\n'] * 3 if refused else [b'x' * size for size in sizes]
    assert [target.read_bytes() for target in targets] == expected
    assert sorted(os.listdir(tmp_path)) == sorted(target.name for target in targets)


def test_make_dir_set_attributes_remove(tmp_path):
    deep = tmp_path / 'a' / 'b'
    fo.make_dir(str(deep), 0o750)
    assert stat.S_IMODE(deep.stat().st_mode) == 0o750
    (deep / 'f').write_text('x')
    fo.set_attributes(str(deep / 'f'), 0o600, os.getuid(), None)
    assert stat.S_IMODE((deep / 'f').stat().st_mode) == 0o600
    fo.remove(str(deep / 'f'))
    assert fo.list_dir(str(deep)) == [] and fo.list_dir(str(tmp_path / 'missing')) == []


def test_private_dir_is_private_and_removed():
    with fo.private_dir('fileops-test.') as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert not os.path.exists(path)
