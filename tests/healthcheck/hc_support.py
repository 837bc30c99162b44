# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the keepalived-check tests: the program, and real services on loopback.

Everything listens on 127.0.0.1 or ::1 only. Services that need a Debian package (MariaDB,
HAProxy) are started privately on temporary directories and stopped afterwards; a test that
needs one is skipped with the package name when its binary is absent.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The directory that holds the package, as healthcheck_lib_dir does on a host.
LIB_DIR = REPO / "roles" / "healthcheck" / "files"
PACKAGE = LIB_DIR / "keepalived_check"
LAUNCHER_TEMPLATE = REPO / "roles" / "healthcheck" / "templates" / "keepalived-check.j2"


def render_launcher(python, lib_dir):
    """The /usr/local/bin/keepalived-check launcher exactly as the role renders it."""
    text = LAUNCHER_TEMPLATE.read_text()
    text = text.replace("{{ ansible_managed | comment }}", "#\n# Ansible managed\n#")
    text = text.replace("{{ healthcheck_python }}", python).replace("{{ healthcheck_lib_dir }}", lib_dir)
    assert "{{" not in text, text
    return text


def launcher_code(lib_dir):
    """The Python code (-c) that the launcher runs, for lib_dir."""
    exec_line = next(line for line in render_launcher("python3", lib_dir).splitlines() if line.startswith("exec "))
    words = shlex.split(exec_line)
    assert words[2:5] == ["-I", "-S", "-c"], exec_line
    return words[5]


# The launcher's code for the lib dir of this checkout: tests start the program as a host does.
BOOT = launcher_code(str(LIB_DIR))


# ------------------------------------------------------------------------------------------
# The program
# ------------------------------------------------------------------------------------------


def program_module(name=""):
    """The package (or one of its modules, e.g. "checks.process") imported from this checkout."""
    if str(LIB_DIR) not in sys.path:
        sys.path.insert(0, str(LIB_DIR))
    return import_module("keepalived_check" + ("." + name if name else ""))


def program_argv(python=None):
    """The command that starts the program as its own process (with the given interpreter, default this one)."""
    return [python or sys.executable, "-I", "-S", "-c", BOOT]


@dataclass
class Result:
    rc: int
    out: str
    err: str
    elapsed: float

    @property
    def reason(self):
        return self.err.strip()


def run_program(*argv, python=None, env=None, timeout=60):
    """Run the program as its own process (with the given interpreter, default this one)."""
    cmd = program_argv(python) + [str(a) for a in argv]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def interpreters():
    """Python 3.11 and 3.13 interpreters found on this host (the program must run on both)."""
    found = {}
    candidates = [sys.executable, "/usr/bin/python3", shutil.which("python3.11"), shutil.which("python3.13"),
                  "/usr/bin/python3.13", "/usr/local/bin/python3.13"]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[13]*/bin/python3.1[13]"))
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            version = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if version in ("3.11", "3.13") and version not in found:
            found[version] = candidate
    return found


# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def proc_state(pid):
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()[0].decode()


def pids_with_cmdline(marker):
    """Pids of processes whose command line contains marker (used to prove nothing is left)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and proc_state(entry) not in ("Z", None):
            found.append(int(entry))
    return found


def pids_left(marker, within=2.0):
    """Processes whose command line holds marker that are still there `within` seconds from now.

    A SIGKILL is delivered asynchronously: a killed process may still be listed the instant the
    program that killed it returns, so "nothing is left" means "gone within a short time".
    """
    end = time.monotonic() + within
    while True:
        found = pids_with_cmdline(marker)
        if not found or time.monotonic() >= end:
            return found
        time.sleep(0.05)


def need_binary(name, package):
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {package})")
    return path


# ------------------------------------------------------------------------------------------
# Processes: a named sleeper, a real zombie, a stopped process
# ------------------------------------------------------------------------------------------

NAMED_SLEEPER = (
    "import sys, time\n"
    "with open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)

ZOMBIE_MAKER = (
    "import os, signal, sys, time\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    with open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\n"
    "    os._exit(0)\n"
    "# SIGTERM (Processes.close): reap the zombie and end, so that it is not left to an init that may never reap it.\n"
    "signal.signal(signal.SIGTERM, lambda *_: (os.waitpid(pid, 0), os._exit(0)))\n"
    "print(pid, flush=True)\n"
    "time.sleep(600)  # never reaps the child until then: it stays a zombie\n"
)


def unique(stem):
    """A process name no other test run uses (comm holds 15 bytes: keep STEM to 8)."""
    return "%s-%s" % (stem, os.urandom(3).hex())


class Processes:
    def __init__(self):
        self.procs = []

    def named(self, name, *extra):
        """A sleeping process whose comm is name (and whose argv carries extra)."""
        proc = subprocess.Popen([sys.executable, "-c", NAMED_SLEEPER, name, *extra], stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    def zombie(self, name):
        """Returns the pid of a real zombie named name, whose parent does not reap it."""
        parent = subprocess.Popen([sys.executable, "-c", ZOMBIE_MAKER, name], stdout=subprocess.PIPE, text=True)
        self.procs.append(parent)
        pid = int(parent.stdout.readline())
        wait_for(lambda: proc_state(pid) == "Z", what=f"pid {pid} to become a zombie")
        return pid

    def stopped(self, name):
        proc = self.named(name)
        os.kill(proc.pid, signal.SIGSTOP)
        wait_for(lambda: proc_state(proc.pid) == "T", what=f"pid {proc.pid} to stop")
        return proc

    def close(self):
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------------------------------
# HTTP and HTTPS servers
# ------------------------------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    """/ok 200, /fail 503, /slow 200 after 5 s, /livez 200, /readyz 500, /host echoes Host; /scripted answers
    the statuses queued in the server's ``script``, one per request, and 200 once it is empty."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, send_body):
        path = self.path.split("?")[0]
        status, body = 200, b"all good\n"
        if path == "/fail":
            status, body = 503, b"down for maintenance\n"
        elif path == "/slow":
            time.sleep(5)
        elif path == "/livez":
            body = b"ok"
        elif path == "/readyz":
            status, body = 500, b"[-]etcd failed\n"
        elif path == "/host":
            body = f"host={self.headers.get('Host')}\n".encode()
        elif path == "/scripted":
            with self.server.lock:
                status = self.server.script.popleft() if self.server.script else 200
                self.server.answered.append((time.monotonic(), status))
        elif path not in ("/", "/ok"):
            status, body = 404, b"not found\n"
        self.server.requests.append((self.command, self.path, self.headers.get("Host")))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host, context=None):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.requests = []
        # /scripted: the statuses still to answer, and (monotonic time, status) of each answer given.
        self.lock = threading.Lock()
        self.script = collections.deque()
        self.answered = []
        super().__init__((host, 0), Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.host = host
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address):
        pass  # clients that the check abandons at its timeout close the connection early

    def url(self, path="/", scheme="http", host=None):
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self):
        self.shutdown()
        self.server_close()


@dataclass
class Cert:
    cert: str
    key: str


# ------------------------------------------------------------------------------------------
# MariaDB: a primary and a replica, private datadirs, loopback ports and sockets
# ------------------------------------------------------------------------------------------

CHECK_USER, CHECK_PASSWORD = "hccheck", "s3cret-Check-pw"
REPL_USER, REPL_PASSWORD = "hcrepl", "s3cret-Repl-pw"

INIT_SQL = f"""
SET sql_log_bin = 0;
CREATE USER IF NOT EXISTS '{CHECK_USER}'@'127.0.0.1' IDENTIFIED BY '{CHECK_PASSWORD}';
CREATE USER IF NOT EXISTS '{CHECK_USER}'@'localhost' IDENTIFIED BY '{CHECK_PASSWORD}';
GRANT REPLICA MONITOR ON *.* TO '{CHECK_USER}'@'127.0.0.1';
GRANT REPLICA MONITOR ON *.* TO '{CHECK_USER}'@'localhost';
CREATE USER IF NOT EXISTS '{REPL_USER}'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}';
GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS hc;
CREATE TABLE IF NOT EXISTS hc.t (id INT PRIMARY KEY AUTO_INCREMENT, note VARCHAR(40)) ENGINE=InnoDB;
SET sql_log_bin = 1;
"""


class MariaDB:
    def __init__(self, name, datadir, server_id, binlog):
        self.name = name
        self.datadir = Path(datadir)
        self.socket = str(self.datadir / "mysqld.sock")
        self.port = free_port()
        self.server_id = server_id
        self.binlog = binlog
        self.proc = None

    def start(self, mariadbd, init_file):
        argv = [
            mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", f"--server-id={self.server_id}",
            f"--pid-file={self.datadir / 'mysqld.pid'}", f"--log-error={self.datadir / 'error.log'}",
            f"--init-file={init_file}", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
            "--skip-slave-start", "--relay-log=relay-bin", "--performance-schema=OFF",
        ]
        if self.binlog:
            argv.append("--log-bin=binlog")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ready, timeout=60, interval=0.1, what=f"mariadbd {self.name} to start")

    def _ready(self):
        if self.proc.poll() is not None:
            log = (self.datadir / "error.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"mariadbd {self.name} exited: {log}")
        return self.sql("SELECT 1", check=False).returncode == 0

    def sql(self, statement, check=True):
        """Run SQL as root over the socket (unix_socket authentication); returns CompletedProcess."""
        return subprocess.run([self.client, "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch", "-e", statement],
                              capture_output=True, text=True, check=check, timeout=30)

    def status(self):
        out = self.sql("SHOW SLAVE STATUS").stdout.splitlines()
        return dict(zip(out[0].split("\t"), out[1].split("\t"))) if len(out) > 1 else {}

    def option_file(self, path, password=CHECK_PASSWORD, use_socket=False):
        lines = ["[client]", f"user={CHECK_USER}", f"password={password}"]
        lines += [f"socket={self.socket}", "host=localhost"] if use_socket else ["host=127.0.0.1", f"port={self.port}"]
        Path(path).write_text("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        return str(path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class MariaDBPair:
    primary: MariaDB
    replica: MariaDB


def replica_running(replica):
    status = replica.status()
    return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"


# ------------------------------------------------------------------------------------------
# HAProxy: one frontend, one backend UP, one backend DOWN, admin stats socket
# ------------------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    maxconn 100

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe_main
    bind 127.0.0.1:{fe_port}
    default_backend be_up

backend be_up
    server web1 127.0.0.1:{up_port} check inter 200ms fall 1 rise 1

backend be_down
    server dead1 127.0.0.1:{down_port} check inter 200ms fall 1 rise 1
"""


@dataclass
class HAProxy:
    proc: subprocess.Popen
    socket: str
    pidfile: str
    fe_port: int

    def command(self, text):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.socket)
            sock.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def status(self, proxy, row):
        for line in self.command("show stat").splitlines()[1:]:
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == proxy and fields[1] == row:
                return fields[17]
        return None
