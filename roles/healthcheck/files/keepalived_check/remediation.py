# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Remediation: restart, settle, re-check once; rate limited with a JSON state file."""

import os
import time

from .core import (
    DEFAULT_STATE_DIR,
    HEALTHY,
    PROG,
    STATE_FILE_NAME,
    Budget,
    Unhealthy,
    last_line,
    os_error_text,
    run_command,
)


def remediation_argv(unit=None, command=None, euid=None):
    """The command that remediates (pure function, so that it can be tested for root and non-root)."""
    import shlex

    if command:
        return shlex.split(command)
    if euid is None:
        euid = os.geteuid()
    restart = ["systemctl", "restart", unit]
    return restart if euid == 0 else ["sudo", "-n"] + restart


def remediation_key(opts):
    return f"unit:{opts.remediate_unit}" if opts.remediate_unit else f"command:{opts.remediate_command}"


def state_file(remediate_state=None, state_dir=None):
    """--remediate-state, else STATE_DIR/remediation.json, else default_state_file()."""
    if remediate_state:
        return remediate_state
    if state_dir:
        return os.path.join(state_dir, STATE_FILE_NAME)
    return default_state_file()


def default_state_file():
    """/run/keepalived-check/ when usable, else a private directory under $TMPDIR."""
    if os.path.isdir(DEFAULT_STATE_DIR) and os.access(DEFAULT_STATE_DIR, os.W_OK | os.X_OK):
        return os.path.join(DEFAULT_STATE_DIR, STATE_FILE_NAME)
    if os.geteuid() == 0:
        try:
            os.mkdir(DEFAULT_STATE_DIR, 0o700)
            return os.path.join(DEFAULT_STATE_DIR, STATE_FILE_NAME)
        except OSError:
            pass
    base = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, f"{PROG}-{os.geteuid()}", STATE_FILE_NAME)


def ensure_private_dir(path):
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise Unhealthy(f"cannot create state directory {path}: {os_error_text(exc)}") from None
    import stat

    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or (info.st_uid != os.geteuid() and info.st_uid != 0):
        raise Unhealthy(f"state directory {path} is not a directory owned by this user or root")


class RemediationState:
    """Restart times per remediation target, in one JSON file, updated under a lock."""

    def __init__(self, path):
        self.path = path
        self._lock = None

    def __enter__(self):
        import fcntl

        directory = os.path.dirname(self.path) or "."
        ensure_private_dir(directory)
        try:
            self._lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise Unhealthy(f"cannot open {self.path}.lock: {os_error_text(exc)}") from None
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # bounded by the hard timeout
        return self

    def __exit__(self, *exc_info):
        os.close(self._lock)
        self._lock = None

    def load(self):
        import json

        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {"version": 1, "restarts": {}}
        except (OSError, ValueError):
            # A damaged state file must not stop remediation for ever; start over.
            return {"version": 1, "restarts": {}}
        if not isinstance(data, dict) or not isinstance(data.get("restarts"), dict):
            return {"version": 1, "restarts": {}}
        return data

    def save(self, data):
        import json

        directory = os.path.dirname(self.path) or "."
        tmp = os.path.join(directory, f".{os.path.basename(self.path)}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def reserve_restart(opts, now=None):
    """Record a restart if the rate limit allows it; return None, or the reason it does not."""
    now = time.time() if now is None else now
    key = remediation_key(opts)
    with RemediationState(state_file(opts.remediate_state, opts.state_dir)) as state:
        data = state.load()
        recent = [t for t in data["restarts"].get(key, []) if isinstance(t, (int, float)) and now - t < opts.remediate_window]
        if len(recent) >= opts.remediate_max:
            data["restarts"][key] = recent
            state.save(data)
            return (f"remediation limit reached: {len(recent)} restart(s) in the last "
                    f"{opts.remediate_window:g}s (--remediate-max {opts.remediate_max}), not restarting")
        recent.append(now)
        data["restarts"][key] = recent
        state.save(data)
    return None


def remediate(opts, reason, deadline_end, reporter, attempt):
    """Run after a failed check; return the exit status of the whole invocation."""
    target = opts.remediate_unit or opts.remediate_command
    refused = reserve_restart(opts)
    if refused:
        raise Unhealthy(f"{reason}; {refused}")
    argv = remediation_argv(opts.remediate_unit, opts.remediate_command)
    reporter.notice(f"{opts.check_name}: {reason}; remediating with: {' '.join(argv)}")
    # The restart gets what is left of the hard limit minus the settle time and one more attempt.
    restart_seconds = deadline_end - time.monotonic() - opts.remediate_settle - opts.check_timeout
    budget = Budget(max(restart_seconds, 0.2), deadline_end)
    rc, _out, err = run_command(argv, budget, f"remediation {argv[0]}", capture=False)
    if rc != 0:
        raise Unhealthy(f"{reason}; remediation ({target}) failed with exit status {rc}: {last_line(err) or 'no output'}")
    time.sleep(max(0.0, min(opts.remediate_settle, deadline_end - time.monotonic())))
    try:
        attempt()
    except Unhealthy as exc:
        raise Unhealthy(f"{exc} (still failing after remediation with {target})") from None
    reporter.notice(f"{opts.check_name}: healthy again after remediation with {target}")
    return HEALTHY
