# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one harness of the plugin tests; the test files beside it hold tables of cases.

- The checkout is importable as ansible_collections.failover.keepalived:
  under ``ansible-test units`` it already sits at such a path; from a plain
  checkout a temporary directory with a symbolic link stands in for it.
- ``module_runner`` runs a module in a subprocess as Ansible does, and
  ``run_module`` the one a test file names in ``MODULE``; ``module_main`` runs a module's main() in this process with a scripted probe
  in place of keepalived.
- The real captures of keepalived 2.2.7 and 2.3.3 under
  module_utils/fixtures/ as texts (``capture_text``) and as readings
  (``capture_status``); ``scripted_probe`` replays readings, ``fake_host``
  is a /proc with a keepalived whose signals write captured dumps, and
  ``fake_clock`` a clock that moves only when the code sleeps.
- ``snapshot`` records a directory tree, to prove that nothing changed.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'module_utils', 'fixtures')


def _collections_root():
    """Return a directory that holds ansible_collections/failover/keepalived -> REPO."""
    parts = REPO.split(os.sep)
    if parts[-3:-1] == ['ansible_collections', 'failover'] and parts[-1] == 'keepalived':
        return os.sep.join(parts[:-3])
    root = tempfile.mkdtemp(prefix='failover-keepalived-tests.')
    os.makedirs(os.path.join(root, 'ansible_collections', 'failover'))
    os.symlink(REPO, os.path.join(root, 'ansible_collections', 'failover', 'keepalived'))
    atexit.register(shutil.rmtree, root, True)
    return root


COLLECTIONS_ROOT = _collections_root()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)


@pytest.fixture(scope='session')
def collections_root():
    """The directory to put on PYTHONPATH so modules find their module_utils."""
    return COLLECTIONS_ROOT


@pytest.fixture(scope='session')
def repo_root():
    """The checkout."""
    return REPO


def _ansible_root():
    """Return the directory the running tests import ``ansible`` from.

    From the repository's virtual environment that is its site-packages; under
    ``ansible-test units`` it is the copy of ansible-core that ansible-test puts
    on the path of its own environment, where ``ansible`` is not installed.
    """
    spec = importlib.util.find_spec('ansible')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('the tests cannot import ansible')
    return os.path.dirname(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope='session')
def module_env():
    """The environment to run a module in a subprocess of sys.executable.

    Its PYTHONPATH holds the collection root (for the module's module_utils)
    and the ansible-core the tests use (for ansible.module_utils), ahead of
    whatever PYTHONPATH the tests run with.
    """
    paths = [COLLECTIONS_ROOT, _ansible_root()]
    inherited = os.environ.get('PYTHONPATH')
    if inherited:
        paths.append(inherited)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


@pytest.fixture
def module_runner(tmp_path, module_env, repo_root):
    """Return run(NAME, ARGS, check=False, diff=False) -> (result, raw output).

    It runs plugins/modules/NAME.py in a subprocess, the way Ansible does,
    with ARGS plus the check and diff flags in a JSON arguments file.
    """
    counter = [0]

    def run(name, args, check=False, diff=False):
        counter[0] += 1
        args_file = tmp_path / ('args-%d.json' % counter[0])
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(
            args, _ansible_check_mode=check, _ansible_diff=diff)}))
        proc = subprocess.run(
            [sys.executable, os.path.join(repo_root, 'plugins', 'modules', name + '.py'), str(args_file)],
            capture_output=True, text=True, env=module_env, cwd=str(tmp_path), timeout=60, check=False,
        )
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            pytest.fail('module printed no JSON (rc %d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
        assert (proc.returncode != 0) == bool(result.get('failed')), proc.stderr
        return result, proc.stdout + proc.stderr

    return run


@pytest.fixture
def module_background(tmp_path, module_env, repo_root):
    """Return start(NAME, ARGS, prefix=()) -> finish(): NAME runs in a subprocess (after the command
    ``prefix``, e.g. ``ip netns exec NS``) while the test goes on; finish() waits for its result."""
    procs = []

    def start(name, args, prefix=()):
        args_file = tmp_path / ('background-%d.json' % len(procs))
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        proc = subprocess.Popen(
            list(prefix) + [sys.executable, os.path.join(repo_root, 'plugins', 'modules', name + '.py'), str(args_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=module_env, cwd=str(tmp_path))
        procs.append(proc)

        def finish(timeout=60):
            out, err = proc.communicate(timeout=timeout)
            try:
                return json.loads(out)
            except ValueError:
                pytest.fail('module printed no JSON (rc %d):\n%s\n%s' % (proc.returncode, out, err))
        return finish

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def netns():
    """A fresh network namespace with a veth pair v0/v1 up (no address, no route out), removed afterwards."""
    if os.geteuid() != 0 or not shutil.which('ip'):
        pytest.skip('needs root and ip netns')
    name = 'fk-unit-%d-%s' % (os.getpid(), os.urandom(3).hex())
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        for argv in (['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'],
                     ['link', 'set', 'v0', 'up'], ['link', 'set', 'v1', 'up']):
            subprocess.run(['ip', '-n', name] + argv, check=True)
        yield name
    finally:
        subprocess.run(['ip', 'netns', 'delete', name], check=False)


@pytest.fixture
def run_module(module_runner, request):
    """Return run(ARGS, check=False, diff=False) -> (result, raw output) for the test file's MODULE."""
    name = request.module.MODULE
    return lambda args, check=False, diff=False: module_runner(name, args, check, diff)


# ---------------------------------------------------------------------------
# Real captures of keepalived, and fakes that replay them
# ---------------------------------------------------------------------------

def _capture_text(capture, kind):
    """The text of module_utils/fixtures/keepalived-CAPTURE.KIND (kind: json, data, ip.json, ip.txt)."""
    with open(os.path.join(FIXTURES, 'keepalived-%s.%s' % (capture, kind)), encoding='utf-8') as handle:
        return handle.read()


def _capture_status(capture, use_json=True, use_data=True):
    """The reading a probe builds from one capture; None: keepalived stopped (2.2.7-drained's addresses)."""
    from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_parse as kp

    if capture is None:
        return kp.build_status(False, addresses=kp.parse_ip_json(_capture_text('2.2.7-drained', 'ip.json')))
    json_instances = kp.parse_json_dump(_capture_text(capture, 'json')) if use_json else None
    data = kp.parse_data_dump(_capture_text(capture, 'data')) if use_data else None
    return kp.build_status(
        True, pid=1,
        instances=kp.merge_instances(json_instances, data),
        scripts=(data or {}).get('scripts'),
        addresses=kp.parse_ip_json(_capture_text(capture, 'ip.json')),
    )


class FakeClock:
    """A monotonic clock that moves only when the code sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedProbe:
    """Stands in for KeepalivedProbe: one capture per reading, the last one repeats.

    A capture is a name under fixtures/, None for keepalived stopped, or an
    exception to raise. ``calls`` lists the readings asked for ('status',
    'vip_status'); ``init_kwargs`` what a module built its probe with.
    """

    def __init__(self, captures):
        self.captures = list(captures)
        self.clock = FakeClock()
        self.sleep = self.clock.sleep
        self.calls = []
        self.init_kwargs = None

    def _next(self):
        capture = self.captures.pop(0) if len(self.captures) > 1 else self.captures[0]
        if isinstance(capture, Exception):
            raise capture
        return _capture_status(capture)

    def status(self):
        self.calls.append('status')
        return self._next()

    def vip_status(self):
        self.calls.append('vip_status')
        return self._next()


# Signal numbers the fake keepalived answers --signum with.
SIGNUMS = {'JSON': 36, 'DATA': 10}


class FakeHost:
    """A /proc with one keepalived (pid 4242) whose signals write the captured dumps.

    ``run_command``, ``kill`` and ``clock`` are what a KeepalivedProbe is
    given; ``commands`` and ``signals`` record what it did.
    """

    def __init__(self, tmp_path, capture='2.2.7-master', tmpdir='/tmp', comm='keepalived',
                 json_supported=True, writes=True):
        self.capture = capture
        self.writes = writes
        self.json_supported = json_supported
        self.clock = FakeClock()
        self.commands = []
        self.signals = []
        self.pid_file = tmp_path / 'keepalived.pid'
        self.pid_file.write_text('4242\n')
        self.proc = tmp_path / 'proc'
        process = self.proc / '4242'
        process.mkdir(parents=True)
        (process / 'comm').write_text(comm + '\n')
        environ = b'PATH=/usr/bin\0'
        if tmpdir != '/tmp':
            environ += b'TMPDIR=' + tmpdir.encode() + b'\0'
        (process / 'environ').write_bytes(environ)
        # keepalived's own view of the file system: with a private /tmp the
        # dumps exist only there.
        self.rootfs = tmp_path / 'rootfs'
        self.dump_dir = self.rootfs / tmpdir.lstrip('/')
        self.dump_dir.mkdir(parents=True)
        (process / 'root').symlink_to(self.rootfs)

    def run_command(self, args):
        self.commands.append(args)
        if args[0] == 'keepalived' and args[1].startswith('--signum='):
            kind = args[1].split('=', 1)[1]
            if kind == 'JSON' and not self.json_supported:
                return 1, '', 'Unknown signal JSON'
            return 0, '%d\n' % SIGNUMS[kind], ''
        if args[0] == 'keepalived' and args[1] == '--version':
            return 0, '', 'Keepalived v%s (01/16,2022)\n' % self.capture.split('-')[0]
        if args[:3] == ['ip', '-j', 'addr']:
            return 0, _capture_text(self.capture, 'ip.json'), ''
        if args[:3] == ['ip', '-o', 'addr']:
            return 0, _capture_text(self.capture, 'ip.txt'), ''
        raise AssertionError('unexpected command %r' % (args,))

    def kill(self, pid, signum):
        self.signals.append((pid, signum))
        if not self.writes:
            return
        kind = 'json' if signum == SIGNUMS['JSON'] else 'data'
        (self.dump_dir / ('keepalived.' + kind)).write_text(_capture_text(self.capture, kind))

    def stale_dumps(self, capture='2.2.7-master'):
        """Leave dumps of CAPTURE in the dump directory, as an earlier reading would have."""
        for kind in ('json', 'data'):
            (self.dump_dir / ('keepalived.' + kind)).write_text(_capture_text(capture, kind))

    def probe(self, **kwargs):
        from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_probe import KeepalivedProbe

        return KeepalivedProbe(
            self.run_command, pid_file=str(self.pid_file), proc=str(self.proc),
            clock=self.clock, sleep=self.clock.sleep, kill=self.kill, **kwargs)


@pytest.fixture(scope='session')
def capture_text():
    """Return text(CAPTURE, KIND) of a real capture under module_utils/fixtures/."""
    return _capture_text


@pytest.fixture(scope='session')
def capture_status():
    """Return status(CAPTURE, use_json=True, use_data=True): the reading built from a real capture."""
    return _capture_status


@pytest.fixture
def fake_clock():
    return FakeClock()


@pytest.fixture
def scripted_probe():
    """Return ScriptedProbe(CAPTURES)."""
    return ScriptedProbe


@pytest.fixture
def fake_host(tmp_path):
    """Return host(**options): a FakeHost in this test's temporary directory."""
    return lambda **options: FakeHost(tmp_path, **options)


# ---------------------------------------------------------------------------
# Running modules
# ---------------------------------------------------------------------------

class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture
def module_main(monkeypatch):
    """Return run(MODULE, ARGS, CAPTURES, check_mode=False, diff=False) -> (failed, result, probe).

    It calls MODULE's main() (a module object of plugins/modules) with ARGS
    as Ansible passes them; the module's KeepalivedProbe is a ScriptedProbe
    that replays CAPTURES, and exit_json and fail_json end the call.
    """
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.failover.keepalived.plugins.module_utils import _keepalived_probe

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: '/usr/sbin/' + name)

    def run(module, args, captures, check_mode=False, diff=False):
        probe = ScriptedProbe(captures)

        def make_probe(run_command, **kwargs):
            probe.init_kwargs = kwargs
            return probe

        monkeypatch.setattr(_keepalived_probe, 'KeepalivedProbe', make_probe)
        with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)):
            with pytest.raises((ExitJson, FailJson)) as raised:
                module.main()
        return raised.type is FailJson, raised.value.args[0], probe

    return run


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def _snapshot(top):
    """{relative path: (type, bytes or link target, mode, uid, mtime_ns)} of everything below TOP."""
    found = {}
    for root, dirs, names in os.walk(top):
        for name in dirs + names:
            full = os.path.join(root, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                with open(full, 'rb') as handle:
                    data = handle.read()
            else:
                data = None
            found[os.path.relpath(full, top)] = (stat.S_IFMT(st.st_mode), data, stat.S_IMODE(st.st_mode),
                                                 st.st_uid, st.st_mtime_ns)
    return found


@pytest.fixture(scope='session')
def snapshot():
    """Return snapshot(TOP): every entry below TOP with its content, mode, owner and mtime ({} if missing)."""
    return _snapshot
