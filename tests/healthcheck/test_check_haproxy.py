# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy check against a real HAProxy with an admin stats socket (be_up UP, be_down DOWN)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hc_support import proc_state, program_module, wait_for

haproxy_check = program_module("checks.haproxy")
core = program_module("core")


def test_haproxy_process(haproxy, run_check):
    assert run_check("haproxy", "--pidfile", haproxy.pidfile).rc == 0
    # Without a pid file the check looks for any process named haproxy: ours is one.
    assert run_check("haproxy").rc == 0


def test_haproxy_frontend_and_backend_up(haproxy, run_check):
    result = run_check("haproxy", "--pidfile", haproxy.pidfile, "--stats-socket", haproxy.socket,
                       "--frontend", "fe_main", "--backend", "be_up")
    assert (result.rc, result.err) == (0, "")


def test_haproxy_backend_down(haproxy, run_check):
    result = run_check("haproxy", "--stats-socket", haproxy.socket, "--frontend", "fe_main",
                       "--backend", "be_up", "--backend", "be_down")
    assert result.rc == 1
    assert result.reason == "keepalived-check haproxy: backend be_down is DOWN"


def test_haproxy_unknown_names(haproxy, run_check):
    result = run_check("haproxy", "--stats-socket", haproxy.socket, "--frontend", "fe_nope", "--backend", "be_nope")
    assert result.rc == 1
    assert result.reason == "keepalived-check haproxy: frontend fe_nope not found; backend be_nope not found"


def test_haproxy_disabled_frontend(haproxy, run_check):
    haproxy.command("disable frontend fe_main")
    try:
        # HAProxy 2.6 reports a disabled frontend as PAUSED, other versions as STOP.
        status = wait_for(lambda: haproxy.status("fe_main", "FRONTEND") in ("PAUSED", "STOP") and
                          haproxy.status("fe_main", "FRONTEND"), what="the frontend to stop")
        result = run_check("haproxy", "--stats-socket", haproxy.socket, "--frontend", "fe_main")
        assert result.rc == 1
        assert result.reason == f"keepalived-check haproxy: frontend fe_main is {status}"
    finally:
        haproxy.command("enable frontend fe_main")
    wait_for(lambda: haproxy.status("fe_main", "FRONTEND") == "OPEN", what="the frontend to open")
    assert run_check("haproxy", "--stats-socket", haproxy.socket, "--frontend", "fe_main").rc == 0


def test_haproxy_backend_goes_down_with_its_server(haproxy, run_check):
    haproxy.command("disable server be_up/web1")
    try:
        wait_for(lambda: haproxy.status("be_up", "BACKEND") == "DOWN", what="be_up to go down")
        result = run_check("haproxy", "--stats-socket", haproxy.socket, "--backend", "be_up")
        assert result.rc == 1 and result.reason.endswith("backend be_up is DOWN")
    finally:
        haproxy.command("enable server be_up/web1")
    wait_for(lambda: haproxy.status("be_up", "BACKEND") == "UP", what="be_up to come back")


def test_haproxy_stopped_process(haproxy, run_check):
    os.kill(haproxy.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: proc_state(haproxy.proc.pid) == "T", what="haproxy to stop")
        result = run_check("haproxy", "--pidfile", haproxy.pidfile, "--stats-socket", haproxy.socket)
        assert result.rc == 1
        assert f"pid {haproxy.proc.pid} is stopped" in result.reason
    finally:
        os.kill(haproxy.proc.pid, signal.SIGCONT)
    wait_for(lambda: proc_state(haproxy.proc.pid) != "T", what="haproxy to continue")


def test_haproxy_stats_socket_missing(haproxy, tmp_path, run_check):
    sock = tmp_path / "none.sock"
    result = run_check("haproxy", "--pidfile", haproxy.pidfile, "--stats-socket", sock, "--backend", "be_up")
    assert result.rc == 1
    assert result.reason == f"keepalived-check haproxy: stats socket {sock}: no such file or directory"


def test_haproxy_dead_pidfile(tmp_path, run_check):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    pidfile = tmp_path / "haproxy.pid"
    pidfile.write_text(str(proc.pid))
    result = run_check("haproxy", "--pidfile", pidfile)
    assert result.rc == 1
    assert result.reason == f"keepalived-check haproxy: no running process with name haproxy and pid file {pidfile}"


def test_haproxy_pidfile_of_another_program(processes, tmp_path, run_check):
    other = processes.named("not-haproxy")
    pidfile = tmp_path / "haproxy.pid"
    pidfile.write_text(str(other.pid))
    assert run_check("haproxy", "--pidfile", pidfile).rc == 1


@pytest.mark.parametrize("text, expected", [
    ("# pxname,svname,qcur,status\nfe,FRONTEND,,OPEN\nbe,web1,0,UP\nbe,BACKEND,0,UP\n\n",
     {("fe", "FRONTEND"): "OPEN", ("be", "web1"): "UP", ("be", "BACKEND"): "UP"}),
    ("# pxname,svname,status\nbe,s1,UP 1/2\n", {("be", "s1"): "UP 1/2"}),
])
def test_parse_haproxy_stat(text, expected):
    assert haproxy_check.parse_haproxy_stat(text) == expected


def test_parse_haproxy_stat_rejects_other_answers():
    with pytest.raises(core.Unhealthy):
        haproxy_check.parse_haproxy_stat("Permission denied\n")
