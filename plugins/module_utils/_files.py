# -*- coding: utf-8 -*-
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make a set of files and directories match a description, in one step.

Private to the collection: the keepalived_files module is its only caller.
The roles install several small files per host (the check module, its
launcher, a tmpfiles entry, a sudo rule, the runner's unit); one module call
for all of them costs one round trip to the host instead of one per file.

Pure functions (``normalize``, ``plan``, ``build_diffs``) take plain values;
``run()`` alone talks to the module object (``params``, ``check_mode``,
``_diff``, ``run_command``, ``fail_json``) and to the file system.
"""

from __future__ import annotations

import collections
import os
import shlex
import shutil
import stat
import tempfile

from ansible_collections.failover.keepalived.plugins.module_utils._config_apply import (
    ConfigError,
    atomic_write,
    fsync_dir,
    resolve_owner,
    to_bytes,
    to_text,
)

STATES = ('file', 'directory', 'absent')
DEFAULT_MODES = {'file': 0o644, 'directory': 0o755}
# What a diff shows instead of a private file's content.
PRIVATE = '(private content)\n'

# One wanted entry. content is bytes for a file, None otherwise; uid/gid are
# numbers (None: leave as is); mode is the permission bits (None for absent).
Entry = collections.namedtuple('Entry', ['path', 'state', 'content', 'uid', 'gid', 'mode', 'validate'])
# What is on the host: kind is 'absent', 'file', 'directory', 'link' or
# 'other'; content is bytes for a regular file, None otherwise.
Found = collections.namedtuple('Found', ['kind', 'content', 'mode', 'uid', 'gid'])
# One thing to do: action is 'create', 'write', 'fix' (mode or owner only)
# or 'remove'; reasons say why.
Action = collections.namedtuple('Action', ['action', 'entry', 'reasons'])


def parse_mode(mode, path):
    """Return the permission bits of MODE, an octal string such as '0644'."""
    text = str(mode)
    try:
        value = int(text, 8)
    except ValueError:
        raise ConfigError('%s: mode %r is not an octal number such as "0644"' % (path, text)) from None
    if not 0 <= value <= 0o7777:
        raise ConfigError('%s: mode %r is outside 0000..7777' % (path, text))
    return value


def normalize(items, owners=resolve_owner):
    """Turn the module's ``files`` list into Entry tuples, or raise ConfigError.

    Paths must be absolute, normalised and unique; a file needs content, a
    directory or an absent entry must not have any; ``validate`` must contain
    ``%s`` and applies to files only. OWNERS resolves (owner, group) names.
    """
    entries, seen = [], set()
    for item in items:
        path = item.get('path') or ''
        state = item.get('state') or 'file'
        if not path.startswith('/') or os.path.normpath(path) != path or path == '/':
            raise ConfigError('%r: paths must be absolute and normalised (no trailing /, no .. or //)' % path)
        if path in seen:
            raise ConfigError('%s is listed twice' % path)
        seen.add(path)
        if state not in STATES:
            raise ConfigError('%s: state must be one of %s, not %r' % (path, ', '.join(STATES), state))
        content = item.get('content')
        if state == 'file' and content is None:
            raise ConfigError('%s: a file needs content' % path)
        if state != 'file' and content is not None:
            raise ConfigError('%s: content is only for state=file' % path)
        validate = item.get('validate')
        if validate and (state != 'file' or '%s' not in validate):
            raise ConfigError('%s: validate applies to files and must contain %%s' % path)
        if state == 'absent':
            entries.append(Entry(path, state, None, None, None, None, None))
            continue
        mode = item.get('mode')
        mode = DEFAULT_MODES[state] if mode is None else parse_mode(mode, path)
        uid, gid = owners(item.get('owner', 'root'), item.get('group', 'root'))
        entries.append(Entry(path, state, None if content is None else to_bytes(content), uid, gid, mode,
                             validate or None))
    return entries


def inspect(path):
    """Return a Found for PATH (symbolic links are not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Found('absent', None, None, None, None)
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


def _attribute_reasons(entry, found):
    reasons = []
    if found.mode != entry.mode:
        reasons.append('mode')
    if (entry.uid is not None and found.uid != entry.uid) or (entry.gid is not None and found.gid != entry.gid):
        reasons.append('owner')
    return reasons


def plan(entries, found):
    """Compare ENTRIES with FOUND ({path: Found}); return the Actions, in order.

    Directories come first (parents before children), then files in the given
    order, then removals. A directory is never removed or replaced, and a
    directory never replaced by a file: that raises ConfigError.
    """
    dirs, files, removals = [], [], []
    for entry in entries:
        have = found[entry.path]
        if entry.state == 'directory':
            if have.kind == 'absent':
                dirs.append(Action('create', entry, ['missing']))
            elif have.kind != 'directory':
                raise ConfigError('%s is a %s, not a directory; remove it first' % (entry.path, have.kind))
            else:
                reasons = _attribute_reasons(entry, have)
                if reasons:
                    dirs.append(Action('fix', entry, reasons))
        elif entry.state == 'file':
            if have.kind == 'directory':
                raise ConfigError('%s is a directory, not a file' % entry.path)
            if have.kind == 'absent':
                files.append(Action('write', entry, ['missing']))
            elif have.kind != 'file':
                files.append(Action('write', entry, ['not a regular file']))
            elif have.content != entry.content:
                files.append(Action('write', entry, ['content'] + _attribute_reasons(entry, have)))
            else:
                reasons = _attribute_reasons(entry, have)
                if reasons:
                    files.append(Action('fix', entry, reasons))
        elif have.kind == 'directory':
            raise ConfigError('%s is a directory; this module removes files and links only' % entry.path)
        elif have.kind != 'absent':
            removals.append(Action('remove', entry, ['present']))
    dirs.sort(key=lambda action: action.entry.path.count('/'))
    return dirs + files + removals


def _header(path, mode):
    return '%s (mode %04o)' % (path, mode)


def build_diffs(actions, found):
    """Return Ansible's list-of-dicts diff for ACTIONS.

    Content shows for regular files; a file that is private (no group or
    other permission bits) on either side shows a placeholder instead, so a
    credential file does not leak through --diff.
    """
    diffs = []
    for action in actions:
        entry, have = action.entry, found[action.entry.path]
        # Private on either side: neither side's content shows.
        private = ((entry.mode is not None and entry.mode & 0o077 == 0)
                   or (have.kind == 'file' and have.mode & 0o077 == 0))
        if have.kind == 'absent':
            before_header, before = entry.path + ' (absent)', ''
        elif have.kind != 'file':
            before_header, before = entry.path + ' (%s)' % have.kind, ''
        else:
            before_header = _header(entry.path, have.mode)
            before = PRIVATE if private else to_text(have.content)
        if action.action == 'remove':
            after_header, after = entry.path + ' (removed)', ''
        elif entry.state == 'directory':
            after_header, after = _header(entry.path, entry.mode) + ' directory', ''
        else:
            after_header = _header(entry.path, entry.mode)
            after = PRIVATE if private else to_text(entry.content)
        diffs.append({'before_header': before_header, 'after_header': after_header,
                      'before': before, 'after': after})
    return diffs


def validate_content(module, entry):
    """Run ENTRY's validate command on a private copy of its content; return (ok, output).

    ok is None when the command is not installed (yet): in check mode the
    package that brings it may be one task earlier and not installed.
    """
    argv = shlex.split(entry.validate)
    if not module.get_bin_path(argv[0]):
        return None, '%s is not installed' % argv[0]
    stage = tempfile.mkdtemp(prefix='keepalived_files.')
    try:
        os.chmod(stage, 0o700)
        copy = os.path.join(stage, os.path.basename(entry.path))
        with open(copy, 'wb') as handle:
            handle.write(entry.content)
        os.chmod(copy, entry.mode)
        rc, out, err = module.run_command([word.replace('%s', copy) for word in argv])
        text = '\n'.join(part.strip('\n') for part in (out, err) if part and part.strip())
        return rc == 0, text.replace(copy, entry.path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def apply(action):
    """Carry out one Action on the host."""
    entry = action.entry
    if action.action == 'create':
        os.makedirs(entry.path, entry.mode)
        os.chmod(entry.path, entry.mode)
        os.chown(entry.path, -1 if entry.uid is None else entry.uid, -1 if entry.gid is None else entry.gid)
    elif action.action == 'write':
        atomic_write(entry.path, entry.content, entry.mode, entry.uid, entry.gid)
    elif action.action == 'fix':
        os.chown(entry.path, -1 if entry.uid is None else entry.uid, -1 if entry.gid is None else entry.gid,
                 follow_symlinks=False)
        os.chmod(entry.path, entry.mode)
    else:
        os.unlink(entry.path)
        fsync_dir(os.path.dirname(entry.path))


def run(module):
    """Do what the keepalived_files module's parameters ask; return the result dict."""
    try:
        entries = normalize(module.params['files'])
        found = dict((entry.path, inspect(entry.path)) for entry in entries)
        actions = plan(entries, found)
    except (ConfigError, OSError) as exc:
        module.fail_json(msg=str(exc))
    result = {
        'changed': bool(actions),
        'changed_paths': [action.entry.path for action in actions],
        'removed_paths': [action.entry.path for action in actions if action.action == 'remove'],
    }
    if not actions:
        return result
    if module._diff:
        result['diff'] = build_diffs(actions, found)
    for action in actions:
        if action.action == 'write' and action.entry.validate:
            ok, output = validate_content(module, action.entry)
            if ok is None and module.check_mode:
                module.warn('%s: not validated in check mode: %s' % (action.entry.path, output))
            elif not ok:
                result.pop('diff', None)
                result['changed'] = False
                module.fail_json(msg='%s: validation (%s) failed; nothing was changed:\n%s'
                                 % (action.entry.path, action.entry.validate, output), **result)
    if module.check_mode:
        return result
    for action in actions:
        try:
            apply(action)
        except OSError as exc:
            module.fail_json(msg='%s: %s failed: %s' % (action.entry.path, action.action, exc), **result)
    return result
