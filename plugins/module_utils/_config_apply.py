# -*- coding: utf-8 -*-
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Plan, validate and apply a complete keepalived configuration tree.

Private to the collection: the keepalived_config module is its only caller.

The pure functions (names, planning, diffs, scrubbing) take plain values and
return plain values, so they can be tested without a host. ``run()`` is the
only function that talks to the module object, and it only uses its
``params``, ``check_mode``, ``_diff``, ``run_command``, ``get_bin_path``,
``warn`` and ``fail_json`` members; AnsibleModule is never imported here.
Looking at, writing and removing files is _fileops's work; whether this host
holds a VIP (``defer_if_holding``) is asked through _keepalived_probe.

Layout managed::

    PATH/keepalived.conf            main file (mode 0644)
    PATH/INCLUDE_DIR/NAME           one per entry of ``files`` (mode 0644)
    PATH/INCLUDE_DIR/NAME           one per entry of ``secret_files`` (mode 0600)

Nothing live is touched before the complete desired tree has been copied into
a private temporary directory and accepted by ``keepalived -t``.
"""

from __future__ import annotations

import collections
import fnmatch
import os
import re

from ansible_collections.failover.keepalived.plugins.module_utils._fileops import (
    FileError,
    atomic_write_all,
    differences,
    inspect,
    is_private,
    list_dir,
    make_dir,
    mode_header,
    private_dir,
    remove,
    resolve_owner,
    shown,
    to_bytes,
    to_text,
)
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_parse import DumpError
from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_probe import KeepalivedProbe

MAIN_NAME = 'keepalived.conf'
FILE_MODE = 0o644
SECRET_MODE = 0o600
DIR_MODE = 0o755
DEFAULT_PURGE_PATTERNS = ('*.conf', '*.auth')
# Live files whose content a diff never shows, whatever their mode.
SECRET_NAMES = ('*.auth',)
MASK = '********'

# Words of keepalived's authentication block that carry no secret; every
# other word of a secret file is treated as secret when scrubbing output.
NON_SECRET_WORDS = frozenset((
    '{', '}', 'authentication', 'auth_type', 'auth_pass', 'PASS', 'AH', 'include',
))

# VRRPv2 simple passwords are 8 bytes; keepalived truncates longer ones and
# may echo the truncated value, so that prefix is secret as well.
AUTH_PASS_LENGTH = 8

_NAME_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.@+-]*')

# One desired file: content as bytes, octal mode, secret flag.
Desired = collections.namedtuple('Desired', ['content', 'mode', 'secret'])
# Live files are _fileops.Found tuples.
# The outcome of planning: relative paths to write, with the reasons, and
# relative paths to remove.
Plan = collections.namedtuple('Plan', ['writes', 'removals'])


class ConfigError(FileError):
    """A configuration tree that cannot be what the module's input asks, reported as a failure."""


def check_name(name):
    """Return None if NAME may be a file name in the include directory, else why not."""
    if not isinstance(name, str) or not name:
        return 'file names must be non-empty strings'
    if not _NAME_RE.fullmatch(name) or name in ('.', '..'):
        return ('file name %r must be a plain name (letters, digits and _ . @ + -, '
                'not starting with a dot or dash, no slash)' % name)
    return None


def check_include_dir(include_dir):
    """Return None if INCLUDE_DIR is a usable relative directory, else why not."""
    if not include_dir or os.path.isabs(include_dir):
        return 'include_dir must be a relative path below path, got %r' % include_dir
    parts = [p for p in include_dir.split('/') if p not in ('', '.')]
    if not parts or '..' in parts:
        return 'include_dir must be a directory below path, got %r' % include_dir
    return None


def normalize_include_dir(include_dir):
    """Return INCLUDE_DIR without empty or ``.`` components (``./conf.d/`` -> ``conf.d``)."""
    return '/'.join(p for p in include_dir.split('/') if p not in ('', '.'))


def desired_tree(main, include_dir, files, secret_files):
    """Return the desired tree as {relative path: Desired}.

    Raise ConfigError for unusable names, or a name given both as file and secret.
    """
    problem = check_include_dir(include_dir)
    if problem:
        raise ConfigError(problem)
    include_dir = normalize_include_dir(include_dir)
    files = files or {}
    secret_files = secret_files or {}
    both = sorted(set(files) & set(secret_files))
    if both:
        raise ConfigError('names given in both files and secret_files: %s' % ', '.join(both))
    tree = {MAIN_NAME: Desired(to_bytes(main), FILE_MODE, False)}
    for names, mode, secret in ((files, FILE_MODE, False), (secret_files, SECRET_MODE, True)):
        for name in sorted(names):
            problem = check_name(name)
            if problem:
                raise ConfigError(problem)
            content = names[name]
            if content is None:
                content = ''
            tree[include_dir + '/' + name] = Desired(to_bytes(content), mode, secret)
    return tree


def purge_candidates(names, patterns, keep):
    """Return the sorted names that match any of PATTERNS and are not in KEEP."""
    keep = set(keep)
    return sorted(
        name for name in names
        if name not in keep and any(fnmatch.fnmatchcase(name, p) for p in patterns)
    )


def differs(desired, live, uid, gid):
    """Return the list of reasons why LIVE (a Found or None) is not DESIRED.

    An empty list means the file is as wanted.
    """
    return differences(live, desired.content, desired.mode, uid, gid)


def plan_changes(desired, live, removable, uid=None, gid=None):
    """Compare the DESIRED tree with the LIVE one.

    DESIRED: {relpath: Desired}; LIVE: {relpath: Found} for every desired path
    that exists; REMOVABLE: relative paths of live files to purge.
    Return a Plan whose ``writes`` is an ordered {relpath: [reasons]}.
    The main file is written last, so a reader never sees a main file that
    includes a file which is not there yet.
    """
    writes = collections.OrderedDict()
    order = sorted(p for p in desired if p != MAIN_NAME)
    if MAIN_NAME in desired:
        order.append(MAIN_NAME)
    for relpath in order:
        reasons = differs(desired[relpath], live.get(relpath), uid, gid)
        if reasons:
            writes[relpath] = reasons
    removals = sorted(p for p in removable if p not in desired)
    return Plan(writes, removals)


def build_diffs(plan, desired, live, path):
    """Return Ansible's list-of-dicts diff for PLAN.

    Secret files never show content: a placeholder line says whether the
    secret changed. A live file is treated as secret too if it is private
    (no group or other permission bits) or its name matches SECRET_NAMES, so
    a secret that moves to ``files`` or gets purged does not leak its old
    content. Permission changes show in the headers.
    """
    diffs = []
    for relpath, reasons in plan.writes.items():
        want = desired[relpath]
        have = live.get(relpath)
        full = os.path.join(path, relpath)
        present = have is not None and have.kind == 'file'
        changed = 'content' in reasons or not present
        if not present:
            before_header = full + ' (absent)'
            before = ''
        else:
            before_header = mode_header(full, have.mode)
            hidden = want.secret or is_private(have.mode) or _secret_name(relpath)
            before = _masked(have.content, hidden, changed, 'before')
        diffs.append({
            'before_header': before_header,
            'after_header': mode_header(full, want.mode),
            'before': before,
            'after': _masked(want.content, want.secret or _secret_name(relpath), changed,
                             'after' if present else 'new'),
        })
    for relpath in plan.removals:
        have = live.get(relpath)
        full = os.path.join(path, relpath)
        if have is None or have.kind != 'file':
            before_header, before = full, ''
        else:
            before_header = mode_header(full, have.mode)
            hidden = is_private(have.mode) or _secret_name(relpath)
            before = _masked(have.content, hidden, True, 'before')
        diffs.append({
            'before_header': before_header,
            'after_header': full + ' (removed)',
            'before': before,
            'after': '',
        })
    return diffs


def _secret_name(relpath):
    """Return True if RELPATH's name marks it as secret whatever its mode."""
    name = relpath.split('/')[-1]
    return any(fnmatch.fnmatchcase(name, p) for p in SECRET_NAMES)


def _masked(content, secret, changed, side):
    """Return CONTENT as text, or a placeholder that says whether the secret changed."""
    if not changed:
        placeholder = '(secret content unchanged)\n'
    elif side in ('before', 'new'):
        placeholder = '(secret content)\n'
    else:
        placeholder = '(secret content changed)\n'
    return shown(content, secret, placeholder)


def secret_words(contents):
    """Return the words of secret file CONTENTS that must never be shown.

    Every whitespace-separated word except keepalived's own keywords and
    braces is secret, with and without surrounding quotes, plus the prefix
    keepalived keeps when it truncates an over-long password.
    """
    words = set()
    for content in contents:
        for word in to_text(content).split():
            for variant in (word, word.strip('"\'')):
                if variant and variant not in NON_SECRET_WORDS:
                    words.add(variant)
                    if len(variant) > AUTH_PASS_LENGTH:
                        words.add(variant[:AUTH_PASS_LENGTH])
    return words


def scrub(text, secrets, replacements=None):
    """Return TEXT with every secret word masked.

    SECRETS: iterable of secret strings (longest masked first, so a secret
    that contains another one is masked whole). REPLACEMENTS: optional
    {old: new} applied first (used to show live paths instead of the
    temporary directory).
    """
    text = to_text(text or '')
    for old, new in (replacements or {}).items():
        if old:
            text = text.replace(old, new)
    for secret in sorted(set(secrets), key=lambda s: (-len(s), s)):
        if secret:
            text = text.replace(secret, MASK)
    return text


def absolute_includes(main, path):
    """Return the absolute include patterns in MAIN that point inside PATH.

    Such includes make the validation read the live files instead of the
    desired ones, so the caller warns about them.
    """
    found = []
    prefix = path.rstrip('/') + '/'
    for line in to_text(main).splitlines():
        words = line.split('#', 1)[0].split('!', 1)[0].split()
        if len(words) >= 2 and words[0] == 'include':
            target = words[1].strip('"\'')
            if target.startswith(prefix):
                found.append(target)
    return found


def read_live(path, include_dir, desired, purge, patterns):
    """Read the live state.

    Return (live, removable, others) where LIVE maps relative paths to Found
    for desired and removable files, REMOVABLE lists the relative paths to
    purge, and OTHERS lists include_dir entries that stay as they are.
    """
    include_dir = normalize_include_dir(include_dir)
    live = {}
    for relpath in desired:
        found = inspect(os.path.join(path, relpath))
        if found.kind != 'absent':
            live[relpath] = found
    names = list_dir(os.path.join(path, include_dir))
    wanted = set(p.split('/')[-1] for p in desired if p != MAIN_NAME)
    removable = []
    if purge:
        for name in purge_candidates(names, patterns, wanted):
            full = os.path.join(path, include_dir, name)
            if os.path.isdir(full) and not os.path.islink(full):
                continue
            relpath = include_dir + '/' + name
            removable.append(relpath)
            live[relpath] = inspect(full)
    gone = set(p.split('/')[-1] for p in removable)
    others = [n for n in names if n not in wanted and n not in gone]
    return live, removable, others


def stage_tree(stage, path, include_dir, desired, others):
    """Build the complete desired tree inside the private directory STAGE.

    Desired files are written with their content; include_dir entries that
    stay (OTHERS) and every other entry of PATH are linked to the live ones,
    so relative references in the configuration resolve as they will live.
    """
    include_dir = normalize_include_dir(include_dir)
    os.makedirs(os.path.join(stage, include_dir), mode=0o700, exist_ok=True)
    for relpath, want in desired.items():
        full = os.path.join(stage, relpath)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(want.content)
    for name in others:
        os.symlink(os.path.join(path, include_dir, name), os.path.join(stage, include_dir, name))
    top = include_dir.split('/', 1)[0]
    for name in list_dir(path):
        if name in (MAIN_NAME, top) or os.path.lexists(os.path.join(stage, name)):
            continue
        os.symlink(os.path.join(path, name), os.path.join(stage, name))


def validate_tree(module, keepalived, stage, path, secrets):
    """Run ``keepalived -t`` on the staged tree; return (ok, scrubbed output)."""
    # keepalived 2.2.7 (Debian 12) sends itself SIGTERM at the end of a config
    # test whenever an instance tracks a script (fixed upstream in 2.2.8), and
    # then exits 143 for a good configuration. An ignored TERM survives exec, so
    # keepalived finishes and reports its real result.
    rc, out, err = module.run_command(
        ['/bin/sh', '-c', 'trap "" TERM; exec "$0" -t -f "$1"', keepalived, os.path.join(stage, MAIN_NAME)],
        cwd=stage)
    text = '\n'.join(part.strip('\n') for part in (out, err) if part and part.strip())
    output = scrub(text, secrets, {stage + '/': path.rstrip('/') + '/', stage: path.rstrip('/')})
    return rc == 0, output


def run(module):
    """Do what the keepalived_config module's parameters ask; return the result dict.

    Failures go through ``module.fail_json`` with secrets scrubbed.
    """
    params = module.params
    path = params['path']
    include_dir = params['include_dir']
    secret_files = params['secret_files'] or {}
    secrets = secret_words(secret_files.values())

    try:
        desired = desired_tree(params['main'], include_dir, params['files'], secret_files)
        uid, gid = resolve_owner(params['owner'], params['group'])
    except FileError as exc:
        module.fail_json(msg=scrub(str(exc), secrets))

    for target in absolute_includes(params['main'], path):
        module.warn('main includes %s by absolute path: validation reads the live files there, '
                    'not the desired ones; use a path relative to %s' % (target, path))

    patterns = params['purge_patterns']
    live, removable, others = read_live(path, include_dir, desired, params['purge'], patterns)
    plan = plan_changes(desired, live, removable, uid, gid)

    marker = params.get('reload_marker')
    pending = bool(marker) and os.path.lexists(marker)
    result = {
        'changed': False,
        'changed_files': [os.path.join(path, p) for p in plan.writes],
        'removed_files': [os.path.join(path, p) for p in plan.removals],
        'validated': False,
        'deferred': False,
        'reload_pending': pending,
        'running_command': KeepalivedProbe(None, pid_file=params.get('pid_file') or '/run/keepalived.pid').command_line(),
    }
    if not plan.writes and not plan.removals:
        # Files an earlier run put in place that keepalived has not reloaded: a holder defers that too.
        if pending and params.get('defer_if_holding'):
            held = holding(module, params)
            if held is not None:
                result.update(deferred=True, reload_pending=False, vips_held=held)
        return result
    result['changed'] = True
    if module._diff:
        result['diff'] = build_diffs(plan, desired, live, path)

    if params['validate']:
        keepalived = _find_keepalived(module, params['keepalived_bin'])
        try:
            with private_dir('keepalived_config.') as stage:
                stage_tree(stage, path, include_dir, desired, others)
                ok, output = validate_tree(module, keepalived, stage, path, secrets)
        except OSError as exc:
            result['changed'] = False
            module.fail_json(msg=scrub('building the tree to validate failed: %s' % exc, secrets),
                             **result)
        result['validation_output'] = output
        if not ok:
            result.pop('diff', None)
            result['changed'] = False
            module.fail_json(
                msg='keepalived rejected the configuration; nothing was changed:\n%s' % output,
                **result)
        result['validated'] = True

    if params.get('defer_if_holding'):
        held = holding(module, params)
        if held is not None:
            result.update(changed=False, deferred=True, reload_pending=False, vips_held=held)
            result.pop('diff', None)
            return result

    if module.check_mode:
        return result

    # All the new files or none: each is written beside its target first, then all are renamed, the
    # reload marker first (it must never be missing while the live files are newer than keepalived's).
    marking = [(marker, b'the files of %s are newer than what keepalived has loaded: reload it\n'
                % to_bytes(path), 0o644, None, None)] if marker else []
    try:
        directory = os.path.join(path, normalize_include_dir(include_dir))
        if not os.path.isdir(directory):
            make_dir(directory, DIR_MODE, uid, gid)
        atomic_write_all(marking + [(os.path.join(path, relpath), desired[relpath].content, desired[relpath].mode,
                                     uid, gid) for relpath in plan.writes])
    except OSError as exc:
        result['changed'] = False
        module.fail_json(msg=scrub('writing the new configuration failed, the live files are as they were: %s'
                                   % exc, secrets), **result)
    result['reload_pending'] = result['reload_pending'] or bool(marker)
    try:
        for relpath in plan.removals:
            remove(os.path.join(path, relpath))
    except OSError as exc:
        module.fail_json(msg=scrub('applying the configuration failed: %s' % exc, secrets), **result)
    return result


def holding(module, params):
    """The VIPs this host holds now when it counts as a holder (_keepalived_parse.is_holder, from
    keepalived's own state), else None; a host that cannot tell counts as a holder holding [].

    Only asked when a change is pending, so an unchanged run never signals
    keepalived.
    """
    probe = KeepalivedProbe(
        module.run_command,
        keepalived_bin=module.get_bin_path(params['keepalived_bin']),
        ip_bin=module.get_bin_path('ip') or 'ip',
        pid_file=params.get('pid_file') or '/run/keepalived.pid',
    )
    try:
        status = probe.status()
    except DumpError as exc:
        module.warn('cannot tell whether this host holds a VIP (%s); treating it as a holder' % exc)
        return []
    return status['vips_held'] if status['holder'] else None


def _find_keepalived(module, name):
    """Return the keepalived executable's path, or fail."""
    if os.path.isabs(name):
        if os.access(name, os.X_OK):
            return name
        module.fail_json(msg='keepalived_bin %s is not an executable file' % name)
    found = module.get_bin_path(name)
    if not found:
        module.fail_json(msg='%s not found in PATH or the sbin directories; install keepalived '
                             'or set validate=false' % name)
    return found
