"""What the long-running gates share: a command run in a session of its own, its output in a log file."""

from __future__ import annotations

import os
import signal
import subprocess


def run_logged(cmd, log, timeout, cwd=None, env=None):
    """Run cmd with stdout and stderr into the file log; returns (exit code, or "timed out after N s", log text).

    The command gets a session of its own, so that a timeout stops everything it started (ansible-test,
    ansible-lint, flake8), not only the command itself.
    """
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = "timed out after %d s" % timeout
    return rc, log.read_text(encoding="utf-8", errors="replace")
