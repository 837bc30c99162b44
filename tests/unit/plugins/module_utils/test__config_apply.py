# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables of cases for the pure functions behind keepalived_config."""

from __future__ import annotations

import os

import pytest

from ansible_collections.failover.keepalived.plugins.module_utils import _config_apply as ca
from ansible_collections.failover.keepalived.plugins.module_utils._fileops import Found

D = ca.Desired
MAIN = ca.MAIN_NAME


def L(content, mode, uid, gid):
    """A live file as _fileops.inspect reports it; content None is something that is not a regular file."""
    return Found('file' if content is not None else 'link', content, mode, uid, gid)


@pytest.mark.parametrize('name, ok', [
    ('vi_1.conf', True),
    ('VI-1.auth', True),
    ('a', True),
    ('web@eth0+v6.conf', True),
    ('', False),
    ('.hidden.conf', False),
    ('-rf.conf', False),
    ('.', False),
    ('..', False),
    ('sub/vi_1.conf', False),
    ('vi 1.conf', False),
    ('vi_1.conf\n', False),
    (None, False),
])
def test_check_name(name, ok):
    assert (ca.check_name(name) is None) is ok


@pytest.mark.parametrize('include_dir, ok, normal', [
    ('conf.d', True, 'conf.d'),
    ('./conf.d/', True, 'conf.d'),
    ('a/b', True, 'a/b'),
    ('', False, None),
    ('.', False, None),
    ('/etc/keepalived/conf.d', False, None),
    ('../conf.d', False, None),
    ('conf.d/../..', False, None),
])
def test_check_include_dir(include_dir, ok, normal):
    assert (ca.check_include_dir(include_dir) is None) is ok
    if ok:
        assert ca.normalize_include_dir(include_dir) == normal


@pytest.mark.parametrize('files, secrets, expected', [
    ({}, {}, {MAIN: D(b'main\n', 0o644, False)}),
    ({'a.conf': 'A'}, {'a.auth': 'S'}, {
        MAIN: D(b'main\n', 0o644, False),
        'conf.d/a.conf': D(b'A', 0o644, False),
        'conf.d/a.auth': D(b'S', 0o600, True),
    }),
    ({'n.conf': None, 'u.conf': 'caf\u00e9'}, None, {
        MAIN: D(b'main\n', 0o644, False),
        'conf.d/n.conf': D(b'', 0o644, False),
        'conf.d/u.conf': D(b'caf\xc3\xa9', 0o644, False),
    }),
])
def test_desired_tree(files, secrets, expected):
    assert ca.desired_tree('main\n', 'conf.d', files, secrets) == expected


@pytest.mark.parametrize('include_dir, files, secrets, message', [
    ('conf.d', {'a.conf': 'x'}, {'a.conf': 'y'}, 'both files and secret_files: a.conf'),
    ('conf.d', {'../x.conf': 'x'}, {}, 'plain name'),
    ('conf.d', {}, {'.x.auth': 'x'}, 'plain name'),
    ('/abs', {}, {}, 'relative path'),
    ('..', {}, {}, 'below path'),
])
def test_desired_tree_rejects(include_dir, files, secrets, message):
    with pytest.raises(ca.ConfigError, match=message.replace('.', r'\.')):
        ca.desired_tree('main', include_dir, files, secrets)


@pytest.mark.parametrize('names, patterns, keep, expected', [
    (['a.conf', 'b.auth', 'README', 'c.conf.dpkg-old'], ['*.conf', '*.auth'], [], ['a.conf', 'b.auth']),
    (['a.conf', 'b.conf'], ['*.conf'], ['a.conf'], ['b.conf']),
    (['vi_1.conf', 'other.conf'], ['vi_*.conf'], [], ['vi_1.conf']),
    (['A.CONF'], ['*.conf'], [], []),
    (['a.conf'], [], [], []),
])
def test_purge_candidates(names, patterns, keep, expected):
    assert ca.purge_candidates(names, patterns, keep) == expected


WANT = D(b'x', 0o644, False)


@pytest.mark.parametrize('live, uid, gid, expected', [
    (None, 0, 0, ['missing']),
    (L(None, 0o777, 0, 0), 0, 0, ['not a regular file']),
    (L(b'x', 0o644, 0, 0), 0, 0, []),
    (L(b'y', 0o644, 0, 0), 0, 0, ['content']),
    (L(b'x', 0o600, 0, 0), 0, 0, ['mode']),
    (L(b'x', 0o644, 1000, 0), 0, 0, ['owner']),
    (L(b'x', 0o644, 0, 1000), 0, 0, ['owner']),
    (L(b'x', 0o644, 1000, 1000), None, None, []),
    (L(b'y', 0o640, 5, 0), 0, 0, ['content', 'mode', 'owner']),
])
def test_differs(live, uid, gid, expected):
    assert ca.differs(WANT, live, uid, gid) == expected


TREE = {
    MAIN: D(b'include conf.d/*.conf\n', 0o644, False),
    'conf.d/b.conf': D(b'B\n', 0o644, False),
    'conf.d/a.auth': D(b'S\n', 0o600, True),
}


@pytest.mark.parametrize('live, removable, writes, removals', [
    ({}, [], [('conf.d/a.auth', ['missing']), ('conf.d/b.conf', ['missing']), (MAIN, ['missing'])], []),
    ({
        MAIN: L(b'include conf.d/*.conf\n', 0o644, 0, 0),
        'conf.d/b.conf': L(b'B\n', 0o644, 0, 0),
        'conf.d/a.auth': L(b'S\n', 0o600, 0, 0),
    }, [], [], []),
    ({
        MAIN: L(b'old\n', 0o644, 0, 0),
        'conf.d/b.conf': L(b'B\n', 0o644, 0, 0),
        'conf.d/a.auth': L(b'S\n', 0o644, 0, 0),
        'conf.d/z.conf': L(b'Z\n', 0o644, 0, 0),
    }, ['conf.d/z.conf'], [('conf.d/a.auth', ['mode']), (MAIN, ['content'])], ['conf.d/z.conf']),
    ({
        MAIN: L(b'include conf.d/*.conf\n', 0o644, 0, 0),
        'conf.d/b.conf': L(b'B\n', 0o644, 0, 0),
        'conf.d/a.auth': L(b'S\n', 0o600, 0, 0),
    }, ['conf.d/b.conf', 'conf.d/y.auth'], [], ['conf.d/y.auth']),
])
def test_plan_changes(live, removable, writes, removals):
    plan = ca.plan_changes(TREE, live, removable, 0, 0)
    assert list(plan.writes.items()) == writes
    assert plan.removals == removals


def _diff_for(desired, live, removable=()):
    plan = ca.plan_changes(desired, live, list(removable), 0, 0)
    return ca.build_diffs(plan, desired, live, '/etc/keepalived')


@pytest.mark.parametrize('desired, live, removable, expected', [
    pytest.param(
        {MAIN: D(b'new\n', 0o644, False)}, {MAIN: L(b'old\n', 0o644, 0, 0)}, [],
        [{'before_header': '/etc/keepalived/keepalived.conf (mode 0644)',
          'after_header': '/etc/keepalived/keepalived.conf (mode 0644)',
          'before': 'old\n', 'after': 'new\n'}],
        id='content change'),
    pytest.param(
        {'conf.d/a.conf': D(b'A\n', 0o644, False)}, {}, [],
        [{'before_header': '/etc/keepalived/conf.d/a.conf (absent)',
          'after_header': '/etc/keepalived/conf.d/a.conf (mode 0644)',
          'before': '', 'after': 'A\n'}],
        id='new file'),
    pytest.param(
        {'conf.d/a.auth': D(b'pw2\n', 0o600, True)}, {'conf.d/a.auth': L(b'pw1\n', 0o600, 0, 0)}, [],
        [{'before_header': '/etc/keepalived/conf.d/a.auth (mode 0600)',
          'after_header': '/etc/keepalived/conf.d/a.auth (mode 0600)',
          'before': '(secret content)\n', 'after': '(secret content changed)\n'}],
        id='secret changed'),
    pytest.param(
        {'conf.d/a.auth': D(b'pw\n', 0o600, True)}, {}, [],
        [{'before_header': '/etc/keepalived/conf.d/a.auth (absent)',
          'after_header': '/etc/keepalived/conf.d/a.auth (mode 0600)',
          'before': '', 'after': '(secret content)\n'}],
        id='new secret'),
    pytest.param(
        {'conf.d/a.auth': D(b'pw\n', 0o600, True)}, {'conf.d/a.auth': L(b'pw\n', 0o644, 0, 0)}, [],
        [{'before_header': '/etc/keepalived/conf.d/a.auth (mode 0644)',
          'after_header': '/etc/keepalived/conf.d/a.auth (mode 0600)',
          'before': '(secret content unchanged)\n', 'after': '(secret content unchanged)\n'}],
        id='secret mode only'),
    pytest.param(
        {'conf.d/a.x': D(b'public\n', 0o644, False)}, {'conf.d/a.x': L(b'pw\n', 0o600, 0, 0)}, [],
        [{'before_header': '/etc/keepalived/conf.d/a.x (mode 0600)',
          'after_header': '/etc/keepalived/conf.d/a.x (mode 0644)',
          'before': '(secret content)\n', 'after': 'public\n'}],
        id='private file made public hides old content'),
    pytest.param(
        {}, {'conf.d/old.conf': L(b'OLD\n', 0o644, 0, 0), 'conf.d/old.auth': L(b'pw\n', 0o644, 0, 0),
             'conf.d/p.conf': L(b'pw\n', 0o600, 0, 0)},
        ['conf.d/old.auth', 'conf.d/old.conf', 'conf.d/p.conf'],
        [{'before_header': '/etc/keepalived/conf.d/old.auth (mode 0644)',
          'after_header': '/etc/keepalived/conf.d/old.auth (removed)',
          'before': '(secret content)\n', 'after': ''},
         {'before_header': '/etc/keepalived/conf.d/old.conf (mode 0644)',
          'after_header': '/etc/keepalived/conf.d/old.conf (removed)',
          'before': 'OLD\n', 'after': ''},
         {'before_header': '/etc/keepalived/conf.d/p.conf (mode 0600)',
          'after_header': '/etc/keepalived/conf.d/p.conf (removed)',
          'before': '(secret content)\n', 'after': ''}],
        id='purge hides .auth and private files'),
])
def test_build_diffs(desired, live, removable, expected):
    assert _diff_for(desired, live, removable) == expected


@pytest.mark.parametrize('contents, expected', [
    (['authentication {\n  auth_type PASS\n  auth_pass s3cr3t\n}\n'], {'s3cr3t'}),
    (['authentication {\n  auth_type AH\n  auth_pass "pw with"\n}\n'], {'"pw', 'pw', 'with"', 'with'}),
    (['auth_pass averyverylongpassword'], {'averyverylongpassword', 'averyver'}),
    ([b'auth_pass bytes1', 'auth_pass text2'], {'bytes1', 'text2'}),
    ([''], set()),
])
def test_secret_words(contents, expected):
    assert ca.secret_words(contents) == expected


@pytest.mark.parametrize('text, secrets, replacements, expected', [
    ("Unknown keyword 's3cr3t'", ['s3cr3t'], None, "Unknown keyword '********'"),
    ('pw pwpw', ['pw', 'pwpw'], None, '******** ********'),
    ('abcdefgh and abcdefghij', ['abcdefghij', 'abcdefgh'], None, '******** and ********'),
    ('(/tmp/st/conf.d/a.conf: Line 2)', [], {'/tmp/st/': '/etc/keepalived/'},
     '(/etc/keepalived/conf.d/a.conf: Line 2)'),
    (None, ['x'], None, ''),
    (b'bytes s3cr3t', ['s3cr3t'], None, 'bytes ********'),
])
def test_scrub(text, secrets, replacements, expected):
    assert ca.scrub(text, secrets, replacements) == expected


@pytest.mark.parametrize('main, expected', [
    ('include conf.d/*.conf\n', []),
    ('include /etc/keepalived/conf.d/*.conf\n', ['/etc/keepalived/conf.d/*.conf']),
    ('  include "/etc/keepalived/x.conf"  # comment\n', ['/etc/keepalived/x.conf']),
    ('# include /etc/keepalived/conf.d/*.conf\n', []),
    ('include /srv/other/*.conf\n', []),
    ('include /etc/keepalived.d/x.conf\n', []),
])
def test_absolute_includes(main, expected):
    assert ca.absolute_includes(main, '/etc/keepalived') == expected


def test_read_live_and_stage_tree(tmp_path):
    live_dir = tmp_path / 'live'
    (live_dir / 'conf.d' / 'sub').mkdir(parents=True)
    (live_dir / 'keepalived.conf').write_text('old main\n')
    (live_dir / 'scripts').mkdir()
    (live_dir / 'conf.d' / 'a.conf').write_text('A\n')
    (live_dir / 'conf.d' / 'stale.conf').write_text('S\n')
    (live_dir / 'conf.d' / 'notes.txt').write_text('N\n')
    desired = ca.desired_tree('new main\n', 'conf.d', {'a.conf': 'A2\n', 'b.conf': 'B\n'}, {})

    live, removable, others = ca.read_live(str(live_dir), 'conf.d', desired, True, ['*.conf'])
    assert sorted(live) == ['conf.d/a.conf', 'conf.d/stale.conf', MAIN]
    assert removable == ['conf.d/stale.conf']
    assert others == ['notes.txt', 'sub']

    _live, removable, others = ca.read_live(str(live_dir), 'conf.d', desired, False, ['*.conf'])
    assert removable == []
    assert others == ['notes.txt', 'stale.conf', 'sub']

    stage = tmp_path / 'stage'
    stage.mkdir()
    ca.stage_tree(str(stage), str(live_dir), 'conf.d', desired, ['notes.txt', 'sub'])
    assert (stage / 'keepalived.conf').read_text() == 'new main\n'
    assert (stage / 'conf.d' / 'b.conf').read_text() == 'B\n'
    assert not (stage / 'conf.d' / 'stale.conf').exists()
    assert os.readlink(stage / 'conf.d' / 'notes.txt') == str(live_dir / 'conf.d' / 'notes.txt')
    assert os.readlink(stage / 'scripts') == str(live_dir / 'scripts')
    assert not (stage / 'conf.d').is_symlink()
