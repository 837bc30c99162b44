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
``_diff``, ``run_command``, ``fail_json``). The file system work is
_fileops's.
"""

from __future__ import annotations

import collections
import os
import shlex

from ansible_collections.failover.keepalived.plugins.module_utils._fileops import (
    FileError,
    atomic_write,
    attribute_reasons,
    differences,
    inspect,
    is_private,
    make_dir,
    mode_header,
    parse_mode,
    private_dir,
    remove,
    resolve_owner,
    set_attributes,
    shown,
    to_bytes,
)

STATES = ('file', 'directory', 'absent')
DEFAULT_MODES = {'file': 0o644, 'directory': 0o755}
# What a diff shows instead of a private file's content.
PRIVATE = '(private content)\n'

# One wanted entry. content is bytes for a file, None otherwise; uid/gid are
# numbers (None: leave as is); mode is the permission bits (None for absent).
Entry = collections.namedtuple('Entry', ['path', 'state', 'content', 'uid', 'gid', 'mode', 'validate'])
# One thing to do: action is 'create', 'write', 'fix' (mode or owner only)
# or 'remove'; reasons say why.
Action = collections.namedtuple('Action', ['action', 'entry', 'reasons'])


def normalize(items, owners=resolve_owner):
    """Turn the module's ``files`` list into Entry tuples, or raise FileError.

    Paths must be absolute, normalised and unique; a file needs content, a
    directory or an absent entry must not have any; ``validate`` must contain
    ``%s`` and applies to files only. OWNERS resolves (owner, group) names.
    """
    entries, seen = [], set()
    for item in items:
        path = item.get('path') or ''
        state = item.get('state') or 'file'
        if not path.startswith('/') or os.path.normpath(path) != path or path == '/':
            raise FileError('%r: paths must be absolute and normalised (no trailing /, no .. or //)' % path)
        if path in seen:
            raise FileError('%s is listed twice' % path)
        seen.add(path)
        if state not in STATES:
            raise FileError('%s: state must be one of %s, not %r' % (path, ', '.join(STATES), state))
        content = item.get('content')
        if state == 'file' and content is None:
            raise FileError('%s: a file needs content' % path)
        if state != 'file' and content is not None:
            raise FileError('%s: content is only for state=file' % path)
        validate = item.get('validate')
        if validate and (state != 'file' or '%s' not in validate):
            raise FileError('%s: validate applies to files and must contain %%s' % path)
        if state == 'absent':
            entries.append(Entry(path, state, None, None, None, None, None))
            continue
        mode = item.get('mode')
        mode = DEFAULT_MODES[state] if mode is None else parse_mode(mode, path)
        uid, gid = owners(item.get('owner', 'root'), item.get('group', 'root'))
        entries.append(Entry(path, state, None if content is None else to_bytes(content), uid, gid, mode,
                             validate or None))
    return entries


def plan(entries, found):
    """Compare ENTRIES with FOUND ({path: Found}); return the Actions, in order.

    Directories come first (parents before children), then files in the given
    order, then removals. A directory is never removed or replaced, and a
    directory never replaced by a file: that raises FileError.
    """
    dirs, files, removals = [], [], []
    for entry in entries:
        have = found[entry.path]
        if entry.state == 'directory':
            if have.kind == 'absent':
                dirs.append(Action('create', entry, ['missing']))
            elif have.kind != 'directory':
                raise FileError('%s is a %s, not a directory; remove it first' % (entry.path, have.kind))
            else:
                reasons = attribute_reasons(have, entry.mode, entry.uid, entry.gid)
                if reasons:
                    dirs.append(Action('fix', entry, reasons))
        elif entry.state == 'file':
            if have.kind == 'directory':
                raise FileError('%s is a directory, not a file' % entry.path)
            reasons = differences(have, entry.content, entry.mode, entry.uid, entry.gid)
            if reasons:
                files.append(Action('fix' if reasons[0] in ('mode', 'owner') else 'write', entry, reasons))
        elif have.kind == 'directory':
            raise FileError('%s is a directory; this module removes files and links only' % entry.path)
        elif have.kind != 'absent':
            removals.append(Action('remove', entry, ['present']))
    dirs.sort(key=lambda action: action.entry.path.count('/'))
    return dirs + files + removals


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
        private = is_private(entry.mode) or (have.kind == 'file' and is_private(have.mode))
        if have.kind == 'absent':
            before_header, before = entry.path + ' (absent)', ''
        elif have.kind != 'file':
            before_header, before = entry.path + ' (%s)' % have.kind, ''
        else:
            before_header = mode_header(entry.path, have.mode)
            before = shown(have.content, private, PRIVATE)
        if action.action == 'remove':
            after_header, after = entry.path + ' (removed)', ''
        elif entry.state == 'directory':
            after_header, after = mode_header(entry.path, entry.mode) + ' directory', ''
        else:
            after_header = mode_header(entry.path, entry.mode)
            after = shown(entry.content, private, PRIVATE)
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
    with private_dir('keepalived_files.') as stage:
        copy = os.path.join(stage, os.path.basename(entry.path))
        with open(copy, 'wb') as handle:
            handle.write(entry.content)
        os.chmod(copy, entry.mode)
        rc, out, err = module.run_command([word.replace('%s', copy) for word in argv])
        text = '\n'.join(part.strip('\n') for part in (out, err) if part and part.strip())
        return rc == 0, text.replace(copy, entry.path)


def apply(action):
    """Carry out one Action on the host."""
    entry = action.entry
    if action.action == 'create':
        make_dir(entry.path, entry.mode, entry.uid, entry.gid)
    elif action.action == 'write':
        atomic_write(entry.path, entry.content, entry.mode, entry.uid, entry.gid)
    elif action.action == 'fix':
        set_attributes(entry.path, entry.mode, entry.uid, entry.gid)
    else:
        remove(entry.path)


def run(module):
    """Do what the keepalived_files module's parameters ask; return the result dict."""
    try:
        entries = normalize(module.params['files'])
        found = dict((entry.path, inspect(entry.path)) for entry in entries)
        actions = plan(entries, found)
    except (FileError, OSError) as exc:
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
