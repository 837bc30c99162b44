# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""process and systemd checks against real processes: live, zombie, stopped, pid files."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hc_support import NAMED_SLEEPER, proc_state, program_argv, program_module, unique, wait_for

process = program_module("checks.process")


def test_live_process_by_name(processes, run_check):
    processes.named("hc-live-1")
    result = run_check("process", "--name", "hc-live-1")
    assert (result.rc, result.err) == (0, "")


def test_missing_process_by_name(run_check):
    result = run_check("process", "--name", "hc-absent-1")
    assert result.rc == 1
    assert result.reason == "keepalived-check process: no process with name hc-absent-1"


def test_name_is_exact_not_a_substring(processes, run_check):
    processes.named("hc-exact-name")
    assert run_check("process", "--name", "hc-exact").rc == 1
    assert run_check("process", "--name", "hc-exact-name").rc == 0


def test_zombie_is_unhealthy_although_killall_accepts_it(processes, run_check):
    name = unique("hc-zomb")
    pid = processes.zombie(name)
    assert proc_state(pid) == "Z"
    result = run_check("process", "--name", name)
    assert result.rc == 1
    assert result.reason == f"keepalived-check process: no live process with name {name} (pid {pid} is a zombie)"
    killall = shutil.which("killall")
    if killall:
        # The seed's `killall -0 NAME` calls this zombie healthy; that is why the check reads /proc.
        assert subprocess.run([killall, "-0", name], capture_output=True, check=False).returncode == 0


def test_stopped_process_is_unhealthy_until_continued(processes, run_check):
    proc = processes.stopped("hc-stopped-1")
    result = run_check("process", "--name", "hc-stopped-1")
    assert result.rc == 1
    assert f"pid {proc.pid} is stopped" in result.reason
    os.kill(proc.pid, signal.SIGCONT)
    wait_for(lambda: proc_state(proc.pid) in ("S", "R"), what="the process to continue")
    assert run_check("process", "--name", "hc-stopped-1").rc == 0


def test_a_live_process_beside_a_zombie_is_enough(processes, run_check):
    name = unique("hc-mixed")
    processes.zombie(name)
    processes.named(name)
    assert run_check("process", "--name", name).rc == 0


def test_min_count(processes, run_check):
    name = unique("hc-count")
    processes.named(name)
    processes.named(name)
    processes.zombie(name)
    assert run_check("process", "--name", name, "--min-count", "2").rc == 0
    result = run_check("process", "--name", name, "--min-count", "3")
    assert result.rc == 1
    assert f"2 live process(es) with name {name}, expected at least 3" in result.reason
    assert "is a zombie" in result.reason


def test_cmdline_substring(processes, run_check):
    processes.named("hc-cmd-1", "--config=/etc/hc-marker-4711.cfg")
    assert run_check("process", "--cmdline", "hc-marker-4711.cfg").rc == 0
    assert run_check("process", "--cmdline", "hc-marker-4712.cfg").rc == 1


def test_cmdline_never_matches_the_check_itself(run_cli):
    # The check's own command line contains the substring; like `grep -v grep`, it must not count.
    result = run_cli("process", "--cmdline", "hc-only-in-my-own-argv-0815")
    assert result.rc == 1
    # ... nor a shell wrapper that carries it (keepalived may run scripts through one).
    proc = subprocess.run(["/bin/sh", "-c", f"{shlex.join(program_argv())} process --cmdline hc-only-in-my-own-argv-0816; exit $?"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr


def test_pidfile(processes, tmp_path, run_check):
    proc = processes.named("hc-pidfile-1")
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text(f"{proc.pid}\n")
    assert run_check("process", "--pidfile", pidfile).rc == 0
    assert run_check("process", "--pidfile", pidfile, "--name", "hc-pidfile-1").rc == 0
    assert run_check("process", "--pidfile", pidfile, "--name", "hc-other").rc == 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = run_check("process", "--pidfile", pidfile)
    assert result.rc == 1
    assert result.reason == f"keepalived-check process: no running process with pid file {pidfile}"


@pytest.mark.parametrize("content, reason", [
    (None, "cannot read pid file {p}: no such file or directory"),
    ("", "pid file {p} does not hold a pid"),
    ("abc\n", "pid file {p} does not hold a pid"),
    ("0\n", "pid file {p} does not hold a pid"),
])
def test_bad_pidfile(tmp_path, run_check, content, reason):
    pidfile = tmp_path / "svc.pid"
    if content is not None:
        pidfile.write_text(content)
    result = run_check("process", "--pidfile", pidfile)
    assert result.rc == 1
    assert result.reason == "keepalived-check process: " + reason.format(p=pidfile)


def test_pidfile_of_a_zombie(processes, tmp_path, run_check):
    pid = processes.zombie("hc-zpid-1")
    pidfile = tmp_path / "z.pid"
    pidfile.write_text(str(pid))
    result = run_check("process", "--pidfile", pidfile)
    assert result.rc == 1 and "is a zombie" in result.reason


def test_long_names_match_like_killall(tmp_path, run_check):
    # comm holds only 15 bytes; a longer --name also needs argv[0] to agree.
    name = "hc-a-very-long-process-name"
    proc = subprocess.Popen([name, "-c", NAMED_SLEEPER, name], executable=sys.executable, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == name[:15]
        assert run_check("process", "--name", name).rc == 0
        assert run_check("process", "--name", name + "-x").rc == 1
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("data, expected", [
    (b"1234 (haproxy) S 1 1234 1234 0 -1", ("haproxy", "S", 1)),
    (b"99 (a b) c)) Z 42 99 99 0", ("a b) c)", "Z", 42)),
    (b"7 (x) t 3 7 7 0", ("x", "t", 3)),
])
def test_parse_proc_stat(data, expected):
    assert process.parse_proc_stat(data) == expected


# --- systemd -------------------------------------------------------------------------------------


def test_systemd_unknown_unit_is_unhealthy(run_check):
    if shutil.which("systemctl") is None:
        pytest.skip("systemctl is not installed (apt-get install -y systemd)")
    result = run_check("systemd", "--unit", "hc-no-such-unit-31337.service")
    assert result.rc == 1
    assert result.reason.startswith("keepalived-check systemd: unit hc-no-such-unit-31337.service is ")


def test_systemd_active_unit(run_check):
    if not os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is not the init system on this host")
    # The root mount unit is active on every systemd host; its name starts with a dash.
    assert run_check("systemd", "--unit=-.mount").rc == 0
