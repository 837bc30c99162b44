# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Remediation (restart, settle, re-check, rate limit), the hard timeout, and syslog."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hc_support import free_port, pids_left, program_argv, program_module, wait_for

remediation = program_module("remediation")

SERVICE = r'''
"""A tiny TCP service. With --daemon it starts itself in the background and returns once it listens."""
import os, socket, sys, time
args = sys.argv[1:]
if args[0] == "--daemon":
    port, pidfile = int(args[1]), args[2]
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(sys.executable, [sys.executable, __file__, "--serve", str(port), pidfile])
        os._exit(0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            sys.exit(0)
        except OSError:
            time.sleep(0.02)
    sys.exit("service did not start")
port, pidfile = int(args[1]), args[2]
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen(16)
with open(pidfile + ".tmp", "w") as handle:
    handle.write(str(os.getpid()))
os.replace(pidfile + ".tmp", pidfile)
while True:
    sock.accept()[0].close()
'''


class Service:
    def __init__(self, directory):
        self.script = directory / "hc_service.py"
        self.script.write_text(SERVICE)
        self.port = free_port()
        self.pidfile = directory / "service.pid"
        self.start_command = shlex.join([sys.executable, str(self.script), "--daemon", str(self.port), str(self.pidfile)])

    def start(self):
        subprocess.run(shlex.split(self.start_command), check=True, timeout=20)

    def pid(self):
        return int(self.pidfile.read_text())

    def answers(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def kill(self):
        try:
            os.kill(self.pid(), signal.SIGKILL)
        except (OSError, ValueError):
            return
        wait_for(lambda: not self.answers(), what="the service to die")


@pytest.fixture
def service(tmp_path):
    svc = Service(tmp_path)
    yield svc
    svc.kill()


def read_state(path):
    return json.loads(Path(path).read_text())


# --- remediation ---------------------------------------------------------------------------------


def test_remediation_restarts_a_killed_service(service, tmp_path, run_cli):
    state = tmp_path / "state.json"
    service.start()
    first_pid = service.pid()
    service.kill()
    assert run_cli("tcp", "--port", service.port).rc == 1
    result = run_cli("--timeout", "8", "--remediate-command", service.start_command, "--remediate-settle", "0.2",
                     "--remediate-state", state, "tcp", "--port", service.port)
    assert (result.rc, result.out, result.err) == (0, "", "")
    assert service.answers()
    assert service.pid() != first_pid
    restarts = read_state(state)["restarts"][f"command:{service.start_command}"]
    assert len(restarts) == 1 and abs(restarts[0] - time.time()) < 30
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    # Healthy now: a further run neither remediates nor records anything.
    assert run_cli("--timeout", "8", "--remediate-command", service.start_command, "--remediate-settle", "0.2",
                   "--remediate-state", state, "tcp", "--port", service.port).rc == 0
    assert len(read_state(state)["restarts"][f"command:{service.start_command}"]) == 1


def test_remediation_verbose_and_in_process(service, tmp_path, run_check):
    state = tmp_path / "state.json"
    result = run_check("--verbose", "--timeout", "8", "--remediate-command", service.start_command,
                       "--remediate-settle", "0.1", "--remediate-state", state, "tcp", "--port", service.port)
    assert result.rc == 0, result
    assert f"remediating with: {service.start_command}" in result.out
    assert "healthy again after remediation" in result.out
    assert result.err == ""


def test_remediation_that_does_not_help(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    counter = tmp_path / "counter"
    command = f"sh -c 'echo restart >> {counter}'"
    result = run_cli("--timeout", "3", "--remediate-command", command, "--remediate-settle", "0",
                     "--remediate-state", tmp_path / "state.json", "file", "--path", down)
    assert result.rc == 1
    assert result.reason == (f"keepalived-check file: maintenance file {down} exists "
                             f"(still failing after remediation with {command})")
    assert counter.read_text() == "restart\n"


def test_rate_limit_across_invocations(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    counter = tmp_path / "counter"
    state = tmp_path / "state.json"
    command = f"sh -c 'echo restart >> {counter}'"
    argv = ["--timeout", "3", "--remediate-command", command, "--remediate-settle", "0", "--remediate-max", "2",
            "--remediate-state", state, "file", "--path", down]
    for expected_restarts in (1, 2):
        assert run_cli(*argv).rc == 1
        assert counter.read_text().count("restart") == expected_restarts
        assert len(read_state(state)["restarts"][f"command:{command}"]) == expected_restarts
    result = run_cli(*argv)
    assert result.rc == 1
    assert result.reason == (f"keepalived-check file: maintenance file {down} exists; remediation limit reached: "
                             "2 restart(s) in the last 3600s (--remediate-max 2), not restarting")
    assert counter.read_text().count("restart") == 2
    # Another remediation target has its own budget in the same state file.
    other = f"sh -c 'echo other >> {counter}'"
    assert run_cli("--timeout", "3", "--remediate-command", other, "--remediate-settle", "0", "--remediate-max", "2",
                   "--remediate-state", state, "file", "--path", down).rc == 1
    assert counter.read_text().count("other") == 1
    assert sorted(read_state(state)["restarts"]) == sorted([f"command:{command}", f"command:{other}"])
    # Once the service is healthy again the check passes, the limit notwithstanding.
    down.unlink()
    assert run_cli(*argv).rc == 0


def test_rate_limit_window_expires(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    counter = tmp_path / "counter"
    argv = ["--timeout", "3", "--remediate-command", f"sh -c 'echo x >> {counter}'", "--remediate-settle", "0",
            "--remediate-max", "1", "--remediate-window", "1", "--remediate-state", tmp_path / "s.json",
            "file", "--path", down]
    run_cli(*argv)
    assert "remediation limit reached" in run_cli(*argv).reason
    time.sleep(1.1)
    assert "still failing after remediation" in run_cli(*argv).reason
    assert counter.read_text().count("x") == 2


def test_damaged_state_file_starts_over(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    state = tmp_path / "state.json"
    state.write_text("{not json")
    result = run_cli("--timeout", "3", "--remediate-command", "true", "--remediate-settle", "0",
                     "--remediate-state", state, "file", "--path", down)
    assert "still failing after remediation" in result.reason
    assert len(read_state(state)["restarts"]["command:true"]) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("command, reason", [
    ("false", "remediation (false) failed with exit status 1: no output"),
    ("sh -c 'echo cannot restart >&2; exit 3'", "failed with exit status 3: cannot restart"),
    ("/nonexistent/restart-it", "cannot run /nonexistent/restart-it: no such file or directory"),
])
def test_failing_remediation(tmp_path, run_check, command, reason):
    down = tmp_path / "down"
    down.touch()
    result = run_check("--timeout", "3", "--remediate-command", command, "--remediate-settle", "0",
                       "--remediate-state", tmp_path / "s.json", "file", "--path", down)
    assert result.rc == 1
    assert result.reason.endswith(reason), result.reason
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("unit, command, euid, argv", [
    ("haproxy.service", None, 0, ["systemctl", "restart", "haproxy.service"]),
    ("haproxy.service", None, 1000, ["sudo", "-n", "systemctl", "restart", "haproxy.service"]),
    (None, "/usr/sbin/service haproxy restart", 1000, ["/usr/sbin/service", "haproxy", "restart"]),
    (None, "sh -c 'a b'", 0, ["sh", "-c", "a b"]),
])
def test_remediation_argv(unit, command, euid, argv):
    assert remediation.remediation_argv(unit, command, euid) == argv


@pytest.mark.parametrize("remediate_state, state_dir, expected", [
    ("/x/state.json", None, "/x/state.json"),
    ("/x/state.json", "/run/hc", "/x/state.json"),
    (None, "/run/hc", "/run/hc/remediation.json"),
])
def test_state_file(remediate_state, state_dir, expected):
    assert remediation.state_file(remediate_state, state_dir) == expected


def test_state_dir_holds_the_rate_limit(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    state_dir = tmp_path / "state"
    argv = ["--timeout", "3", "--remediate-command", "true", "--remediate-settle", "0", "--remediate-max", "1",
            "--state-dir", state_dir, "file", "--path", down]
    assert "still failing after remediation" in run_cli(*argv).reason
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert len(read_state(state_dir / "remediation.json")["restarts"]["command:true"]) == 1
    assert "remediation limit reached" in run_cli(*argv).reason
    # --remediate-state wins over --state-dir.
    other = tmp_path / "other.json"
    assert "still failing after remediation" in run_cli(*argv[:-3], "--remediate-state", other, *argv[-3:]).reason
    assert len(read_state(other)["restarts"]["command:true"]) == 1


@pytest.fixture
def shared_tmp():
    """A sticky world-writable directory that an unprivileged user can reach (pytest's is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="hc-tmp-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path)


def test_default_state_file_for_an_unprivileged_user(shared_tmp):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    tmp_path = shared_tmp
    down = tmp_path / "down"
    down.touch()
    code = ("import os, sys; os.setgid(65534); os.setuid(65534); "
            f"os.execv('/usr/bin/python3', {program_argv('/usr/bin/python3')!r} + ['--timeout', '3', '--remediate-command', "
            f"'true', '--remediate-settle', '0', 'file', '--path', {str(down)!r}])")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1 and "still failing after remediation" in proc.stderr, proc.stderr
    directory = tmp_path / "keepalived-check-65534"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == 65534
    assert len(read_state(directory / "remediation.json")["restarts"]["command:true"]) == 1


# --- the hard timeout ------------------------------------------------------------------------------


def test_hung_remediation_is_killed_with_its_children(tmp_path, run_cli):
    down = tmp_path / "down"
    down.touch()
    command = "sh -c 'sleep 30.123 & sleep 30.456 & wait'"
    result = run_cli("--timeout", "1.5", "--remediate-command", command, "--remediate-settle", "0",
                     "--remediate-state", tmp_path / "s.json", "file", "--path", down)
    assert result.rc == 1
    assert result.elapsed < 2.1, result.elapsed
    assert result.err.count("\n") == 1
    assert pids_left("sleep 30.123") == []
    assert pids_left("sleep 30.456") == []


def test_hard_timeout_fires_even_when_the_check_would_wait_longer(http_server, run_cli):
    url = http_server.url("/slow")
    result = run_cli("--timeout", "1", "--check-timeout", "30", "http", "--url", url)
    assert result.rc == 1
    assert result.elapsed < 1.5, result.elapsed
    assert result.reason == f"keepalived-check http: GET {url}: no result within the --timeout of 1s, gave up"


def test_hard_timeout_in_process_restores_the_alarm(http_server, run_check):
    before = signal.getsignal(signal.SIGALRM)
    result = run_check("--timeout", "0.5", "--check-timeout", "30", "http", "--url", http_server.url("/slow"))
    assert result.rc == 1
    assert result.elapsed < 1.0
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_hung_systemctl_style_child_is_killed(tmp_path, run_cli):
    # A check command that never ends: the remediation re-check budget and the hard limit both
    # bound it; whatever the check started is gone afterwards.
    down = tmp_path / "down"
    down.touch()
    marker = "sleep 31.789"
    result = run_cli("--timeout", "1", "--check-timeout", "0.2", "--remediate-command", f"sh -c '{marker}'",
                     "--remediate-settle", "0", "--remediate-state", tmp_path / "s.json", "file", "--path", down)
    assert result.rc == 1
    assert result.elapsed < 1.6
    assert pids_left(marker) == []


# --- syslog --------------------------------------------------------------------------------------


def test_syslog_gets_the_reason(tmp_path):
    """Run the program in a private mount namespace whose /dev/log is a socket this test reads."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare (util-linux) for a private /dev/log")
    log_socket = tmp_path / "log.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(log_socket))
    receiver.settimeout(5)
    port = free_port()
    script = (f"mount -t tmpfs hc-dev /dev && : > /dev/log && mount --bind {shlex.quote(str(log_socket))} /dev/log && "
              f"exec {shlex.join(program_argv('/usr/bin/python3'))} --syslog tcp --port {port}")
    proc = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30, check=False)
    if "mount" in proc.stderr and proc.returncode != 1:
        pytest.skip(f"cannot make a private /dev/log here: {proc.stderr.strip()}")
    assert proc.returncode == 1
    message = receiver.recv(4096).decode()
    receiver.close()
    assert message.startswith("<28>")  # facility daemon, severity warning
    assert "keepalived-check[" in message
    assert message.endswith(f"keepalived-check tcp: connect to 127.0.0.1 port {port}: connection refused")
    assert proc.stderr == f"keepalived-check tcp: connect to 127.0.0.1 port {port}: connection refused\n"
