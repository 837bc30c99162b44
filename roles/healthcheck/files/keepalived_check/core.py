# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What every check and the runner share: exit codes, errors, time budgets, child processes, reasons
# and where they go, and one invocation under its hard limit.
"""Shared machinery of keepalived-check (see docs/checks.md)."""

import os
import sys
import time

try:
    # The C module the signal module wraps in enums: importing enum (and functools, collections) is a
    # third of a forked check's start-up. Every call here takes and gives plain numbers, as it does.
    import _signal as signal
except ImportError:  # an interpreter without it
    import signal

PROG = "keepalived-check"
HEALTHY = 0
UNHEALTHY = 1
USAGE = 2

DEFAULT_TIMEOUT = 2.0
MAX_REASON = 400
# The remediation state file, STATE_DIR/STATE_FILE_NAME; DEFAULT_STATE_DIR when --state-dir is not given.
DEFAULT_STATE_DIR = "/run/keepalived-check"
STATE_FILE_NAME = "remediation.json"

# Processes this invocation started and has not yet reaped; killed (whole process group) when the
# hard timeout expires.
_CHILDREN = {}
# What the invocation is waiting for, named in the reason when the hard timeout expires.
_ACTIVITY = {"what": None}


class Unhealthy(Exception):
    """A check failed; the argument is the reason, one line."""


class DeadlineExceeded(BaseException):
    """Raised from the SIGALRM handler; a BaseException so that no check can swallow it."""


class UsageError(Exception):
    """The command line, a check string inside all/any or the runner's configuration is wrong."""


class Budget:
    """Time left for one check attempt; every blocking operation asks it for its timeout."""

    def __init__(self, seconds, parent_end=None):
        end = time.monotonic() + seconds
        self.end = end if parent_end is None else min(end, parent_end)
        self.seconds = seconds

    def remaining(self, what="operation"):
        _ACTIVITY["what"] = what
        left = self.end - time.monotonic()
        if left <= 0:
            raise Unhealthy(f"{what} did not finish within {self.seconds:g}s")
        return left


def one_line(text, limit=MAX_REASON):
    """Collapse whitespace so a reason is exactly one line, and cap its length."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def os_error_text(exc):
    """A short description of an OSError without the Python class name."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def split_words(text, what):
    """text split like a shell would into at least one word; raises UsageError naming what it is."""
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot split {what} {text!r}: {exc}") from None
    if not words:
        raise UsageError(f"empty {what}")
    return words


def last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def find_program(name, extra=("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    """Like `command -v`, without importing shutil; keepalived's PATH can be minimal."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for directory in dirs + [d for d in extra if d not in dirs]:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


# --- child processes -----------------------------------------------------------------------------


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_children():
    """Kill every process group this invocation started and reap the leaders."""
    for proc in list(_CHILDREN.values()):
        _kill_group(proc)
    for proc in list(_CHILDREN.values()):
        try:
            proc.wait(timeout=1)
        except Exception:  # noqa: BLE001 - best effort while giving up
            pass
        _CHILDREN.pop(proc.pid, None)


def run_command(argv, budget, what, env=None, capture=True):
    """Run argv in its own process group, bounded by the budget; return (rc, stdout, stderr).

    stdin is /dev/null. With capture, output is read from pipes until the command closes them.
    Without capture (remediation), stdout is discarded and stderr goes to an unlinked temporary
    file, so that a daemon the command leaves running cannot hold a pipe open and stall us: only
    the command's own exit is awaited. On expiry the whole process group is killed.
    """
    import subprocess

    errfile = None
    if not capture:
        import tempfile

        errfile = tempfile.TemporaryFile()
    # Block SIGALRM while the child is created and registered, so that the hard timeout can
    # never fire between fork and registration and leave an unregistered child behind.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE if capture else errfile,
            start_new_session=True,
            env=env,
            text=True,
            errors="replace",
        )
        _CHILDREN[proc.pid] = proc
    except OSError as exc:
        raise Unhealthy(f"cannot run {argv[0]}: {os_error_text(exc)}") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    try:
        if capture:
            out, err = proc.communicate(timeout=budget.remaining(what))
        else:
            proc.wait(timeout=budget.remaining(what))
            errfile.seek(0)
            out, err = "", errfile.read(65536).decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        _CHILDREN.pop(proc.pid, None)
        raise Unhealthy(f"{what} did not finish within {budget.seconds:g}s") from None
    finally:
        if errfile is not None:
            errfile.close()
    _CHILDREN.pop(proc.pid, None)
    return proc.returncode, out, err


# --- reasons -------------------------------------------------------------------------------------


class Reporter:
    """Where reasons go: stderr always (when unhealthy), stdout with --verbose, syslog with --syslog."""

    def __init__(self, verbose=False, use_syslog=False):
        self.verbose = verbose
        self.use_syslog = use_syslog
        self._syslog = None

    def _log(self, priority_name, message):
        if not self.use_syslog:
            return
        if self._syslog is None:
            import syslog

            syslog.openlog(PROG, syslog.LOG_PID, syslog.LOG_DAEMON)
            self._syslog = syslog
        self._syslog.syslog(getattr(self._syslog, priority_name), message)

    def info(self, message):
        if self.verbose:
            print(f"{PROG}: {message}", flush=True)

    def notice(self, message):
        self.info(message)
        self._log("LOG_NOTICE", f"{PROG}: {message}")

    def unhealthy(self, check, reason):
        line = one_line(f"{PROG} {check}: {reason}")
        try:
            print(line, file=sys.stderr, flush=True)
        except OSError:
            pass
        self._log("LOG_WARNING", line)


# --- one invocation under the hard limit -----------------------------------------------------------


def _on_alarm(signum, frame):
    raise DeadlineExceeded()


def _arm_alarm(seconds):
    """Arm the hard limit; returns a function that disarms it (a no-op outside the main thread)."""
    try:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    except ValueError:  # not the main thread: per-operation timeouts still apply
        return lambda: None
    signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    return disarm


def remediating(opts):
    return bool(opts.remediate_unit or opts.remediate_command)


def run(opts, check, reporter):
    """Run check(opts, budget) with the hard limit and optional remediation; return the exit status."""
    start = time.monotonic()
    deadline_end = start + opts.timeout
    if opts.check_timeout is None:
        opts.check_timeout = (opts.timeout - opts.remediate_settle) / 3 if remediating(opts) else opts.timeout
    _ACTIVITY["what"] = None

    def attempt():
        check(opts, Budget(opts.check_timeout, deadline_end))

    disarm = _arm_alarm(opts.timeout)
    try:
        try:
            attempt()
        except Unhealthy as exc:
            if not remediating(opts):
                raise
            from .remediation import remediate

            return remediate(opts, str(exc), deadline_end, reporter, attempt)
        reporter.info(f"{opts.check_name}: healthy")
        return HEALTHY
    except Unhealthy as exc:
        disarm()
        kill_children()
        reporter.unhealthy(opts.check_name, str(exc))
        return UNHEALTHY
    except DeadlineExceeded:
        disarm()
        kill_children()
        doing = f"{_ACTIVITY['what']}: " if _ACTIVITY["what"] else ""
        reporter.unhealthy(opts.check_name, f"{doing}no result within the --timeout of {opts.timeout:g}s, gave up")
        return UNHEALTHY
    finally:
        disarm()
        kill_children()
