# keepalived-check: health checks for keepalived's vrrp_script, one subcommand per check.
#
# Exit status: 0 healthy, 1 unhealthy (one line on stderr says why), 2 usage error.
# Standard library only; modules that only some checks need are imported inside those checks,
# because keepalived may start this program every second.
"""Health checks for keepalived vrrp_script (see docs/checks.md)."""

import argparse
import os
import signal
import sys
import time

PROG = "keepalived-check"
HEALTHY = 0
UNHEALTHY = 1
USAGE = 2

DEFAULT_TIMEOUT = 2.0
DEFAULT_DOWN_FILE = "/etc/keepalived/down"
DEFAULT_STATE_DIR = "/run/keepalived-check"
STATE_FILE_NAME = "remediation.json"
MAX_REASON = 400
BODY_LIMIT = 1024 * 1024

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
    """A check string inside all/any could not be parsed."""


# --------------------------------------------------------------------------------------------
# Shared machinery: deadlines, child processes, reasons, logging
# --------------------------------------------------------------------------------------------


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


def last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


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


# --------------------------------------------------------------------------------------------
# Checks. Each takes (opts, budget) and returns None when healthy or raises Unhealthy(reason).
# --------------------------------------------------------------------------------------------


def check_file(opts, budget):
    try:
        os.lstat(opts.path)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise Unhealthy(f"cannot check maintenance file {opts.path}: {os_error_text(exc)}") from None
    raise Unhealthy(f"maintenance file {opts.path} exists")


STATE_NAMES = {
    "Z": "a zombie",
    "X": "dead",
    "x": "dead",
    "T": "stopped",
    "t": "stopped (traced)",
}


def read_proc_stat(pid):
    """Return (comm, state, ppid) from /proc/PID/stat, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return parse_proc_stat(data)


def parse_proc_stat(data):
    """Parse the contents of /proc/PID/stat; comm may itself contain spaces and parentheses."""
    left = data.index(b"(")
    right = data.rindex(b")")
    comm = data[left + 1 : right].decode("utf-8", "replace")
    fields = data[right + 2 :].split()
    return comm, fields[0].decode(), int(fields[1])


def read_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
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


def valid_unit(unit, leading_dash=False):
    """Unit names as systemd spells them; "-.mount" is valid but cannot be passed to sudo rules."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\")
    return bool(unit) and (leading_dash or not unit.startswith("-")) and set(unit) <= allowed


def check_systemd(opts, budget):
    systemctl = find_program("systemctl")
    if systemctl is None:
        raise Unhealthy("systemctl not found")
    rc, out, err = run_command([systemctl, "is-active", "--", opts.unit], budget, f"systemctl is-active {opts.unit}")
    if rc == 0:
        return
    state = last_line(out) or last_line(err) or f"exit status {rc}"
    if state in ("inactive", "failed", "activating", "deactivating", "reloading", "unknown", "maintenance", "refreshing"):
        raise Unhealthy(f"unit {opts.unit} is {state}")
    raise Unhealthy(f"unit {opts.unit} is not active: {state}")


# --- HTTP(S), shared by http and apiserver --------------------------------------------------


def tls_context(insecure, ca_file):
    import ssl

    if insecure and not ca_file:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise Unhealthy(f"cannot load CA file {ca_file}: {exc}") from None


def connect_tcp(host, port, budget, what, loopback_only=False):
    """Connect to the first address of host that accepts; return the socket."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unhealthy(f"{what}: cannot resolve {host}: {exc.strerror}") from None
    if loopback_only:
        import ipaddress

        infos = [info for info in infos if ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback]
        if not infos:
            raise Unhealthy(f"{what}: {host} does not resolve to a loopback address")
    error = None
    for family, socktype, proto, _canon, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(budget.remaining(what))
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise Unhealthy(f"{what}: {os_error_text(error)}")


def http_probe(*, url_text, scheme, host, port, path, method, expect, body_contains, host_header,
               server_name, insecure, ca_file, budget, loopback_only=False):
    import http.client
    import ssl

    what = f"{method} {url_text}"
    context = tls_context(insecure, ca_file) if scheme == "https" else None
    sock = connect_tcp(host, port, budget, what, loopback_only)
    try:
        if context is not None:
            try:
                sock.settimeout(budget.remaining(what))
                sock = context.wrap_socket(sock, server_hostname=server_name)
            except ssl.SSLCertVerificationError as exc:
                raise Unhealthy(f"{what}: TLS certificate not trusted: {exc.verify_message}") from None
            except ssl.SSLError as exc:
                raise Unhealthy(f"{what}: TLS error: {exc.reason or exc}") from None
        conn = http.client.HTTPConnection(host, port, timeout=budget.remaining(what))
        conn.sock = sock
        headers = {"Host": host_header, "User-Agent": PROG, "Accept": "*/*", "Connection": "close"}
        try:
            conn.request(method, path, headers=headers)
            sock.settimeout(budget.remaining(what))
            response = conn.getresponse()
            status = response.status
            body = b""
            if body_contains is not None and method != "HEAD":
                while len(body) < BODY_LIMIT:
                    sock.settimeout(budget.remaining(what))
                    chunk = response.read1(65536)
                    if not chunk:
                        break
                    body += chunk
        except (TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise Unhealthy(f"{what}: no answer within {budget.seconds:g}s") from None
            raise Unhealthy(f"{what}: {os_error_text(exc)}") from None
        except http.client.HTTPException as exc:
            raise Unhealthy(f"{what}: invalid HTTP response ({type(exc).__name__} {exc})") from None
    finally:
        sock.close()
    if status not in expect:
        wanted = " or ".join(str(code) for code in expect)
        raise Unhealthy(f"{what} returned {status}, expected {wanted}")
    if body_contains is not None and body_contains.encode() not in body:
        raise Unhealthy(f"{what} returned {status} but the body does not contain {body_contains!r}")


def split_url(url):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"http: --url must be an http:// or https:// URL, not {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"http: bad port in --url {url!r}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path, parts.netloc.rpartition("@")[2]


def check_http(opts, budget):
    scheme, host, port, path, netloc = split_url(opts.url)
    host_header = opts.host_header or netloc
    server_name = opts.tls_server_name or (opts.host_header.rsplit(":", 1)[0] if opts.host_header else host)
    http_probe(url_text=opts.url, scheme=scheme, host=host, port=port, path=path, method=opts.method,
               expect=opts.expect_status or [200], body_contains=opts.body_contains,
               host_header=host_header, server_name=server_name, insecure=opts.insecure,
               ca_file=opts.ca_file, budget=budget)


def check_apiserver(opts, budget):
    path = opts.path if opts.path.startswith("/") else "/" + opts.path
    url = f"https://localhost:{opts.port}{path}"
    http_probe(url_text=url, scheme="https", host="localhost", port=opts.port, path=path, method="GET",
               expect=opts.expect_status or [200], body_contains=None, host_header=f"localhost:{opts.port}",
               server_name=opts.tls_server_name or "localhost", insecure=not opts.ca_file,
               ca_file=opts.ca_file, budget=budget, loopback_only=True)


def check_tcp(opts, budget):
    sock = connect_tcp(opts.host, opts.port, budget, f"connect to {opts.host} port {opts.port}")
    sock.close()


# --- MySQL / MariaDB, through the client programs --------------------------------------------


def mysql_client(opts):
    if opts.client:
        found = find_program(opts.client)
        if found is None:
            raise Unhealthy(f"client program {opts.client} not found")
        return found
    for name in ("mariadb", "mysql"):
        found = find_program(name)
        if found:
            return found
    raise Unhealthy("neither mariadb nor mysql client program found")


def mysql_query(opts, budget, sql):
    """Run sql with the client; the password stays in the option file, never in argv.

    Returns (ok, stdout, error line).
    """
    try:
        with open(opts.defaults_file, "rb"):
            pass
    except OSError as exc:
        raise Unhealthy(f"cannot read option file {opts.defaults_file}: {os_error_text(exc)}") from None
    connect_timeout = max(1, int(budget.remaining("mysql") + 0.999))
    argv = [
        mysql_client(opts),
        f"--defaults-extra-file={opts.defaults_file}",
        "--batch",
        "--no-auto-rehash",
        f"--connect-timeout={connect_timeout}",
        "--execute",
        sql,
    ]
    rc, out, err = run_command(argv, budget, "mysql client")
    return rc == 0, out, last_line(err) or f"client exit status {rc}"


def check_mysql(opts, budget):
    ok, out, error = mysql_query(opts, budget, "SELECT 1")
    if not ok:
        raise Unhealthy(f"server does not answer: {error}")
    if out.split() != ["1", "1"]:
        raise Unhealthy(f"unexpected answer to SELECT 1: {one_line(out, 80)!r}")


def parse_batch(text):
    """Parse the client's --batch output (tab separated, header line first) into dicts."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


REPLICATION_FIELDS = {
    "io": ("Replica_IO_Running", "Slave_IO_Running"),
    "sql": ("Replica_SQL_Running", "Slave_SQL_Running"),
    "lag": ("Seconds_Behind_Source", "Seconds_Behind_Master"),
    "io_error": ("Last_IO_Error",),
    "sql_error": ("Last_SQL_Error",),
}


def replication_value(row, key):
    for name in REPLICATION_FIELDS[key]:
        if name in row:
            return row[name]
    return None


def evaluate_replication(row, max_lag=None):
    """Return None when the replica row is healthy, else the reason (pure function)."""
    problems = []
    for key, label in (("io", "IO"), ("sql", "SQL")):
        value = replication_value(row, key)
        if value != "Yes":
            problem = f"{label} thread is {'not running' if value in (None, 'No') else value}"
            error = replication_value(row, f"{key}_error")
            if error and error != "NULL":
                problem += f" ({one_line(error, 160)})"
            problems.append(problem)
    if problems:
        return "; ".join(problems)
    if max_lag is None:
        return None
    lag = replication_value(row, "lag")
    if lag in (None, "", "NULL"):
        return f"replication lag is unknown (NULL), limit is {max_lag:g}s"
    try:
        seconds = float(lag)
    except ValueError:
        return f"replication lag {lag!r} is not a number"
    if seconds > max_lag:
        return f"replica is {seconds:g}s behind, limit is {max_lag:g}s"
    return None


def check_mysql_replication(opts, budget):
    ok, out, error = mysql_query(opts, budget, "SHOW REPLICA STATUS")
    if not ok and ("1064" in error or "syntax" in error.lower()):
        # MySQL before 8.0.22 and MariaDB before 10.5.1 only know the older statement.
        ok, out, error = mysql_query(opts, budget, "SHOW SLAVE STATUS")
    if not ok:
        raise Unhealthy(f"cannot read replica status: {error}")
    rows = parse_batch(out)
    if not rows:
        raise Unhealthy("server is not a replica (replica status is empty)")
    reason = evaluate_replication(rows[0], opts.max_lag)
    if reason:
        raise Unhealthy(reason)


# --- HAProxy ---------------------------------------------------------------------------------


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


# --- all / any -------------------------------------------------------------------------------


def split_check_spec(spec):
    """Turn one --check value into argv.

    Two forms: "NAME --opt value ..." (split like a shell would) and the quote-free compact form
    "NAME:opt=value,opt=value,flag" for script lines where quoting is awkward.
    """
    import shlex

    spec = spec.strip()
    head, sep, rest = spec.partition(":")
    if sep and head in CHECKS and not any(ch.isspace() for ch in spec):
        argv = [head]
        for item in rest.split(","):
            if not item:
                continue
            key, eq, value = item.partition("=")
            argv.append("--" + key.replace("_", "-"))
            if eq:
                argv.append(value)
        return argv
    try:
        argv = shlex.split(spec)
    except ValueError as exc:
        raise UsageError(f"cannot split check {spec!r}: {exc}") from None
    if not argv:
        raise UsageError("empty --check")
    return argv


def parse_sub_checks(specs):
    parser = build_parser(nested=True)
    parsed = []
    for spec in specs:
        argv = split_check_spec(spec)
        if argv[0] not in CHECKS or argv[0] in ("all", "any"):
            raise UsageError(f"unknown check {argv[0]!r} in --check {spec!r}")
        try:
            parsed.append(parser.parse_args(argv))
        except UsageError as exc:
            raise UsageError(f"in --check {spec!r}: {exc}") from None
    return parsed


def validate(opts):
    """Checks argparse cannot express; raises UsageError."""
    if opts.check == "process" and opts.name is None and opts.cmdline is None and opts.pidfile is None:
        raise UsageError("process: give at least one of --name, --cmdline, --pidfile")
    if opts.check == "haproxy" and (opts.frontend or opts.backend) and not opts.stats_socket:
        raise UsageError("haproxy: --frontend and --backend need --stats-socket")
    if opts.check == "http":
        split_url(opts.url)
    if opts.check == "systemd" and not valid_unit(opts.unit, leading_dash=True):
        raise UsageError(f"systemd: bad unit name {opts.unit!r}")
    if opts.check in ("all", "any"):
        if not opts.checks:
            raise UsageError(f"{opts.check}: give at least one --check")
        opts.sub_checks = parse_sub_checks(opts.checks)
        for sub in opts.sub_checks:
            validate(sub)


def check_all(opts, budget):
    for sub in opts.sub_checks:
        try:
            CHECKS[sub.check](sub, budget)
        except Unhealthy as exc:
            raise Unhealthy(f"{sub.check}: {exc}") from None


def check_any(opts, budget):
    reasons = []
    for sub in opts.sub_checks:
        try:
            CHECKS[sub.check](sub, budget)
            return
        except Unhealthy as exc:
            reasons.append(f"{sub.check}: {exc}")
    raise Unhealthy("no check passed: " + "; ".join(reasons))


# --------------------------------------------------------------------------------------------
# Remediation: restart, settle, re-check once; rate limited with a JSON state file
# --------------------------------------------------------------------------------------------


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
    with RemediationState(opts.remediate_state) as state:
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
    reporter.notice(f"{opts.check}: {reason}; remediating with: {' '.join(argv)}")
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
    reporter.notice(f"{opts.check}: healthy again after remediation with {target}")
    return HEALTHY


# --------------------------------------------------------------------------------------------
# Runner: one resident process runs many checks in-process and reports each through a track
# file that keepalived watches (vrrp_track_file); "0" healthy, "1" failed.
# --------------------------------------------------------------------------------------------

RUNNER_FAILED = "1\n"
RUNNER_HEALTHY = "0\n"
# How often the runner re-reads its track files and rewrites one that differs from its verdict.
RUNNER_REASSERT = 1.0


class RunnerCheck:
    """One configured check: its parsed options, schedule, fall/rise counters and track file.

    The worker thread runs the check; the main loop counts a run that is still going past its
    timeout as failed. Verdicts change under the lock, and the track file is written on a change.
    """

    def __init__(self, name, opts, interval, timeout, fall, rise, path):
        import threading

        self.name = name
        self.opts = opts
        self.interval = interval
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


def load_runner_config(path):
    """Read and check the runner's JSON file; return (track_dir, [RunnerCheck]). Raises UsageError."""
    import json

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
    checks = []
    names = set()
    for index, item in enumerate(data["checks"]):
        where = f"{path}: checks[{index}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where} is not an object")
        name = item.get("name")
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or name in names:
            raise UsageError(f"{where}: name must be unique, non-empty, without '/' and not start with '.'")
        names.add(name)
        argv = item.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError(f"{where} ({name}): argv must be a list of strings such as [\"file\", \"--path\", \"/x\"]")
        if argv[0] not in CHECKS or any(a.startswith("--remediate") or a in ("--timeout", "--check-timeout") for a in argv):
            raise UsageError(f"{where} ({name}): argv must start with a check name and carry no global options")
        numbers = {}
        for key, default, low in (("interval", 1.0, 0.01), ("timeout", None, 0.01), ("fall", 1, 1), ("rise", 1, 1)):
            value = item.get(key, default)
            if value is None:
                value = numbers["interval"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise UsageError(f"{where} ({name}): {key} must be a number >= {low:g}")
            if key in ("fall", "rise") and not isinstance(value, int):
                raise UsageError(f"{where} ({name}): {key} must be a whole number")
            numbers[key] = value
        parser = build_parser(only=argv[0])
        try:
            parser.raise_errors = True
            opts = parser.parse_args(argv)
        except SystemExit:
            raise UsageError(f"{where} ({name}): bad check arguments {argv}") from None
        validate(opts)
        checks.append(RunnerCheck(name, opts, numbers["interval"], numbers["timeout"], numbers["fall"],
                                  numbers["rise"], os.path.join(track_dir, name)))
    return track_dir, checks


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
            CHECKS[check.opts.check](check.opts, Budget(check.timeout * CHECK_SHARE))
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
        next_due = max(started + check.interval, ended)


# The check's own budget is this share of its timeout, so it reports before the runner counts it as hung.
CHECK_SHARE = 0.8


def runner_loop(checks, notifier, stop, log):
    """Start a worker per check and supervise them until stop is set; return the exit status."""
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
    import threading

    parser = argparse.ArgumentParser(
        prog=f"{PROG} runner", formatter_class=Formatter, allow_abbrev=False,
        description="Run the configured checks in one resident process and write each verdict to a track file "
                    "(0 healthy, 1 failed) for keepalived's vrrp_track_file.")
    parser.add_argument("--config", required=True, metavar="FILE", help="JSON file with track_dir and checks")
    parser.add_argument("--fail-all", action="store_true", help="write 1 (failed) to every track file and exit")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        track_dir, checks = load_runner_config(args.config)
    except UsageError as exc:
        print(f"{PROG} runner: error: {exc}", file=sys.stderr, flush=True)
        return USAGE
    if args.fail_all:
        return UNHEALTHY if fail_all(checks) else HEALTHY
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

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if fail_all(checks):  # until the first verdict, every check counts as failed
        return UNHEALTHY
    log(f"running {len(checks)} check(s), track files in {track_dir}")
    status = runner_loop(checks, Notifier(), stop, log)
    stop.set()
    Notifier().send("STOPPING=1")
    # Hold each lock while failing it, so that no worker finishing a run can write "0" afterwards.
    for check in checks:
        check.lock.acquire(timeout=1)
    fail_all(checks)
    if stopped_by:
        log(f"stopped by signal {stopped_by[0]}; every check reported as failed")
    return status


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """ArgumentParser that raises UsageError for check strings inside all/any."""

    def __init__(self, *args, raise_errors=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.raise_errors = raise_errors

    def error(self, message):
        if self.raise_errors:
            raise UsageError(message)
        super().error(message)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def port_number(text):
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value


def status_code(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an HTTP status: {text!r}") from None
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"not an HTTP status: {text!r}")
    return value


class Formatter(argparse.HelpFormatter):
    """HelpFormatter with a fixed width: the stock one imports shutil, which costs startup time."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) - 2
            except ValueError:
                width = 78
        super().__init__(prog, indent_increment, max_help_position, max(40, min(width, 118)))


class _Skipped:
    """Stands in for the parser of a check that this invocation does not run."""

    def add_argument(self, *args, **kwargs):
        pass


def add_checks(subparsers, nested, only=None):
    """Add one subparser per check; with only, just that one (building all costs startup time)."""
    kwargs = {"raise_errors": nested} if nested else {}

    def sub(name, help_text):
        if only is not None and name != only:
            return _Skipped()
        parser = subparsers.add_parser(name, help=help_text, description=help_text, formatter_class=Formatter, **kwargs)
        parser.set_defaults(check=name)
        return parser

    p = sub("file", "unhealthy while a file exists (the maintenance switch)")
    p.add_argument("--path", default=DEFAULT_DOWN_FILE, help=f"file to test (default {DEFAULT_DOWN_FILE})")

    p = sub("process", "a matching process exists that is neither a zombie nor stopped")
    p.add_argument("--name", help="exact process name (comm), as killall matches it")
    p.add_argument("--cmdline", help="substring of the process command line")
    p.add_argument("--pidfile", help="file holding the pid of the process")
    p.add_argument("--min-count", type=positive_int, metavar="N", default=1, help="live matching processes required (default 1)")

    p = sub("systemd", "a systemd unit is active")
    p.add_argument("--unit", required=True, help="unit name, e.g. haproxy.service")

    p = sub("http", "an HTTP(S) URL answers with an expected status")
    p.add_argument("--url", required=True, help="http:// or https:// URL")
    p.add_argument("--method", choices=("GET", "HEAD"), default="GET", help="request method (default GET)")
    p.add_argument("--expect-status", type=status_code, action="append", help="accepted status, repeatable (default 200)")
    p.add_argument("--body-contains", help="text the response body must contain (first 1 MiB)")
    p.add_argument("--host-header", help="Host header to send (also the TLS server name)")
    p.add_argument("--tls-server-name", help="name to verify the certificate against and send as SNI")
    p.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    p.add_argument("--ca-file", help="CA bundle to verify the certificate with")

    p = sub("tcp", "a TCP port accepts a connection")
    p.add_argument("--host", default="127.0.0.1", help="host name or address (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, required=True, help="port number")

    for name, help_text in (("mysql", "a MySQL/MariaDB server answers a query"),
                            ("mysql-replication", "both replication threads run and the lag is within the limit")):
        p = sub(name, help_text)
        p.add_argument("--defaults-file", required=True, help="client option file with a [client] section")
        p.add_argument("--client", help="client program (default: mariadb, else mysql)")
        if name == "mysql-replication":
            p.add_argument("--max-lag", type=non_negative_float, metavar="SECONDS", help="largest acceptable lag in seconds; NULL lag fails")

    p = sub("haproxy", "haproxy runs and, with a stats socket, frontends/backends are up")
    p.add_argument("--process-name", default="haproxy", help="process name (default haproxy)")
    p.add_argument("--pidfile", help="haproxy pid file, instead of looking up the name")
    p.add_argument("--stats-socket", help="path of the stats socket")
    p.add_argument("--frontend", action="append", default=[], help="frontend that must be OPEN, repeatable")
    p.add_argument("--backend", action="append", default=[], help="backend that must be UP, repeatable")

    p = sub("apiserver", "the local Kubernetes API server answers (never the VIP)")
    p.add_argument("--port", type=port_number, default=6443, help="port on localhost (default 6443)")
    p.add_argument("--path", default="/livez", help="request path (default /livez)")
    p.add_argument("--expect-status", type=status_code, action="append", help="accepted status, repeatable (default 200)")
    p.add_argument("--ca-file", help="verify the certificate with this CA (default: not verified)")
    p.add_argument("--tls-server-name", help="name to verify the certificate against (default localhost)")

    if not nested:
        for name, help_text in (("all", "healthy when every --check passes"),
                                ("any", "healthy when at least one --check passes")):
            p = sub(name, help_text)
            p.add_argument("--check", dest="checks", action="append", default=[], metavar="CHECK",
                           help="a check, as \"NAME --option value\" or NAME:option=value,flag; repeatable")


GLOBAL_OPTIONS_WITH_VALUE = {"--timeout", "--check-timeout", "--remediate-unit", "--remediate-command",
                             "--remediate-settle", "--remediate-max", "--remediate-window", "--remediate-state"}


def requested_check(argv):
    """The check named on the command line, if it is a simple one; None means build every parser."""
    args = iter(argv)
    for arg in args:
        if arg in GLOBAL_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg if arg in CHECKS and arg not in ("all", "any") else None
    return None


def build_parser(nested=False, only=None):
    if nested:
        parser = Parser(prog=f"{PROG} --check", add_help=False, raise_errors=True, formatter_class=Formatter,
                        allow_abbrev=False)
        subparsers = parser.add_subparsers(dest="check", required=True, metavar="CHECK", parser_class=Parser)
        add_checks(subparsers, nested=True)
        return parser
    parser = Parser(
        prog=PROG,
        description="Health checks for keepalived vrrp_script. Exit 0 healthy, 1 unhealthy (reason on stderr), 2 usage error.",
        epilog="Global options go before the check name. `keepalived-check runner --config FILE` runs many checks in one "
               "resident process and reports them through track files. See docs/checks.md for details.",
        formatter_class=Formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--timeout", type=positive_float, metavar="SECONDS", default=DEFAULT_TIMEOUT,
                        help=f"hard limit in seconds for the whole invocation (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--check-timeout", type=positive_float, metavar="SECONDS",
                        help="limit for one check attempt (default: --timeout, or a third of what the settle time leaves when remediating)")
    parser.add_argument("--verbose", action="store_true", help="report progress and success on stdout")
    parser.add_argument("--syslog", action="store_true", help="also log reasons and remediation to syslog")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--remediate-unit", metavar="UNIT", help="on failure run systemctl restart UNIT (sudo -n when not root)")
    group.add_argument("--remediate-command", metavar="COMMAND", help="on failure run this command (split like a shell)")
    parser.add_argument("--remediate-settle", type=non_negative_float, metavar="SECONDS", default=2.0,
                        help="seconds to wait after remediating before the re-check (default 2)")
    parser.add_argument("--remediate-max", type=positive_int, metavar="N", default=3, help="restarts allowed per window (default 3)")
    parser.add_argument("--remediate-window", type=positive_float, metavar="SECONDS", default=3600.0, help="rate-limit window in seconds (default 3600)")
    parser.add_argument("--remediate-state", metavar="FILE",
                        help=f"JSON state file (default {DEFAULT_STATE_DIR}/{STATE_FILE_NAME}, or under $TMPDIR)")
    subparsers = parser.add_subparsers(dest="check", required=True, metavar="CHECK", parser_class=argparse.ArgumentParser)
    add_checks(subparsers, nested=False, only=only)
    return parser


CHECKS = {
    "file": check_file,
    "process": check_process,
    "systemd": check_systemd,
    "http": check_http,
    "tcp": check_tcp,
    "mysql": check_mysql,
    "mysql-replication": check_mysql_replication,
    "haproxy": check_haproxy,
    "apiserver": check_apiserver,
    "all": check_all,
    "any": check_any,
}


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


def run(opts, reporter):
    """Run the chosen check with the hard limit and optional remediation; return the exit status."""
    remediating = bool(opts.remediate_unit or opts.remediate_command)
    start = time.monotonic()
    deadline_end = start + opts.timeout
    if opts.check_timeout is None:
        opts.check_timeout = (opts.timeout - opts.remediate_settle) / 3 if remediating else opts.timeout
    check = CHECKS[opts.check]
    _ACTIVITY["what"] = None

    def attempt():
        check(opts, Budget(opts.check_timeout, deadline_end))

    disarm = _arm_alarm(opts.timeout)
    try:
        try:
            attempt()
        except Unhealthy as exc:
            if not remediating:
                raise
            return remediate(opts, str(exc), deadline_end, reporter, attempt)
        reporter.info(f"{opts.check}: healthy")
        return HEALTHY
    except Unhealthy as exc:
        disarm()
        kill_children()
        reporter.unhealthy(opts.check, str(exc))
        return UNHEALTHY
    except DeadlineExceeded:
        disarm()
        kill_children()
        doing = f"{_ACTIVITY['what']}: " if _ACTIVITY["what"] else ""
        reporter.unhealthy(opts.check, f"{doing}no result within the --timeout of {opts.timeout:g}s, gave up")
        return UNHEALTHY
    finally:
        disarm()
        kill_children()


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["runner"]:
        return runner_main(argv[1:])
    parser = build_parser(only=requested_check(argv))
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        validate(opts)
        if (opts.remediate_unit or opts.remediate_command) and opts.timeout <= opts.remediate_settle:
            raise UsageError("--timeout must be longer than --remediate-settle when remediating")
        if opts.remediate_unit and not valid_unit(opts.remediate_unit):
            raise UsageError(f"bad unit name for --remediate-unit: {opts.remediate_unit!r}")
        if opts.remediate_command is not None and not remediation_argv(command=opts.remediate_command):
            raise UsageError("--remediate-command is empty")
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    if (opts.remediate_unit or opts.remediate_command) and opts.remediate_state is None:
        opts.remediate_state = default_state_file()
    reporter = Reporter(verbose=opts.verbose, use_syslog=opts.syslog)
    return run(opts, reporter)


if __name__ == "__main__":
    sys.exit(main())
