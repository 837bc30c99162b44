# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the keepalived_config module the way Ansible does, against the real keepalived.

Each test runs ``python plugins/modules/keepalived_config.py ARGS.json`` in a
subprocess on a temporary configuration directory, and ``keepalived -t``
validates for real. keepalived refuses the loopback interface for VRRP, so
the configurations use the first up, multicast-capable interface of the host
(or $FAILOVER_TEST_INTERFACE).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess

import pytest

MODULE = 'keepalived_config'
SECRET = 'Zq7wXk2p'
MAIN = 'global_defs {\n  router_id test\n}\ninclude conf.d/*.conf\n'
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000


def _find_keepalived():
    return shutil.which('keepalived', path=os.environ.get('PATH', '') + ':/usr/sbin:/sbin')


def _find_interface():
    wanted = os.environ.get('FAILOVER_TEST_INTERFACE')
    if wanted:
        return wanted
    for name in sorted(os.listdir('/sys/class/net')):
        try:
            with open('/sys/class/net/%s/flags' % name) as handle:
                flags = int(handle.read().strip(), 16)
        except (OSError, ValueError):
            continue
        if flags & IFF_UP and flags & IFF_MULTICAST and not flags & IFF_LOOPBACK:
            return name
    return None


KEEPALIVED = _find_keepalived()
INTERFACE = _find_interface() if os.path.isdir('/sys/class/net') else None

pytestmark = [
    pytest.mark.skipif(KEEPALIVED is None, reason='keepalived is not installed (apt-get install keepalived)'),
    pytest.mark.skipif(INTERFACE is None, reason='no up, multicast-capable interface for VRRP'),
    pytest.mark.skipif(os.geteuid() != 0, reason='keepalived -t and root-owned files need root'),
]


def instance(name='VI_1', vrid=51, priority=100, extra=''):
    """Return an instance file that includes its secret file NAME.auth."""
    return (
        'vrrp_instance %s {\n'
        '  state BACKUP\n'
        '  interface %s\n'
        '  virtual_router_id %d\n'
        '  priority %d\n'
        '  advert_int 1\n'
        '%s'
        '  include %s.auth\n'
        '  virtual_ipaddress {\n'
        '    192.0.2.%d/32\n'
        '  }\n'
        '}\n' % (name, INTERFACE, vrid, priority, extra, name.lower(), vrid % 250)
    )


def auth(password=SECRET):
    return 'authentication {\n  auth_type PASS\n  auth_pass %s\n}\n' % password


def module_args(config_dir, **overrides):
    args = {
        'path': str(config_dir),
        'main': MAIN,
        'files': {'vi_1.conf': instance()},
        'secret_files': {'vi_1.auth': auth()},
    }
    args.update(overrides)
    return args


@pytest.fixture
def config_dir(tmp_path):
    return tmp_path / 'keepalived'


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_write(run_module, config_dir):
    result, _output = run_module(module_args(config_dir))
    assert result['changed'] is True
    assert result['validated'] is True
    assert result['changed_files'] == [
        str(config_dir / 'conf.d' / 'vi_1.auth'),
        str(config_dir / 'conf.d' / 'vi_1.conf'),
        str(config_dir / 'keepalived.conf'),
    ]
    assert result['removed_files'] == []
    assert (config_dir / 'keepalived.conf').read_text() == MAIN
    assert (config_dir / 'conf.d' / 'vi_1.conf').read_text() == instance()
    assert (config_dir / 'conf.d' / 'vi_1.auth').read_text() == auth()
    assert sorted(os.listdir(config_dir / 'conf.d')) == ['vi_1.auth', 'vi_1.conf']


@pytest.mark.parametrize('relpath, mode', [
    ('keepalived.conf', 0o644),
    ('conf.d', 0o755),
    ('conf.d/vi_1.conf', 0o644),
    ('conf.d/vi_1.auth', 0o600),
])
def test_modes_and_owner(run_module, config_dir, relpath, mode):
    run_module(module_args(config_dir))
    st = os.stat(config_dir / relpath)
    assert stat.S_IMODE(st.st_mode) == mode
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_second_run_changes_nothing_and_skips_validation(run_module, snapshot, config_dir):
    run_module(module_args(config_dir))
    before = snapshot(config_dir)
    # A keepalived that does not exist proves the unchanged run does not validate.
    result, _output = run_module(module_args(config_dir, keepalived_bin='/nonexistent/keepalived'), diff=True)
    assert result['changed'] is False
    assert result['validated'] is False
    assert result['changed_files'] == [] and result['removed_files'] == []
    assert 'diff' not in result
    assert snapshot(config_dir) == before


@pytest.mark.parametrize('prepare', ['empty', 'applied'])
def test_check_mode_touches_nothing(run_module, snapshot, config_dir, prepare):
    if prepare == 'applied':
        run_module(module_args(config_dir))
    before = snapshot(config_dir)
    args = module_args(config_dir, files={'vi_2.conf': instance('VI_2', 52)},
                       secret_files={'vi_2.auth': auth('other12')})
    result, _output = run_module(args, check=True, diff=True)
    assert result['changed'] is True
    assert result['validated'] is True
    assert str(config_dir / 'conf.d' / 'vi_2.conf') in result['changed_files']
    if prepare == 'applied':
        assert result['removed_files'] == [str(config_dir / 'conf.d' / 'vi_1.auth'),
                                           str(config_dir / 'conf.d' / 'vi_1.conf')]
    assert snapshot(config_dir) == before
    assert config_dir.exists() is (prepare == 'applied')


def test_check_mode_fails_on_bad_config(run_module, snapshot, config_dir):
    run_module(module_args(config_dir))
    before = snapshot(config_dir)
    result, _output = run_module(module_args(config_dir, files={'vi_1.conf': instance(priority=300)}), check=True)
    assert result['failed'] is True
    assert 'outside range' in result['msg']
    assert snapshot(config_dir) == before


def test_diff_shows_changes_and_masks_secrets(run_module, config_dir):
    run_module(module_args(config_dir))
    args = module_args(config_dir, files={'vi_1.conf': instance(priority=150)},
                       secret_files={'vi_1.auth': auth('N3wPassw')})
    result, raw = run_module(args, diff=True)
    assert result['changed'] is True
    assert result['changed_files'] == [str(config_dir / 'conf.d' / 'vi_1.auth'),
                                       str(config_dir / 'conf.d' / 'vi_1.conf')]
    diffs = {d['after_header']: d for d in result['diff']}
    conf = diffs['%s (mode 0644)' % (config_dir / 'conf.d' / 'vi_1.conf')]
    assert conf['before_header'] == '%s (mode 0644)' % (config_dir / 'conf.d' / 'vi_1.conf')
    assert '  priority 100\n' in conf['before'] and '  priority 150\n' in conf['after']
    secret = diffs['%s (mode 0600)' % (config_dir / 'conf.d' / 'vi_1.auth')]
    assert secret['before'] == '(secret content)\n'
    assert secret['after'] == '(secret content changed)\n'
    assert SECRET not in raw and 'N3wPassw' not in raw


def test_mode_drift_is_repaired(run_module, config_dir):
    run_module(module_args(config_dir))
    os.chmod(config_dir / 'conf.d' / 'vi_1.auth', 0o644)
    result, raw = run_module(module_args(config_dir), diff=True)
    assert result['changed'] is True
    assert result['changed_files'] == [str(config_dir / 'conf.d' / 'vi_1.auth')]
    assert result['diff'][0]['before'] == '(secret content unchanged)\n'
    assert result['diff'][0]['before_header'].endswith('(mode 0644)')
    assert mode_of(config_dir / 'conf.d' / 'vi_1.auth') == 0o600
    assert SECRET not in raw


@pytest.mark.parametrize('files, expected', [
    pytest.param({'vi_1.conf': instance(priority=300)}, "number '300' outside range", id='priority out of range'),
    pytest.param({'vi_1.conf': instance(extra='  no_such_keyword 1\n')}, "Unknown keyword 'no_such_keyword'",
                 id='unknown keyword'),
    pytest.param({'vi_1.conf': instance().replace(INTERFACE, 'nosuchif0')}, 'nosuchif0', id='unknown interface'),
])
def test_bad_config_rejected_and_live_untouched(run_module, snapshot, config_dir, files, expected):
    run_module(module_args(config_dir))
    stale = config_dir / 'conf.d' / 'stale.conf'
    stale.write_text('# left from an old instance\n')
    before = snapshot(config_dir)
    result, _output = run_module(module_args(config_dir, files=files), diff=True)
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['validated'] is False
    assert expected in result['msg']
    assert expected in result['validation_output']
    assert 'nothing was changed' in result['msg']
    assert snapshot(config_dir) == before


def test_bad_config_on_first_run_creates_nothing(run_module, config_dir):
    result, _output = run_module(module_args(config_dir, files={'vi_1.conf': instance(priority=0)}))
    assert result['failed'] is True
    assert not config_dir.exists()


def test_validation_output_names_live_paths(run_module, config_dir):
    result, raw = run_module(module_args(config_dir, files={'vi_1.conf': instance(priority=300)}))
    assert result['failed'] is True
    assert 'conf.d/vi_1.conf: Line 5' in result['validation_output']
    assert 'keepalived_config.' not in raw


def test_purge_removes_stale_instance(run_module, config_dir):
    two = module_args(config_dir, files={'vi_1.conf': instance(), 'vi_2.conf': instance('VI_2', 52)},
                      secret_files={'vi_1.auth': auth(), 'vi_2.auth': auth('Other123')})
    run_module(two)
    (config_dir / 'conf.d' / 'README').write_text('kept: matches no purge pattern\n')
    result, raw = run_module(module_args(config_dir), diff=True)
    assert result['changed'] is True
    assert result['changed_files'] == []
    assert result['removed_files'] == [str(config_dir / 'conf.d' / 'vi_2.auth'),
                                       str(config_dir / 'conf.d' / 'vi_2.conf')]
    assert sorted(os.listdir(config_dir / 'conf.d')) == ['README', 'vi_1.auth', 'vi_1.conf']
    removed = {d['before_header'].split(' ')[0]: d for d in result['diff']}
    assert removed[str(config_dir / 'conf.d' / 'vi_2.auth')]['before'] == '(secret content)\n'
    assert 'VI_2' in removed[str(config_dir / 'conf.d' / 'vi_2.conf')]['before']
    assert 'Other123' not in raw
    again, _output = run_module(module_args(config_dir))
    assert again['changed'] is False


def test_purge_false_keeps_unlisted_files(run_module, config_dir):
    run_module(module_args(config_dir, files={'vi_1.conf': instance(), 'vi_2.conf': instance('VI_2', 52)},
                           secret_files={'vi_1.auth': auth(), 'vi_2.auth': auth('Other123')}))
    result, _output = run_module(module_args(config_dir, purge=False))
    assert result['changed'] is False
    assert sorted(os.listdir(config_dir / 'conf.d')) == ['vi_1.auth', 'vi_1.conf', 'vi_2.auth', 'vi_2.conf']


def test_files_that_stay_are_validated_too(run_module, snapshot, config_dir):
    (config_dir / 'conf.d').mkdir(parents=True)
    (config_dir / 'conf.d' / 'local.conf').write_text('not_a_keepalived_keyword yes\n')
    before = snapshot(config_dir)
    result, _output = run_module(module_args(config_dir, purge_patterns=['vi_*.conf', 'vi_*.auth']))
    assert result['failed'] is True
    assert "Unknown keyword 'not_a_keepalived_keyword'" in result['msg']
    assert snapshot(config_dir) == before


@pytest.mark.parametrize('password, extra', [
    pytest.param(SECRET, SECRET + '\n', id='secret echoed as unknown keyword'),
    pytest.param(SECRET + 'AndMuchLonger', '', id='over-long password truncated'),
])
def test_secret_never_in_output(run_module, config_dir, password, extra):
    secret_file = auth(password).replace('}\n', extra + '}\n')
    args = module_args(config_dir, secret_files={'vi_1.auth': secret_file})
    for check in (True, False):
        result, raw = run_module(args, check=check, diff=True)
        assert result['failed'] is True
        assert password not in raw and password[:8] not in raw
        assert '********' in result['validation_output'] or 'Truncating' in result['validation_output']
    assert not config_dir.exists()


def test_secret_not_in_output_on_success(run_module, config_dir):
    for check in (True, False, False):
        result, raw = run_module(module_args(config_dir), check=check, diff=True)
        assert SECRET not in raw
        assert 'failed' not in result


def test_validate_false_applies_without_keepalived(run_module, config_dir):
    args = module_args(config_dir, validate=False, keepalived_bin='/nonexistent/keepalived')
    result, _output = run_module(args)
    assert result['changed'] is True
    assert result['validated'] is False
    assert 'validation_output' not in result
    assert (config_dir / 'keepalived.conf').read_text() == MAIN


def test_missing_keepalived_fails_cleanly(run_module, config_dir):
    result, _output = run_module(module_args(config_dir, keepalived_bin='/nonexistent/keepalived'))
    assert result['failed'] is True
    assert 'not an executable file' in result['msg']
    assert not config_dir.exists()


@pytest.mark.parametrize('overrides, message', [
    pytest.param({'files': {'../escape.conf': 'x'}}, 'plain name', id='path in name'),
    pytest.param({'files': {'vi_1.auth': 'x'}}, 'both files and secret_files', id='name twice'),
    pytest.param({'include_dir': '../elsewhere'}, 'below path', id='include_dir escapes'),
    pytest.param({'owner': 'no-such-user-here'}, 'owner', id='unknown owner'),
])
def test_bad_arguments(run_module, config_dir, overrides, message):
    result, raw = run_module(module_args(config_dir, **overrides))
    assert result['failed'] is True
    assert message in result['msg']
    assert SECRET not in raw
    assert not config_dir.exists()


def test_absolute_include_warns(run_module, config_dir):
    main = 'include %s/conf.d/*.conf\n' % config_dir
    result, _output = run_module(module_args(config_dir, main=main, validate=False))
    assert result['changed'] is True
    # ansible-core 2.19 reports warnings as structured events; older ones as strings.
    assert 'by absolute path' in json.dumps(result.get('warnings', []))


def test_other_entries_of_path_are_visible_to_validation(run_module, config_dir):
    (config_dir / 'extra').mkdir(parents=True)
    (config_dir / 'extra' / 'globals.conf').write_text('global_defs {\n  router_id from_extra\n}\n')
    main = 'include extra/globals.conf\ninclude conf.d/*.conf\n'
    result, _output = run_module(module_args(config_dir, main=main))
    assert result['changed'] is True and result['validated'] is True
    (config_dir / 'extra' / 'globals.conf').write_text('global_defs {\n  bogus_global_kw 1\n}\n')
    result, _output = run_module(module_args(config_dir, main=main + '# changed\n'))
    assert result['failed'] is True
    assert "Unknown keyword 'bogus_global_kw'" in result['msg']


def test_config_tracking_a_script_validates(run_module, config_dir):
    """keepalived 2.2.7 kills its own config test when an instance tracks a script; the module must not."""
    main = ('global_defs {\n  router_id test\n  enable_script_security\n  script_user nobody\n}\n'
            'vrrp_script chk {\n  script "/bin/true"\n  interval 1\n  weight -20\n}\n'
            'include conf.d/*.conf\n')
    tracked = instance(extra='  track_script {\n    chk\n  }\n')
    result, _output = run_module(module_args(config_dir, main=main, files={'vi_1.conf': tracked}))
    assert result.get('failed') is not True, result
    assert result['changed'] and result['validated']
    assert (config_dir / 'conf.d' / 'vi_1.conf').read_text() == tracked


def test_defer_if_holding_applies_when_keepalived_is_not_running(run_module, config_dir, tmp_path):
    args = module_args(config_dir, defer_if_holding=True, pid_file=str(tmp_path / 'no-such.pid'))
    result, _output = run_module(args)
    assert (result['changed'], result['deferred']) == (True, False)
    assert (config_dir / 'conf.d' / 'vi_1.conf').read_text() == instance()


def test_defer_if_holding_never_reads_state_without_a_change(run_module, config_dir, tmp_path):
    run_module(module_args(config_dir))
    # A PID file that would make any state reading fail: an unchanged run must not read it.
    (tmp_path / 'bad.pid').write_text('%d\n' % os.getpid())
    result, _output = run_module(module_args(config_dir, defer_if_holding=True, pid_file=str(tmp_path / 'bad.pid')))
    assert (result['changed'], result['deferred']) == (False, False)
    assert 'warnings' not in result


def test_defer_if_holding_defers_when_state_cannot_be_read(run_module, snapshot, config_dir, tmp_path):
    """A keepalived that answers no dump request might hold a VIP: it waits for the second pass."""
    run_module(module_args(config_dir))
    before = snapshot(config_dir)
    # A process named keepalived* that ignores every signal keepalived dumps on.
    fake = tmp_path / 'keepalived-silent'
    shutil.copy('/bin/sleep', str(fake))
    numbers = []
    for kind in ('JSON', 'DATA'):
        out = subprocess.run([KEEPALIVED, '--signum=%s' % kind], capture_output=True, text=True, check=False).stdout
        if out.strip().isdigit():
            numbers.append(int(out))

    def ignore():
        for number in numbers:
            signal.signal(number, signal.SIG_IGN)

    proc = subprocess.Popen([str(fake), '60'], preexec_fn=ignore)
    try:
        (tmp_path / 'silent.pid').write_text('%d\n' % proc.pid)
        args = module_args(config_dir, files={'vi_1.conf': instance(priority=150)}, defer_if_holding=True,
                           pid_file=str(tmp_path / 'silent.pid'))
        result, _output = run_module(args, diff=True)
    finally:
        proc.kill()
        proc.wait()
    assert (result['changed'], result['deferred'], result['vips_held']) == (False, True, [])
    assert result['validated'] is True and 'diff' not in result
    assert 'treating it as a holder' in json.dumps(result['warnings'])
    assert snapshot(config_dir) == before


@pytest.mark.parametrize('running', [True, False], ids=['keepalived runs', 'keepalived does not run'])
def test_running_command_is_what_the_running_keepalived_started_with(run_module, config_dir, tmp_path, running):
    """Read from /proc on every call, changed or not: the arguments a reload cannot change."""
    (tmp_path / 'sbin').mkdir()
    fake = tmp_path / 'sbin' / 'keepalived'
    shutil.copy('/bin/sleep', str(fake))
    proc = subprocess.Popen([str(fake), '60', '1'] if running else ['true'])
    if not running:
        proc.wait()
    try:
        (tmp_path / 'keepalived.pid').write_text('%d\n' % proc.pid)
        expected = [str(fake), '60', '1'] if running else None
        args = module_args(config_dir, pid_file=str(tmp_path / 'keepalived.pid'))
        first, _output = run_module(args)
        again, _output = run_module(args)
        assert (first['changed'], again['changed']) == (True, False)
        assert first['running_command'] == again['running_command'] == expected
    finally:
        proc.kill()
        proc.wait()


def test_reload_marker_is_written_with_the_files_and_kept_until_removed(run_module, config_dir, tmp_path):
    """A run stopped between putting the files in place and the reload is completed by the next one."""
    marker = tmp_path / 'reload-pending'
    result, _output = run_module(module_args(config_dir, reload_marker=str(marker)))
    assert (result['changed'], result['reload_pending']) == (True, True) and marker.exists()
    # Nothing left to write, but the reload never came: still pending.
    result, _output = run_module(module_args(config_dir, reload_marker=str(marker)))
    assert (result['changed'], result['reload_pending']) == (False, True)
    marker.unlink()  # the caller reloaded keepalived
    result, _output = run_module(module_args(config_dir, reload_marker=str(marker)))
    assert (result['changed'], result['reload_pending']) == (False, False) and not marker.exists()


@pytest.mark.parametrize('case', ['check mode', 'rejected'])
def test_reload_marker_is_not_written_when_nothing_is_put_in_place(run_module, config_dir, tmp_path, case):
    marker = tmp_path / 'reload-pending'
    if case == 'check mode':
        result, _output = run_module(module_args(config_dir, reload_marker=str(marker)), check=True)
        assert result['changed'] is True
    else:
        result, _output = run_module(module_args(config_dir, reload_marker=str(marker),
                                                 files={'vi_1.conf': 'vrrp_instance {\n'}))
        assert result.get('failed') is True
    assert result['reload_pending'] is False and not marker.exists()


def test_a_write_that_fails_leaves_every_live_file_and_no_marker(
        run_module, module_background, snapshot, config_dir, tmp_path):
    """Files may not grow past 400 bytes (prlimit --fsize: the kernel refuses the write, as a full file
    system does): the instance file is bigger, so nothing of the new tree goes live, the marker neither.
    (Without validation: its private copy of the tree would hit the limit first.)"""
    marker = tmp_path / 'reload-pending'
    first, _output = run_module(module_args(config_dir))
    assert first['changed'] is True
    before = snapshot(config_dir)
    args = module_args(config_dir, reload_marker=str(marker), validate=False, main=MAIN + '# changed\n',
                       files={'vi_1.conf': instance(extra='#' * 500 + '\n')})
    result = module_background(MODULE, args, prefix=['prlimit', '--fsize=400'])()
    assert result.get('failed') is True and result['changed'] is False, result
    assert 'writing the new configuration failed, the live files are as they were' in result['msg']
    assert 'File too large' in result['msg'] and SECRET not in json.dumps(result)
    # Every file as it was (a directory's time changes: the temporary files came and went there).
    assert {name: found[:4] for name, found in snapshot(config_dir).items()} == {
        name: found[:4] for name, found in before.items()}
    assert all(found[4] == before[name][4] for name, found in snapshot(config_dir).items() if found[1] is not None)
    assert not marker.exists()
