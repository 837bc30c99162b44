# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cost of one keepalived-check invocation per check, beside the shell one-liner it replaces.

keepalived starts a vrrp_script every `interval` seconds, so what matters is the wall time and
the CPU time (user + system of the child and everything it waited for, from os.wait4) of a
single invocation. Each command runs --runs times; the table shows the medians.

The script starts its own loopback servers (an HTTP server, a named sleeping process, and a
private MariaDB when mariadbd is installed) and stops them at the end. It is not a test.

    python3 benchmarks/checks.py [--runs 30] [--python /usr/bin/python3.13] [--only http,tcp]
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The package keepalived-check runs from, started as its launcher starts it.
LIB = REPO / "roles" / "healthcheck" / "files"


def measure(argv, runs, env=None):
    """Median wall and CPU seconds of running argv, and the exit statuses seen."""
    walls, cpus, codes = [], [], set()
    for _run in range(runs):
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.monotonic() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        codes.add(os.waitstatus_to_exitcode(status))
        proc.returncode = 0  # already reaped by wait4
    return statistics.median(walls), statistics.median(cpus), codes


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_http():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def start_sleeper(name):
    code = ("import sys, time\nwith open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\n"
            "print('ready', flush=True)\ntime.sleep(3600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    return proc


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MariaDB:
    """A throw-away mariadbd on a temporary datadir, loopback port and socket."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.datadir = self.directory / "data"
        self.socket = str(self.directory / "mysqld.sock")
        self.port = free_port()
        self.proc = None
        self.option_file = self.directory / "client.cnf"

    def start(self):
        install = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        subprocess.run([install, "--no-defaults", f"--datadir={self.datadir}", "--user=root", "--skip-test-db",
                        "--auth-root-authentication-method=socket"], check=True, capture_output=True)
        init = self.directory / "init.sql"
        init.write_text("CREATE USER IF NOT EXISTS 'bench'@'127.0.0.1' IDENTIFIED BY 'bench-pw';\n")
        self.proc = subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", "--user=root", f"--init-file={init}", "--skip-name-resolve",
             "--innodb-buffer-pool-size=16M", f"--log-error={self.directory / 'error.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.option_file.write_text(f"[client]\nuser=bench\npassword=bench-pw\nhost=127.0.0.1\nport={self.port}\n")
        self.option_file.chmod(0o600)
        client = shutil.which("mariadb") or shutil.which("mysql")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            probe = subprocess.run([client, f"--defaults-extra-file={self.option_file}", "-e", "SELECT 1"],
                                   capture_output=True, check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("mariadbd did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="invocations per command (default 20)")
    parser.add_argument("--python", help="interpreter for keepalived-check (default: /usr/bin/python3)")
    parser.add_argument("--only", help="comma-separated checks to run (file,process,systemd,http,tcp,mysql)")
    opts = parser.parse_args(argv)
    only = set(opts.only.split(",")) if opts.only else None
    program = [opts.python or "/usr/bin/python3", "-I", "-S", "-c",
               "import sys; sys.argv[0] = 'keepalived-check'; sys.path.insert(0, %r); "
               "from keepalived_check.cli import main; sys.exit(main())" % str(LIB)]

    tmp = Path(tempfile.mkdtemp(prefix="hc-bench-"))
    server = start_http()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    sleeper = start_sleeper("hc-bench-svc")
    database = None
    rows = []
    try:
        down = tmp / "down"  # absent: every check below is healthy
        cases = [
            ("file", ["file", "--path", str(down)], ["/bin/sh", "-c", f"[ ! -f {down} ]"]),
            ("process", ["process", "--name", "hc-bench-svc"],
             [shutil.which("killall"), "-0", "hc-bench-svc"] if shutil.which("killall") else None),
            ("http", ["http", "--url", url],
             [shutil.which("curl"), "-s", "-o", "/dev/null", "--max-time", "2", url] if shutil.which("curl") else None),
            ("tcp", ["tcp", "--port", str(server.server_address[1])],
             ["/bin/bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{server.server_address[1]}"]),
        ]
        if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
            cases.insert(2, ("systemd", ["systemd", "--unit=-.mount"],
                             [shutil.which("systemctl"), "is-active", "--quiet", "--", "-.mount"]))
        else:
            rows.append(("systemd", None, None, "systemctl is-active", None, None, "systemd is not PID 1 here"))
        if shutil.which("mariadbd") or os.access("/usr/sbin/mariadbd", os.X_OK):
            database = MariaDB(tmp / "mariadb")
            database.start()
            admin = shutil.which("mariadb-admin") or shutil.which("mysqladmin")
            cases.append(("mysql", ["mysql", "--defaults-file", str(database.option_file)],
                          [admin, f"--defaults-extra-file={database.option_file}", "ping"]))
        else:
            rows.append(("mysql", None, None, "mysqladmin ping", None, None, "mariadbd is not installed"))

        for name, check_args, shell in cases:
            if only and name not in only:
                continue
            wall, cpu, codes = measure(program + check_args, opts.runs)
            note = "" if codes == {0} else f"exit {sorted(codes)}"
            if shell and shell[0]:
                s_wall, s_cpu, s_codes = measure(shell, opts.runs)
                shell_text = " ".join(Path(shell[0]).name if i == 0 else a for i, a in enumerate(shell))
                if s_codes != {0}:
                    note = (note + " " if note else "") + f"shell exit {sorted(s_codes)}"
            else:
                s_wall = s_cpu = None
                shell_text = "(tool not installed)"
            rows.append((name, wall, cpu, shell_text, s_wall, s_cpu, note))
    finally:
        if database:
            database.stop()
        sleeper.kill()
        sleeper.wait()
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)

    def ms(value):
        return "-" if value is None else f"{value * 1000:.1f}"

    python = opts.python or "/usr/bin/python3"
    print(f"keepalived-check ({python}) vs shell one-liners, median of {opts.runs} runs, milliseconds")
    header = ("check", "wall", "cpu", "one-liner", "wall", "cpu", "note")
    table = [header] + [(n, ms(w), ms(c), s[:48], ms(sw), ms(sc), note) for n, w, c, s, sw, sc, note in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("  ".join(str(cell).ljust(widths[i]) if i in (0, 3, 6) else str(cell).rjust(widths[i])
                        for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
