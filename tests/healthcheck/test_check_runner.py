# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived-check runner: resident checks reported through track files, against real things.

The runner runs as its own process, as systemd starts it; the track files are read the way keepalived
reads them (a non-zero number means failed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from hc_support import Server, program_argv, program_module, wait_for

file_check = program_module("checks.file")
runner_module = program_module("runner")


def write_config(tmp_path, checks):
    track = tmp_path / "track"
    config = tmp_path / "runner.json"
    config.write_text(json.dumps({"track_dir": str(track), "checks": checks}))
    return config, track


def read(path):
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def wait_text(path, text, timeout=5.0):
    """Poll the track file every 2 ms; return the seconds until it reads text."""
    start = time.monotonic()
    wait_for(lambda: read(path) == text, timeout=timeout, interval=0.002, what=f"{path} to read {text!r}")
    return time.monotonic() - start


class Runner:
    def __init__(self, config, env=None):
        self.proc = subprocess.Popen(program_argv() + ["runner", "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


@pytest.fixture
def start_runner():
    runners = []

    def start(config, env=None):
        runner = Runner(config, env)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        if runner.proc.poll() is None:
            runner.proc.kill()
            runner.proc.communicate()


def down_check(path, interval=0.05, **extra):
    return {"name": "check_down", "argv": ["file", "--path", str(path)], "interval": interval, "timeout": 0.5,
            "fall": 1, "rise": 1, **extra}


def test_down_file_is_reflected_within_two_intervals(tmp_path, start_runner):
    down = tmp_path / "down"
    config, track = write_config(tmp_path, [down_check(down)])
    runner = start_runner(config)
    wait_text(track / "check_down", "0\n")
    delays = []
    for _round in range(5):
        down.write_text("maintenance")
        delays.append(wait_text(track / "check_down", "1\n"))
        down.unlink()
        delays.append(wait_text(track / "check_down", "0\n"))
    # Two intervals of 0.05 s, plus scheduling slack on a busy test machine.
    assert sorted(delays)[len(delays) // 2] < 0.1, delays
    assert max(delays) < 0.25, delays
    rc, err = runner.stop()
    assert rc == 0 and "check_down: failed: maintenance file" in err, err


def test_files_say_failed_until_the_first_verdict_and_are_replaced_atomically(tmp_path):
    track = tmp_path / "track"
    track.mkdir()
    path = track / "check_x"
    before = os.stat(track).st_ino
    runner_module.write_track_file(str(path), False)
    inode = path.stat().st_ino
    runner_module.write_track_file(str(path), True)
    assert path.read_text() == "0\n" and path.stat().st_ino != inode  # a new file renamed over the old one
    assert sorted(os.listdir(track)) == ["check_x"] and os.stat(track).st_ino == before
    check = runner_module.RunnerCheck("check_x", None, 1, 1, 1, 1, str(path))
    assert check.wanted_text() == "1\n"


def test_http_server_stopping_fails_the_check(tmp_path, start_runner):
    server = Server("127.0.0.1")
    config, track = write_config(tmp_path, [{"name": "check_web", "argv": ["http", "--url", server.url("/ok")],
                                             "interval": 0.05, "timeout": 0.5, "fall": 2, "rise": 2}])
    runner = start_runner(config)
    wait_text(track / "check_web", "0\n")
    time.sleep(0.2)
    assert len(server.requests) >= 3  # a run every 0.05 s
    stopped = time.monotonic()
    server.stop()
    wait_text(track / "check_web", "1\n")
    assert time.monotonic() - stopped < 0.5
    rc, err = runner.stop()
    assert "check_web: failed: GET http://127.0.0.1:" in err and "connection refused" in err, err


def test_a_hung_check_counts_as_failed_and_does_not_block_the_others(tmp_path, start_runner):
    # Reading a pid file that is a FIFO without a writer blocks in open(): nothing in-process can
    # interrupt it, so only the runner's supervision can notice.
    fifo = tmp_path / "pidfile"
    os.mkfifo(fifo)
    down = tmp_path / "down"
    config, track = write_config(tmp_path, [
        down_check(down),
        {"name": "check_hangs", "argv": ["process", "--pidfile", str(fifo)], "interval": 0.1, "timeout": 0.3,
         "fall": 2, "rise": 1},
    ])
    runner = start_runner(config)
    wait_text(track / "check_down", "0\n")
    # First verdict: still running past its timeout.
    took = wait_text(track / "check_hangs", "1\n", timeout=3)
    assert took < 1.0
    # The file check keeps its own pace while the other worker hangs.
    down.write_text("x")
    assert wait_text(track / "check_down", "1\n") < 0.25
    down.unlink()
    assert wait_text(track / "check_down", "0\n") < 0.25
    # Still hung a while later: still failed, never healthy.
    time.sleep(0.5)
    assert read(track / "check_hangs") == "1\n"
    # Let it finish: the late result of the overrunning run does not count as healthy.
    with open(fifo, "w") as writer:
        writer.write(f"{os.getpid()}\n")
    time.sleep(0.05)
    assert read(track / "check_hangs") == "1\n"
    rc, err = runner.stop()
    assert "check_hangs: failed: still running after" in err, err


def test_fall_and_rise_count_consecutive_results(tmp_path):
    path = tmp_path / "check"
    logged = []
    check = runner_module.RunnerCheck("check", None, 1, 1, 3, 2, str(path))
    seen = []
    for ok in [True, False, False, True, False, False, False, False, True, False, True, True, True, False]:
        check.record(ok, "bad", logged.append)
        seen.append(path.read_text())
    assert seen == ["0\n"] * 6 + ["1\n"] * 5 + ["0\n"] * 3
    assert logged == ["check: healthy", "check: failed: bad", "check: healthy"]


def test_fall_is_applied_to_real_runs(tmp_path, start_runner):
    down = tmp_path / "down"
    config, track = write_config(tmp_path, [down_check(down, interval=0.1, fall=3, rise=2)])
    start_runner(config)
    wait_text(track / "check_down", "0\n")
    down.write_text("x")
    took = wait_text(track / "check_down", "1\n")
    assert 0.15 < took < 0.5, took  # three runs 0.1 s apart
    down.unlink()
    took = wait_text(track / "check_down", "0\n")
    assert 0.05 < took < 0.4, took  # two runs


@pytest.mark.parametrize("verdict, results, delays", [
    # healthy: a failure starts counting (confirm interval) until fall confirms it or a success refutes it
    (True, [False], [0.05]),
    (True, [False, True], [0.05, 1.0]),
    (True, [False, False], [0.05, 1.0]),
    (True, [False, False, False], [0.05, 1.0, 1.0]),
    (True, [True, True], [1.0, 1.0]),
    # failed: the same for rise
    (False, [True], [0.05]),
    (False, [True, False], [0.05, 1.0]),
    (False, [True, True], [0.05, 1.0]),
    (False, [False, False], [1.0, 1.0]),
    # no verdict yet: the first result decides at once
    (None, [False], [1.0]),
    (None, [True], [1.0]),
])
def test_the_confirm_interval_is_used_while_fall_or_rise_counts(tmp_path, verdict, results, delays):
    check = runner_module.RunnerCheck("check", None, 1.0, 1.0, 2, 2, str(tmp_path / "check"), confirm_interval=0.05)
    check.healthy = verdict
    seen = []
    for ok in results:
        check.record(ok, "bad", lambda message: None)
        seen.append(check.next_delay())
    assert seen == delays


def test_confirm_interval_defaults_to_the_interval(tmp_path):
    check = runner_module.RunnerCheck("check", None, 0.3, 1.0, 2, 2, str(tmp_path / "check"))
    check.healthy = True
    check.record(False, "bad", lambda message: None)
    assert check.next_delay() == 0.3


def test_a_real_server_is_asked_again_at_the_confirm_interval(tmp_path, start_runner):
    """A check every 1 s with fall 2, rise 2 and confirm_interval 0.05 against a real HTTP server whose
    answers are scripted: one failed answer is asked again soon and forgotten, a failing service is
    counted failed soon after its first failed answer, and a recovered one healthy soon after its first."""
    server = Server("127.0.0.1")
    config, track = write_config(tmp_path, [{"name": "check_web", "argv": ["http", "--url", server.url("/scripted")],
                                             "interval": 1.0, "confirm_interval": 0.05, "timeout": 0.5,
                                             "fall": 2, "rise": 2}])
    runner = start_runner(config)
    wait_text(track / "check_web", "0\n")
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=watch_text, args=(track / "check_web", seen, stop), daemon=True)
    watcher.start()

    def answers_after(count, start):
        wait_for(lambda: len(server.answered) >= start + count, timeout=10, interval=0.005,
                 what=f"{count} more requests")
        return server.answered[start:start + count]

    # One failed answer: asked again after the confirm interval, then the interval again; never failed.
    with server.lock:
        start = len(server.answered)
        server.script.append(503)
    (failed, first_status), (refuted, status), (back, _status) = answers_after(3, start)
    assert (first_status, status) == (503, 200)
    assert refuted - failed < 0.5 and back - refuted > 0.8, (failed, refuted, back)
    assert read(track / "check_web") == "0\n"
    # A failing service: the second failure comes after the confirm interval and fails the check.
    with server.lock:
        start = len(server.answered)
        server.script.extend([503] * 1000)
    first = answers_after(1, start)[0][0]
    wait_text(track / "check_web", "1\n")
    assert time.monotonic() - first < 0.8
    # Recovered: healthy again soon after the first good answer.
    with server.lock:
        start = len(server.answered)
        server.script.clear()
    wait_for(lambda: any(answer[1] == 200 for answer in server.answered[start:]), timeout=10, interval=0.005,
             what="a good answer")
    good = next(stamp for stamp, status in server.answered[start:] if status == 200)
    wait_text(track / "check_web", "0\n")
    assert time.monotonic() - good < 0.8
    wait_for(lambda: seen[-1] == "0\n", timeout=5, interval=0.002, what="the watcher to see it")
    stop.set()
    watcher.join()
    assert [text for text in seen if text is not None] == ["0\n", "1\n", "0\n"], seen
    runner.stop()
    server.stop()


def test_sigterm_and_sigint_report_every_check_failed(tmp_path, start_runner):
    config, track = write_config(tmp_path, [down_check(tmp_path / "down"),
                                            {"name": "check_tcp", "argv": ["process", "--pidfile", "/proc/self/stat"],
                                             "interval": 0.2}])
    for sig in (signal.SIGTERM, signal.SIGINT):
        runner = start_runner(config)
        wait_text(track / "check_down", "0\n")
        start = time.monotonic()
        rc, err = runner.stop(sig)
        assert time.monotonic() - start < 1.0
        assert rc == 0 and f"stopped by signal {int(sig)}" in err, err
        assert read(track / "check_down") == "1\n" and read(track / "check_tcp") == "1\n"


def test_fail_all_writes_failed_and_exits(tmp_path, run_check):
    config, track = write_config(tmp_path, [down_check(tmp_path / "down"), down_check(tmp_path / "d2", name="two")])
    track.mkdir()
    (track / "check_down").write_text("0\n")
    result = run_check("runner", "--config", config, "--fail-all")
    assert result.rc == 0, result.err
    assert read(track / "check_down") == "1\n" and read(track / "two") == "1\n"


def test_a_changed_track_file_is_put_back(tmp_path, start_runner):
    config, track = write_config(tmp_path, [down_check(tmp_path / "down")])
    start_runner(config)
    wait_text(track / "check_down", "0\n")
    (track / "check_down").write_text("1\n")  # e.g. keepalived's init_file after a restart
    assert wait_text(track / "check_down", "0\n", timeout=3) < 1.5
    (track / "check_down").unlink()
    assert wait_text(track / "check_down", "0\n", timeout=3) < 1.5


def test_systemd_notifications(tmp_path, start_runner):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify")
    sock.bind(address)
    sock.settimeout(5)
    config, track = write_config(tmp_path, [down_check(tmp_path / "down")])
    runner = start_runner(config, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "300000"})
    messages = []
    start = time.monotonic()
    while time.monotonic() - start < 0.8:
        messages.append(sock.recv(4096).decode())
    ready = [m for m in messages if "READY=1" in m]
    pings = [m for m in messages if m == "WATCHDOG=1"]
    assert len(ready) == 1 and read(track / "check_down") == "0\n"
    assert len(pings) >= 5, messages  # every 0.1 s
    runner.stop()
    assert "STOPPING=1" in sock.recv(4096).decode()
    sock.close()


def test_a_dead_worker_stops_the_watchdog_and_the_runner(tmp_path, monkeypatch):
    class Dies(BaseException):
        pass

    def die(opts, budget):
        raise Dies()

    monkeypatch.setattr(file_check, "check_file", die)
    _track_dir, checks = runner_module.load_runner_config(str(write_config(tmp_path, [down_check(tmp_path / "down")])[0]))
    (tmp_path / "track").mkdir()
    notes = []

    class Recorder:
        watchdog_every = 0.01

        def send(self, text):
            notes.append(text)

    logged = []
    threading.excepthook, saved = (lambda args: None), threading.excepthook
    try:
        status = runner_module.runner_loop(checks, Recorder(), threading.Event(), logged.append)
    finally:
        threading.excepthook = saved
    assert status == 1
    assert "READY=1\nSTATUS=checks running" not in notes
    assert logged == ["worker of check_down died; reporting every check as failed"]


@pytest.mark.parametrize("checks, message", [
    ([{"name": "a/b", "argv": ["file"]}], "name must be unique"),
    ([{"name": "a", "argv": ["nosuch"]}], "argv must start with a check name"),
    ([{"name": "a", "argv": ["file", "--timeout", "1"]}], "no global options"),
    ([{"name": "a", "argv": ["file", "--state-dir=/x"]}], "no global options"),
    ([{"name": "a", "argv": ["file", "--path", "relative"]}], "must be an absolute path"),
    ([{"name": "a", "argv": ["http"]}], "bad check arguments"),
    ([{"name": "a", "argv": ["file"], "interval": 0}], "interval must be between 0.01 and 86400, not 0"),
    ([{"name": "a", "argv": ["file"], "interval": 0.005}], "interval must be between 0.01 and 86400"),
    ([{"name": "a", "argv": ["file"], "interval": float("nan")}], "interval must be between 0.01 and 86400"),
    ([{"name": "a", "argv": ["file"], "timeout": "1"}], "timeout must be a number"),
    ([{"name": "a", "argv": ["file"], "confirm_interval": 0.001}], "confirm_interval must be between 0.01"),
    ([{"name": "a", "argv": ["file"], "confirm_interval": True}], "confirm_interval must be a number"),
    ([{"name": "a", "argv": ["file"], "fall": 1.5}], "fall must be a whole number"),
    ([{"name": "a", "argv": ["file"], "rise": 0}], "rise must be at least 1"),
    ([{"name": "a", "argv": ["file"], "fastinter": 0.1}], "unknown keys ['fastinter']"),
    ([{"name": "a", "argv": ["file"]}, {"name": "a", "argv": ["file"]}], "name must be unique"),
    ([{"name": "a", "argv": ["process"]}], "give at least one of --name"),
])
def test_bad_configs_are_usage_errors(tmp_path, run_check, checks, message):
    config, _track = write_config(tmp_path, checks)
    result = run_check("runner", "--config", config)
    assert result.rc == 2 and message in result.err, result.err


def test_missing_config(tmp_path, run_check):
    result = run_check("runner", "--config", tmp_path / "absent.json")
    assert result.rc == 2 and "cannot read runner config" in result.err


def watch_text(path, seen, stop):
    """Record every text the track file holds, polled every millisecond, until stop is set."""
    while not stop.is_set():
        text = read(path)
        if not seen or seen[-1] != text:
            seen.append(text)
        time.sleep(0.001)


def test_a_reload_runs_the_new_checks_in_the_same_process_and_keeps_every_verdict(tmp_path, start_runner):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify")
    sock.bind(address)
    sock.settimeout(5)
    down = tmp_path / "down"
    config, track = write_config(tmp_path, [down_check(down)])
    runner = start_runner(config, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "3000000"})
    wait_text(track / "check_down", "0\n")
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=watch_text, args=(track / "check_down", seen, stop))
    watcher.start()
    try:
        # New settings for the check and a second check; the track file of check_down is never failed.
        other = tmp_path / "other"
        config.write_text(json.dumps({"track_dir": str(track), "checks": [
            down_check(down, interval=0.02, fall=3), down_check(other) | {"name": "check_other"}]}))
        runner.proc.send_signal(signal.SIGHUP)
        wait_text(track / "check_other", "0\n")
        time.sleep(0.2)
    finally:
        stop.set()
        watcher.join()
    assert seen == ["0\n"], seen
    assert runner.proc.poll() is None
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if len([m for m in messages if "READY=1" in m]) == 2:
            break
    assert [m for m in messages if m.startswith("RELOADING=1")] and len([m for m in messages if "READY=1" in m]) == 2
    # The new process runs the new settings: fall 3 at 0.02 s.
    down.write_text("maintenance")
    assert wait_text(track / "check_down", "1\n") >= 0.04
    down.unlink()
    rc, err = runner.stop()
    assert rc == 0 and "reloading" in err and "resumed 2 check(s)" in err, err
    sock.close()


def test_a_reload_with_a_bad_config_keeps_the_running_checks(tmp_path, start_runner):
    down = tmp_path / "down"
    config, track = write_config(tmp_path, [down_check(down)])
    runner = start_runner(config)
    wait_text(track / "check_down", "0\n")
    config.write_text(json.dumps({"track_dir": str(track), "checks": [{"name": "x", "argv": ["file", "--pth", "/x"]}]}))
    runner.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    down.write_text("maintenance")
    wait_text(track / "check_down", "1\n")
    rc, err = runner.stop()
    assert rc == 0 and "reload refused, the running checks go on" in err and "resumed" not in err, err


@pytest.mark.parametrize("argv, orig_argv, expected", [
    (["keepalived-check", "runner", "--config", "/c"],
     ["/usr/bin/python3", "-I", "-S", "-c", "CODE", "runner", "--config", "/c"],
     ["/usr/bin/python3", "-I", "-S", "-c", "CODE", "runner", "--config", "/new", "--resume"]),
    (["keepalived-check", "runner", "--config", "/c", "--resume"],
     ["/usr/bin/python3", "-I", "-S", "-c", "CODE", "runner", "--config", "/c", "--resume"],
     ["/usr/bin/python3", "-I", "-S", "-c", "CODE", "runner", "--config", "/new", "--resume"]),
])
def test_reexec_command_line(argv, orig_argv, expected):
    assert runner_module.reexec_argv("/new", argv=argv, orig_argv=orig_argv) == expected


def test_reexec_command_line_without_orig_argv():
    command = runner_module.reexec_argv("/c", argv=["keepalived-check", "runner"], orig_argv=[], executable="/py")
    assert command[:4] == ["/py", "-I", "-S", "-c"] and command[-4:] == ["runner", "--config", "/c", "--resume"]
    assert "from keepalived_check.cli import main" in command[4]
