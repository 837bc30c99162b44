# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the keepalived-check tests: the program, and real services on loopback.

Everything listens on 127.0.0.1 or ::1 only. Services that need a Debian package (MariaDB,
HAProxy) are started privately on temporary directories and stopped afterwards; a test that
needs one is skipped with the package name when its binary is absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from hc_support import (
    HAPROXY_CONFIG,
    INIT_SQL,
    REPL_PASSWORD,
    REPL_USER,
    Cert,
    HAProxy,
    MariaDB,
    MariaDBPair,
    Processes,
    Result,
    Server,
    free_port,
    has_ipv6_loopback,
    need_binary,
    program_module,
    replica_running,
    run_program,
    wait_for,
)


@pytest.fixture(scope="session")
def kc():
    """The program imported as a package (nothing runs at import time); kc.main(argv) runs it."""
    return program_module()


@pytest.fixture
def run_check(kc, capsys):
    """Call main(argv) in this process; returns Result."""

    def run(*argv):
        capsys.readouterr()
        start = time.monotonic()
        rc = kc.main([str(a) for a in argv])
        elapsed = time.monotonic() - start
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err, elapsed)

    return run


@pytest.fixture
def run_cli():
    return run_program


@pytest.fixture
def processes():
    procs = Processes()
    yield procs
    procs.close()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for localhost, 127.0.0.1 and ::1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (apt-get install -y openssl)")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return Cert(str(cert), str(key))


@pytest.fixture(scope="session")
def http_server():
    server = Server("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http6_server():
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this host")
    server = Server("::1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_server(tls_cert):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_cert.cert, tls_cert.key)
    server = Server("127.0.0.1", context)
    yield server
    server.stop()


@pytest.fixture
def silent_listener():
    """A port that accepts connections and never says anything (a hung server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


@pytest.fixture(scope="session")
def mariadb_pair(tmp_path_factory):
    """A private MariaDB primary and replica on loopback, replicating, with a check user on both."""
    mariadbd = need_binary("mariadbd", "mariadb-server")
    install_db = need_binary("mariadb-install-db", "mariadb-server")
    client = need_binary("mariadb", "mariadb-client")
    base = tmp_path_factory.mktemp("mariadb")
    template = base / "template"
    subprocess.run([install_db, "--no-defaults", f"--datadir={template}", "--user=root", "--skip-test-db",
                    "--auth-root-authentication-method=socket"], check=True, capture_output=True, timeout=120)
    init_file = base / "init.sql"
    init_file.write_text(INIT_SQL)
    primary = MariaDB("primary", base / "primary", 1, binlog=True)
    replica = MariaDB("replica", base / "replica", 2, binlog=False)
    servers = []
    try:
        for server in (primary, replica):
            shutil.copytree(template, server.datadir, symlinks=True)
            server.client = client
            servers.append(server)
            server.start(mariadbd, init_file)
        out = primary.sql("SHOW MASTER STATUS").stdout.splitlines()
        log_file, log_pos = out[1].split("\t")[:2]
        replica.sql(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='{REPL_USER}', "
            f"MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_LOG_FILE='{log_file}', MASTER_LOG_POS={log_pos}, "
            f"MASTER_CONNECT_RETRY=1; START SLAVE;"
        )
        wait_for(lambda: replica_running(replica), timeout=30, what="replication to start")
        yield MariaDBPair(primary, replica)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def haproxy(tmp_path_factory, http_server):
    binary = need_binary("haproxy", "haproxy")
    directory = tmp_path_factory.mktemp("haproxy")
    sock_path = str(directory / "admin.sock")
    config = directory / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(socket=sock_path, fe_port=free_port(), up_port=http_server.port,
                                            down_port=free_port()))
    check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = directory / "haproxy.pid"
    pidfile.write_text(f"{proc.pid}\n")
    instance = HAProxy(proc, sock_path, str(pidfile), 0)
    try:
        wait_for(lambda: os.path.exists(sock_path), what="the haproxy stats socket")
        wait_for(lambda: instance.status("be_up", "BACKEND") == "UP" and instance.status("be_down", "BACKEND") == "DOWN",
                 what="haproxy health checks to settle")
        yield instance
    finally:
        proc.terminate()
        proc.wait(timeout=10)
