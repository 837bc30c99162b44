# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""process: a matching process exists that is neither a zombie nor stopped (read from /proc)."""

import os

from ..core import Unhealthy, os_error_text

CHECKS = [
    {
        "name": "process",
        "help": "a matching process exists that is neither a zombie nor stopped",
        "options": [
            {"name": "name", "type": "str", "help": "exact process name (comm), as killall matches it"},
            {"name": "cmdline", "type": "str", "help": "substring of the process command line"},
            {"name": "pidfile", "type": "str", "format": "path", "help": "file holding the pid of the process"},
            {"name": "min_count", "type": "int", "min": 1, "default": 1, "metavar": "N",
             "help": "live matching processes required"},
        ],
        "one_of_required": [["name", "cmdline", "pidfile"]],
    },
]

STATE_NAMES = {
    "Z": "a zombie",
    "X": "dead",
    "x": "dead",
    "T": "stopped",
    "t": "stopped (traced)",
}


def read_proc(pid, name):
    """The bytes of /proc/PID/NAME, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read()
    except OSError:
        return None


def read_proc_stat(pid):
    """Return (comm, state, ppid) from /proc/PID/stat, or None if the process is gone."""
    data = read_proc(pid, "stat")
    return None if data is None else parse_proc_stat(data)


def parse_proc_stat(data):
    """Parse the contents of /proc/PID/stat; comm may itself contain spaces and parentheses."""
    left = data.index(b"(")
    right = data.rindex(b")")
    comm = data[left + 1 : right].decode("utf-8", "replace")
    fields = data[right + 2 :].split()
    return comm, fields[0].decode(), int(fields[1])


def read_cmdline(pid):
    raw = read_proc(pid, "cmdline")
    if raw is None:
        return None
    return [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")] if raw else []


def ancestors_and_self():
    pids = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        stat = read_proc_stat(pid)
        if stat is None:
            break
        pid = stat[2]
    return pids


def name_matches(name, comm, pid):
    """Exact process name, as killall does: comm is cut to 15 bytes by the kernel."""
    if comm == name:
        return True
    if len(name) > 15 and comm == name[:15]:
        argv = read_cmdline(pid) or [""]
        return os.path.basename(argv[0]) == name
    return False


def read_pidfile(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(64).strip()
    except OSError as exc:
        raise Unhealthy(f"cannot read pid file {path}: {os_error_text(exc)}") from None
    if not text.isdigit() or int(text) <= 0:
        raise Unhealthy(f"pid file {path} does not hold a pid")
    return int(text)


def find_processes(name=None, cmdline=None, pidfile=None):
    """Return [(pid, state)] of processes matching every given selector."""
    if pidfile:
        candidates = [read_pidfile(pidfile)]
    else:
        candidates = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    exclude = ancestors_and_self() if cmdline else {os.getpid()}
    found = []
    for pid in candidates:
        if pid in exclude:
            continue
        stat = read_proc_stat(pid)
        if stat is None:
            continue
        comm, state, _ppid = stat
        if name is not None and not name_matches(name, comm, pid):
            continue
        if cmdline is not None:
            argv = read_cmdline(pid)
            if not argv or cmdline not in " ".join(argv):
                continue
        found.append((pid, state))
    return found


def describe_selector(name=None, cmdline=None, pidfile=None):
    parts = []
    if name is not None:
        parts.append(f"name {name}")
    if cmdline is not None:
        parts.append(f"command line containing {cmdline!r}")
    if pidfile is not None:
        parts.append(f"pid file {pidfile}")
    return " and ".join(parts)


def require_live_processes(name=None, cmdline=None, pidfile=None, min_count=1):
    """Return the live pids matching every given selector; raise Unhealthy when fewer than min_count."""
    found = find_processes(name, cmdline, pidfile)
    what = describe_selector(name, cmdline, pidfile)
    live = [pid for pid, state in found if state not in STATE_NAMES]
    if len(live) >= min_count:
        return live
    if not found:
        if pidfile:
            raise Unhealthy(f"no running process with {what}")
        raise Unhealthy(f"no process with {what}")
    bad = [f"pid {pid} is {STATE_NAMES[state]}" for pid, state in found if state in STATE_NAMES]
    detail = f" ({', '.join(bad[:5])})" if bad else ""
    if not live:
        raise Unhealthy(f"no live process with {what}{detail}")
    raise Unhealthy(f"{len(live)} live process(es) with {what}, expected at least {min_count}{detail}")


def check_process(opts, budget):
    require_live_processes(opts.name, opts.cmdline, opts.pidfile, opts.min_count)
