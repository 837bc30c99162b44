# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner: one resident process runs many checks in-process and reports each through a track file
that keepalived watches (vrrp_track_file); "0" healthy, "1" failed.

SIGHUP (systemctl reload) re-reads the configuration and, when it is valid, re-executes the runner
in place (same PID, so systemd and its watchdog follow it) with --resume: the new process runs the
new checks and the new program, and starts every check that already has a verdict in its track file
from that verdict, so a reload moves no VIP by itself. An invalid configuration is refused and the
running checks go on."""

import os
import signal
import sys
import time

from .checks import MODULES, function
from .core import (
    HEALTHY, PROG, UNHEALTHY, USAGE, Budget, Unhealthy, UsageError, kill_children, one_line, os_error_text,
)

RUNNER_FAILED = "1\n"
RUNNER_HEALTHY = "0\n"
# How often the runner re-reads its track files and rewrites one that differs from its verdict.
RUNNER_REASSERT = 1.0
# The check's own budget is this share of its timeout, so it reports before the runner counts it as hung.
CHECK_SHARE = 0.8
# What runner_loop returns when a reload was asked for and the new configuration is valid.
RELOAD = "reload"

# The schedule of one check in the runner's config (besides its name and argv), with the keys of an
# option in cli.GLOBAL_OPTIONS: the controller's preflight reads this table (tools/check_options.py
# copies it), so a schedule the runner would refuse is refused before any host changes.
# A default of None is the check's interval.
RUNNER_FIELDS = [
    {"name": "interval", "type": "float", "default": 1.0, "min": 0.01, "max": 86400,
     "help": "seconds from the start of one run to the start of the next"},
    {"name": "timeout", "type": "float", "default": None, "min": 0.01, "max": 86400,
     "help": "a run still going after this many seconds counts as failed"},
    {"name": "fall", "type": "int", "default": 1, "min": 1, "max": None,
     "help": "consecutive failures before a healthy check counts as failed"},
    {"name": "rise", "type": "int", "default": 1, "min": 1, "max": None,
     "help": "consecutive successes before a failed check counts as healthy"},
    {"name": "confirm_interval", "type": "float", "default": None, "min": 0.01, "max": 86400,
     "help": "seconds between runs while fall or rise is counting a change of verdict"},
]


class RunnerCheck:
    """One configured check: its parsed options, schedule, fall/rise counters and track file.

    The worker thread runs the check; the main loop counts a run that is still going past its
    timeout as failed. Verdicts change under the lock, and the track file is written on a change.
    """

    def __init__(self, name, opts, interval, timeout, fall, rise, path, confirm_interval=None):
        import threading

        self.name = name
        self.opts = opts
        self.interval = interval
        self.confirm_interval = interval if confirm_interval is None else confirm_interval
        self.timeout = timeout
        self.fall = fall
        self.rise = rise
        self.path = path
        self.lock = threading.Lock()
        self.healthy = None  # no verdict yet: the track file says failed
        self.fails = 0
        self.passes = 0
        self.run_started = None
        self.overrun_penalties = 0
        self.thread = None

    def record(self, ok, reason, log):
        """Count one result (caller holds the lock); write the track file when the verdict changes."""
        if ok:
            self.passes, self.fails = self.passes + 1, 0
        else:
            self.fails, self.passes = self.fails + 1, 0
        if self.healthy is None:
            verdict = ok  # the first result decides, as keepalived does for a script's first run
        elif self.healthy and not ok and self.fails >= self.fall:
            verdict = False
        elif not self.healthy and ok and self.passes >= self.rise:
            verdict = True
        else:
            return
        if verdict == self.healthy:
            return
        self.healthy = verdict
        write_track_file(self.path, verdict)
        log(f"{self.name}: {'healthy' if verdict else 'failed: ' + reason}")

    def next_delay(self):
        """Seconds from this run's start to the next: the confirm interval while the last results disagree
        with the verdict (fall or rise still counting), else the interval (caller holds the lock)."""
        changing = (self.healthy and self.fails) or (self.healthy is False and self.passes)
        return self.confirm_interval if changing else self.interval

    def wanted_text(self):
        return RUNNER_HEALTHY if self.healthy else RUNNER_FAILED


def write_track_file(path, healthy):
    """Replace the track file atomically (temporary file in the same directory, then rename)."""
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (RUNNER_HEALTHY if healthy else RUNNER_FAILED).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def schedule(item, where):
    """A check's RUNNER_FIELDS from its config item, defaults filled in; raises UsageError."""
    from .cli import describe_range, finite

    values = {}
    for field in RUNNER_FIELDS:
        key = field["name"]
        value = item.get(key)
        if value is None:
            value = values["interval"] if field["default"] is None else field["default"]
        kinds = (int,) if field["type"] == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise UsageError(f"{where}: {key} must be a {'whole ' if field['type'] == 'int' else ''}number")
        if not finite(value) or value < field["min"] or (field["max"] is not None and value > field["max"]):
            raise UsageError(f"{where}: {key} must be {describe_range(field)}, not {value!r}")
        values[key] = value
    return values


def load_runner_config(path):
    """Read and check the runner's JSON file; return (track_dir, [RunnerCheck]). Raises UsageError."""
    import json

    from .cli import global_flags, parse_check_argv

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read runner config {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise UsageError(f"{path}: expected an object with track_dir and a list of checks")
    track_dir = data.get("track_dir")
    if not isinstance(track_dir, str) or not track_dir.startswith("/"):
        raise UsageError(f"{path}: track_dir must be an absolute path")
    flags = global_flags()
    loaded = []
    names = set()
    for index, item in enumerate(data["checks"]):
        where = f"{path}: checks[{index}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where} is not an object")
        name = item.get("name")
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or name in names:
            raise UsageError(f"{where}: name must be unique, non-empty, without '/' and not start with '.'")
        names.add(name)
        where = f"{where} ({name})"
        argv = item.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError(f"{where}: argv must be a list of strings such as [\"file\", \"--path\", \"/x\"]")
        if argv[0] not in MODULES or any(a.partition("=")[0] in flags for a in argv):
            raise UsageError(f"{where}: argv must start with a check name and carry no global options")
        unknown = sorted(set(item) - {"name", "argv"} - {field["name"] for field in RUNNER_FIELDS})
        if unknown:
            raise UsageError(f"{where}: unknown keys {unknown}")
        when = schedule(item, where)
        try:
            opts = parse_check_argv(argv)
        except UsageError as exc:
            raise UsageError(f"{where}: bad check arguments {argv}: {exc}") from None
        loaded.append(RunnerCheck(name, opts, when["interval"], when["timeout"], when["fall"], when["rise"],
                                  os.path.join(track_dir, name), when["confirm_interval"]))
    return track_dir, loaded


class Notifier:
    """sd_notify over $NOTIFY_SOCKET with the standard library; a no-op outside systemd."""

    def __init__(self):
        import socket

        address = os.environ.get("NOTIFY_SOCKET")
        self.sock = None
        self.address = None
        if address and address[0] in "/@":
            self.address = "\0" + address[1:] if address[0] == "@" else address
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        enabled = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        # Ping at a third of the watchdog period, so one late wake-up does not miss it.
        self.watchdog_every = int(usec) / 3e6 if enabled else None

    def send(self, text):
        if self.sock is None:
            return
        try:
            self.sock.sendto(text.encode(), self.address)
        except OSError:
            pass


def _run_worker(check, stop, log):
    """Run one check on its interval until stop is set; each run in-process, bounded by a Budget."""
    next_due = time.monotonic()
    while not stop.is_set():
        delay = next_due - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        with check.lock:
            started = check.run_started = time.monotonic()
            check.overrun_penalties = 0
        ok, reason = True, ""
        try:
            function(check.opts.check_name)(check.opts, Budget(check.timeout * CHECK_SHARE))
        except Unhealthy as exc:
            ok, reason = False, one_line(str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed check, not a dead worker
            ok, reason = False, one_line(f"internal error: {type(exc).__name__}: {exc}")
        ended = time.monotonic()
        with check.lock:
            check.run_started = None
            if check.overrun_penalties:
                pass  # already counted as failed by the main loop while it ran
            elif ended - started > check.timeout:
                check.record(False, f"took {ended - started:.3g}s, longer than its timeout of {check.timeout:g}s", log)
            else:
                check.record(ok, reason, log)
            next_due = max(started + check.next_delay(), ended)


def runner_loop(checks, notifier, stop, log, reload_wanted=None, config=None):
    """Start a worker per check and supervise them until stop is set; return the exit status.

    When ``reload_wanted`` (a list a SIGHUP handler appends to) is not empty, ``config`` is read
    again: valid, the loop returns RELOAD; invalid, the reason is logged and the checks go on.
    """
    import threading

    for check in checks:
        check.thread = threading.Thread(target=_run_worker, args=(check, stop, log), name=check.name, daemon=True)
        check.thread.start()
    ready = False
    next_ping = next_reassert = time.monotonic()
    tick = min([0.25] + [max(0.005, min(c.interval, c.timeout) / 4) for c in checks])
    while not stop.is_set():
        now = time.monotonic()
        for check in checks:
            with check.lock:
                started = check.run_started
                if started is not None and now - started > check.timeout * (1 + check.overrun_penalties):
                    check.overrun_penalties += 1
                    check.record(False, f"still running after {now - started:.3g}s (timeout {check.timeout:g}s)", log)
        dead = [check.name for check in checks if not check.thread.is_alive()]
        if dead and not stop.is_set():
            log(f"worker of {', '.join(dead)} died; reporting every check as failed")
            return UNHEALTHY
        if not ready and all(check.healthy is not None for check in checks):
            ready = True
            notifier.send("READY=1\nSTATUS=checks running")
        if notifier.watchdog_every is not None and now >= next_ping:
            notifier.send("WATCHDOG=1")
            next_ping = now + notifier.watchdog_every
        if reload_wanted:
            del reload_wanted[:]
            try:
                load_runner_config(config)
            except UsageError as exc:
                log(f"reload refused, the running checks go on: {exc}")
            else:
                return RELOAD
        if now >= next_reassert:
            next_reassert = now + RUNNER_REASSERT
            for check in checks:
                with check.lock:
                    reassert_track_file(check)
        stop.wait(tick)
    return HEALTHY


def reassert_track_file(check):
    """Rewrite a track file that something else changed or removed (caller holds the lock)."""
    try:
        with open(check.path, encoding="ascii", errors="replace") as handle:
            text = handle.read(16)
    except OSError:
        text = None
    if text != check.wanted_text():
        write_track_file(check.path, bool(check.healthy))


def resume(checks):
    """Start each check from the verdict its track file holds (after a reload); fail the others.

    Returns how many track files could not be written.
    """
    fresh = []
    for check in checks:
        try:
            with open(check.path, encoding="ascii", errors="replace") as handle:
                text = handle.read(16)
        except OSError:
            text = None
        if text in (RUNNER_HEALTHY, RUNNER_FAILED):
            check.healthy = text == RUNNER_HEALTHY
        else:
            fresh.append(check)
    return fail_all(fresh)


def reexec_argv(config, argv=None, orig_argv=None, executable=None):
    """The command line that starts this runner again with --resume (pure, for the tests).

    The interpreter's own arguments (the launcher's -I -S -c ...) come from sys.orig_argv where Python
    has it (3.10+); elsewhere the package is started the launcher's way from its own directory.
    """
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", None) if orig_argv is None else orig_argv
    executable = executable or sys.executable
    program = ["runner", "--config", config, "--resume"]
    if orig_argv and len(argv) > 1 and len(orig_argv) >= len(argv):
        return list(orig_argv[: len(orig_argv) - (len(argv) - 1)]) + program
    lib = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import sys; sys.argv[0] = {PROG!r}; sys.path.insert(0, {lib!r}); "
            "from keepalived_check.cli import main; sys.exit(main())")
    return [executable, "-I", "-S", "-c", code] + program


def fail_all(checks):
    """Write "failed" to every track file; return how many could not be written."""
    errors = 0
    for check in checks:
        try:
            write_track_file(check.path, False)
        except OSError as exc:
            errors += 1
            print(f"{PROG} runner: cannot write {check.path}: {os_error_text(exc)}", file=sys.stderr, flush=True)
    return errors


def runner_main(argv):
    """keepalived-check runner --config FILE [--fail-all]."""
    import argparse
    import threading

    from .argparser import Formatter

    parser = argparse.ArgumentParser(
        prog=f"{PROG} runner", formatter_class=Formatter, allow_abbrev=False,
        description="Run the configured checks in one resident process and write each verdict to a track file "
                    "(0 healthy, 1 failed) for keepalived's vrrp_track_file.")
    parser.add_argument("--config", required=True, metavar="FILE", help="JSON file with track_dir and checks")
    parser.add_argument("--fail-all", action="store_true", help="write 1 (failed) to every track file and exit")
    parser.add_argument("--resume", action="store_true",
                        help="start each check from the verdict in its track file (how a reload restarts the runner)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        track_dir, loaded = load_runner_config(args.config)
    except UsageError as exc:
        print(f"{PROG} runner: error: {exc}", file=sys.stderr, flush=True)
        return USAGE
    if args.fail_all:
        return UNHEALTHY if fail_all(loaded) else HEALTHY
    os.makedirs(track_dir, mode=0o755, exist_ok=True)

    def log(message):
        try:
            print(f"{PROG} runner: {message}", file=sys.stderr, flush=True)
        except OSError:
            pass

    stop = threading.Event()
    stopped_by = []

    def on_signal(signum, frame):
        stopped_by.append(signum)
        stop.set()

    reload_wanted = []
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, lambda signum, frame: reload_wanted.append(signum))
    # Until its first verdict a check counts as failed, unless a reload handed its verdict over.
    if (resume if args.resume else fail_all)(loaded):
        return UNHEALTHY
    log(f"{'resumed' if args.resume else 'running'} {len(loaded)} check(s), track files in {track_dir}")
    notifier = Notifier()
    status = runner_loop(loaded, notifier, stop, log, reload_wanted, args.config)
    stop.set()
    # Hold each lock, so that no worker finishing a run writes a verdict after this point.
    for check in loaded:
        check.lock.acquire(timeout=1)
    if status == RELOAD:
        # The track files hold the current verdicts; the new process starts from them.
        kill_children()
        notifier.send("RELOADING=1")
        command = reexec_argv(args.config)
        log("reloading: the new checks start from the current verdicts")
        try:
            os.execv(command[0], command)
        except OSError as exc:
            log(f"cannot re-execute {command[0]}: {os_error_text(exc)}; every check reported as failed")
            status = UNHEALTHY
    notifier.send("STOPPING=1")
    fail_all(loaded)
    if stopped_by:
        log(f"stopped by signal {stopped_by[0]}; every check reported as failed")
    return status
