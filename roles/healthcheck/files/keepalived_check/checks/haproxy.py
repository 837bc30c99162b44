# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy: haproxy runs and, with a stats socket, the named frontends are OPEN and backends UP."""

from ..core import Unhealthy, one_line, os_error_text
from .process import require_live_processes

CHECKS = [
    {
        "name": "haproxy",
        "help": "haproxy runs and, with a stats socket, frontends/backends are up",
        "options": [
            {"name": "process_name", "type": "str", "default": "haproxy", "help": "process name"},
            {"name": "pidfile", "type": "str", "format": "path", "help": "haproxy pid file, instead of looking up the name"},
            {"name": "stats_socket", "type": "str", "format": "path", "help": "path of the stats socket"},
            {"name": "frontend", "type": "str", "repeatable": True, "help": "frontend that must be OPEN, repeatable"},
            {"name": "backend", "type": "str", "repeatable": True, "help": "backend that must be UP, repeatable"},
        ],
        "requires": {"frontend": ["stats_socket"], "backend": ["stats_socket"]},
    },
]


def haproxy_show_stat(path, budget):
    import socket

    what = f"stats socket {path}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(budget.remaining(what))
        sock.connect(path)
        sock.sendall(b"show stat\n")
        chunks = []
        while True:
            sock.settimeout(budget.remaining(what))
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except TimeoutError:
        raise Unhealthy(f"{what}: no answer within {budget.seconds:g}s") from None
    except OSError as exc:
        raise Unhealthy(f"{what}: {os_error_text(exc)}") from None
    finally:
        sock.close()
    return b"".join(chunks).decode("utf-8", "replace")


def parse_haproxy_stat(text):
    """Return {(pxname, svname): status} from `show stat` CSV output."""
    import csv

    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise Unhealthy(f"unexpected answer to show stat: {one_line(text, 120)!r}")
    reader = csv.DictReader([lines[0][2:]] + [line for line in lines[1:] if line.strip()])
    return {(row.get("pxname"), row.get("svname")): (row.get("status") or "") for row in reader}


def check_haproxy(opts, budget):
    require_live_processes(name=opts.process_name, pidfile=opts.pidfile)
    if not opts.stats_socket:
        return
    stats = parse_haproxy_stat(haproxy_show_stat(opts.stats_socket, budget))
    problems = []
    for kind, names, row, good in (("frontend", opts.frontend, "FRONTEND", ("OPEN",)),
                                   ("backend", opts.backend, "BACKEND", ("UP",))):
        for name in names:
            status = stats.get((name, row))
            if status is None:
                problems.append(f"{kind} {name} not found")
            elif status.split(" ")[0] not in good:
                problems.append(f"{kind} {name} is {status}")
    if problems:
        raise Unhealthy("; ".join(problems))
