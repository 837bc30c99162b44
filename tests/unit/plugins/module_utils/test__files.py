# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of keepalived_files: input checks, planning and diffs."""

from __future__ import annotations

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils._fileops import ABSENT, FileError, Found
from ansible_collections.failover.keepalived.plugins.module_utils._files import (
    build_diffs,
    normalize,
    plan,
)


def owners(owner, group):
    """Resolve names without the host's user database: root is 0, anything else 1000."""
    return (0 if owner == 'root' else 1000), (0 if group == 'root' else 1000)


def found_file(content=b'x\n', mode=0o644, uid=0, gid=0):
    return Found('file', content, mode, uid, gid)


@pytest.mark.parametrize('items, message', [
    ([{'path': 'relative/file', 'content': ''}], 'must be absolute'),
    ([{'path': '/etc/x/', 'content': ''}], 'must be absolute and normalised'),
    ([{'path': '/etc/../x', 'content': ''}], 'normalised'),
    ([{'path': '/', 'state': 'directory'}], 'must be absolute'),
    ([{'path': '/etc/x', 'content': ''}, {'path': '/etc/x', 'state': 'absent'}], 'listed twice'),
    ([{'path': '/etc/x'}], 'needs content'),
    ([{'path': '/etc/x', 'state': 'directory', 'content': 'y'}], 'only for state=file'),
    ([{'path': '/etc/x', 'state': 'absent', 'content': 'y'}], 'only for state=file'),
    ([{'path': '/etc/x', 'state': 'link'}], 'state must be one of'),
    ([{'path': '/etc/x', 'content': '', 'mode': '0999'}], 'not an octal number'),
    ([{'path': '/etc/x', 'content': '', 'mode': '17777'}], 'outside 0000..7777'),
    ([{'path': '/etc/x', 'content': '', 'validate': 'visudo -cf'}], 'must contain %s'),
    ([{'path': '/etc/x', 'state': 'directory', 'validate': 'true %s'}], 'validate applies to files'),
])
def test_normalize_refuses(items, message):
    with pytest.raises(FileError, match=message.replace('.', r'\.')):
        normalize(items, owners)


def test_normalize_defaults():
    entries = normalize([
        {'path': '/opt/d', 'state': 'directory'},
        {'path': '/opt/d/f', 'content': 'é\n', 'owner': 'check', 'mode': '0600'},
        {'path': '/opt/old', 'state': 'absent', 'owner': 'root'},
    ], owners)
    assert [(e.path, e.state, e.content, e.uid, e.gid, e.mode) for e in entries] == [
        ('/opt/d', 'directory', None, 0, 0, 0o755),
        ('/opt/d/f', 'file', 'é\n'.encode('utf-8'), 1000, 0, 0o600),
        ('/opt/old', 'absent', None, None, None, None),
    ]


@pytest.mark.parametrize('have, want, expected', [
    (ABSENT, {'content': 'x\n'}, ('write', ['missing'])),
    (found_file(), {'content': 'x\n'}, None),
    (found_file(b'y\n'), {'content': 'x\n'}, ('write', ['content'])),
    (found_file(b'y\n', mode=0o600), {'content': 'x\n'}, ('write', ['content', 'mode'])),
    (found_file(mode=0o600), {'content': 'x\n'}, ('fix', ['mode'])),
    (found_file(uid=5), {'content': 'x\n'}, ('fix', ['owner'])),
    (found_file(gid=5), {'content': 'x\n', 'mode': '0600'}, ('fix', ['mode', 'owner'])),
    (Found('link', None, 0o777, 0, 0), {'content': 'x\n'}, ('write', ['not a regular file'])),
    (ABSENT, {'state': 'directory'}, ('create', ['missing'])),
    (Found('directory', None, 0o755, 0, 0), {'state': 'directory'}, None),
    (Found('directory', None, 0o700, 0, 0), {'state': 'directory'}, ('fix', ['mode'])),
    (ABSENT, {'state': 'absent'}, None),
    (found_file(), {'state': 'absent'}, ('remove', ['present'])),
    (Found('link', None, 0o777, 0, 0), {'state': 'absent'}, ('remove', ['present'])),
])
def test_plan_one(have, want, expected):
    entries = normalize([dict(want, path='/opt/thing')], owners)
    actions = plan(entries, {'/opt/thing': have})
    assert [(a.action, a.reasons) for a in actions] == ([expected] if expected else [])


@pytest.mark.parametrize('have, want, message', [
    (found_file(), {'state': 'directory'}, 'not a directory'),
    (Found('directory', None, 0o755, 0, 0), {'content': 'x'}, 'is a directory, not a file'),
    (Found('directory', None, 0o755, 0, 0), {'state': 'absent'}, 'removes files and links only'),
])
def test_plan_refuses_to_replace_directories(have, want, message):
    entries = normalize([dict(want, path='/opt/thing')], owners)
    with pytest.raises(FileError, match=message):
        plan(entries, {'/opt/thing': have})


def test_plan_order_directories_files_removals():
    entries = normalize([
        {'path': '/opt/gone', 'state': 'absent'},
        {'path': '/opt/a/b/f', 'content': 'x'},
        {'path': '/opt/a/b', 'state': 'directory'},
        {'path': '/opt/a', 'state': 'directory'},
        {'path': '/opt/z', 'content': 'x'},
    ], owners)
    found = dict((e.path, ABSENT) for e in entries)
    found['/opt/gone'] = found_file()
    assert [(a.action, a.entry.path) for a in plan(entries, found)] == [
        ('create', '/opt/a'), ('create', '/opt/a/b'),
        ('write', '/opt/a/b/f'), ('write', '/opt/z'),
        ('remove', '/opt/gone'),
    ]


def test_diffs_show_content_but_not_private_files():
    entries = normalize([
        {'path': '/opt/new', 'content': 'new\n'},
        {'path': '/opt/edited', 'content': 'after\n'},
        {'path': '/opt/secret', 'content': 'password=after\n', 'mode': '0600'},
        {'path': '/opt/was-secret', 'content': 'public\n'},
        {'path': '/opt/old', 'state': 'absent'},
        {'path': '/opt/d', 'state': 'directory'},
    ], owners)
    found = {
        '/opt/new': ABSENT,
        '/opt/edited': found_file(b'before\n'),
        '/opt/secret': found_file(b'password=before\n', mode=0o600),
        '/opt/was-secret': found_file(b'password=old\n', mode=0o600),
        '/opt/old': found_file(b'old\n'),
        '/opt/d': ABSENT,
    }
    diffs = dict((d['after_header'].split(' ')[0], d) for d in build_diffs(plan(entries, found), found))
    assert diffs['/opt/new'] == {'before_header': '/opt/new (absent)', 'after_header': '/opt/new (mode 0644)',
                                 'before': '', 'after': 'new\n'}
    assert (diffs['/opt/edited']['before'], diffs['/opt/edited']['after']) == ('before\n', 'after\n')
    assert 'password' not in repr(diffs['/opt/secret']) and 'after' not in diffs['/opt/secret']['after']
    assert 'password' not in repr(diffs['/opt/was-secret'])
    assert diffs['/opt/old'] == {'before_header': '/opt/old (mode 0644)', 'after_header': '/opt/old (removed)',
                                 'before': 'old\n', 'after': ''}
    assert diffs['/opt/d']['after_header'] == '/opt/d (mode 0755) directory'
