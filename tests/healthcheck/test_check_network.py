# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""http, tcp and apiserver checks against real servers on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from hc_support import BOOT, free_port

# --- http ------------------------------------------------------------------------------------------


def test_http_ok(http_server, run_check):
    result = run_check("http", "--url", http_server.url("/ok"))
    assert (result.rc, result.out, result.err) == (0, "", "")


def test_http_wrong_status(http_server, run_check):
    url = http_server.url("/fail")
    result = run_check("http", "--url", url)
    assert result.rc == 1
    assert result.reason == f"keepalived-check http: GET {url} returned 503, expected 200"


def test_http_expected_statuses_are_repeatable(http_server, run_check):
    url = http_server.url("/fail")
    assert run_check("http", "--url", url, "--expect-status", "200", "--expect-status", "503").rc == 0
    result = run_check("http", "--url", http_server.url("/nothing"), "--expect-status", "200", "--expect-status", "503")
    assert result.rc == 1
    assert result.reason.endswith("returned 404, expected 200 or 503")


def test_http_body_contains(http_server, run_check):
    url = http_server.url("/ok")
    assert run_check("http", "--url", url, "--body-contains", "all good").rc == 0
    result = run_check("http", "--url", url, "--body-contains", "all bad")
    assert result.rc == 1
    assert result.reason == f"keepalived-check http: GET {url} returned 200 but the body does not contain 'all bad'"


def test_http_head(http_server, run_check):
    before = len(http_server.requests)
    assert run_check("http", "--method", "HEAD", "--url", http_server.url("/ok?probe=1")).rc == 0
    assert http_server.requests[before:] == [("HEAD", "/ok?probe=1", f"127.0.0.1:{http_server.port}")]
    assert run_check("http", "--method", "HEAD", "--url", http_server.url("/fail")).rc == 1


def test_http_host_header(http_server, run_check):
    url = http_server.url("/host")
    assert run_check("http", "--url", url, "--host-header", "www.example.test", "--body-contains", "host=www.example.test").rc == 0
    assert run_check("http", "--url", url, "--body-contains", f"host=127.0.0.1:{http_server.port}").rc == 0


def test_http_refused(run_check):
    url = f"http://127.0.0.1:{free_port()}/"
    result = run_check("http", "--url", url)
    assert result.rc == 1
    assert result.reason == f"keepalived-check http: GET {url}: connection refused"


def test_http_slow_server_gives_up_within_the_timeout(http_server, run_cli):
    url = http_server.url("/slow")  # answers after 5 s
    result = run_cli("--timeout", "1", "http", "--url", url)
    assert result.rc == 1
    assert result.elapsed < 1.6, result.elapsed
    assert result.err.count("\n") == 1
    assert result.reason.startswith(f"keepalived-check http: GET {url}")


def test_http_silent_server_gives_up_within_the_timeout(silent_listener, run_cli):
    result = run_cli("--timeout", "0.7", "http", "--url", f"http://127.0.0.1:{silent_listener}/")
    assert result.rc == 1
    assert result.elapsed < 1.3, result.elapsed


def test_http_ipv6_loopback(http6_server, run_check):
    assert run_check("http", "--url", http6_server.url("/ok")).rc == 0
    assert run_check("http", "--url", http6_server.url("/fail")).rc == 1


# --- https -----------------------------------------------------------------------------------------


def test_https_self_signed_is_not_trusted_by_default(https_server, run_check):
    url = https_server.url("/ok", scheme="https")
    result = run_check("http", "--url", url)
    assert result.rc == 1
    assert result.reason.startswith(f"keepalived-check http: GET {url}: TLS certificate not trusted: ")
    assert "self" in result.reason  # "self-signed certificate" / "self signed certificate"


def test_https_insecure(https_server, run_check):
    assert run_check("http", "--insecure", "--url", https_server.url("/ok", scheme="https")).rc == 0
    assert run_check("http", "--insecure", "--url", https_server.url("/fail", scheme="https")).rc == 1


def test_https_ca_file(https_server, tls_cert, run_check):
    assert run_check("http", "--ca-file", tls_cert.cert, "--url", https_server.url("/ok", scheme="https")).rc == 0
    by_name = https_server.url("/ok", scheme="https", host="localhost")
    assert run_check("http", "--ca-file", tls_cert.cert, "--url", by_name).rc == 0


def test_https_name_mismatch(https_server, tls_cert, run_check):
    url = https_server.url("/ok", scheme="https")
    result = run_check("http", "--ca-file", tls_cert.cert, "--host-header", "www.example.test", "--url", url)
    assert result.rc == 1
    assert "TLS certificate not trusted" in result.reason and "www.example.test" in result.reason
    assert run_check("http", "--ca-file", tls_cert.cert, "--host-header", "www.example.test",
                     "--tls-server-name", "localhost", "--url", url).rc == 0


def test_https_missing_ca_file(https_server, tmp_path, run_check):
    result = run_check("http", "--ca-file", tmp_path / "none.pem", "--url", https_server.url("/ok", scheme="https"))
    assert result.rc == 1
    assert "cannot load CA file" in result.reason


def test_https_against_plain_http(http_server, run_check):
    result = run_check("http", "--insecure", "--url", http_server.url("/ok", scheme="https"))
    assert result.rc == 1
    assert "TLS error" in result.reason


# --- tcp -------------------------------------------------------------------------------------------


def test_tcp_open_and_refused(http_server, run_check):
    assert run_check("tcp", "--port", http_server.port).rc == 0
    port = free_port()
    result = run_check("tcp", "--host", "127.0.0.1", "--port", port)
    assert result.rc == 1
    assert result.reason == f"keepalived-check tcp: connect to 127.0.0.1 port {port}: connection refused"


def test_tcp_ipv6(http6_server, run_check):
    assert run_check("tcp", "--host", "::1", "--port", http6_server.port).rc == 0


def test_tcp_full_backlog_gives_up_within_the_timeout(run_cli):
    # A listener with a full accept queue never completes new handshakes in time (or refuses them).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _attempt in range(8):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            fillers.append(sock)
        result = run_cli("--timeout", "0.8", "tcp", "--port", port)
        assert result.elapsed < 1.4, result.elapsed
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


# --- apiserver -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apiserver(https_server):
    """The HTTPS stand-in on 127.0.0.1 answers /livez with 200 and /readyz with 500."""
    return https_server


def test_apiserver_livez(apiserver, run_check):
    result = run_check("apiserver", "--port", apiserver.port)
    assert (result.rc, result.err) == (0, "")
    assert apiserver.requests[-1] == ("GET", "/livez", f"localhost:{apiserver.port}")


def test_apiserver_failing_path(apiserver, run_check):
    result = run_check("apiserver", "--port", apiserver.port, "--path", "/readyz")
    assert result.rc == 1
    assert result.reason == f"keepalived-check apiserver: GET https://localhost:{apiserver.port}/readyz returned 500, expected 200"


def test_apiserver_ca_file(apiserver, tls_cert, tmp_path, run_check):
    assert run_check("apiserver", "--port", apiserver.port, "--ca-file", tls_cert.cert).rc == 0
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other)], check=True, capture_output=True)
    result = run_check("apiserver", "--port", apiserver.port, "--ca-file", other)
    assert result.rc == 1 and "TLS certificate not trusted" in result.reason


def test_apiserver_down(run_check):
    port = free_port()
    result = run_check("apiserver", "--port", port)
    assert result.rc == 1
    assert result.reason == f"keepalived-check apiserver: GET https://localhost:{port}/livez: connection refused"


# The launcher's code with an audit hook in front, and the result printed instead of exited with.
AUDIT = """
import json, sys
events = []
def hook(event, args):
    if event == "socket.getaddrinfo":
        events.append(["getaddrinfo", str(args[0])])
    elif event == "socket.connect":
        address = args[1]
        events.append(["connect", address if isinstance(address, str) else str(address[0])])
sys.addaudithook(hook)
""" + BOOT.replace("sys.exit(main())", "rc = main()") + """
print(json.dumps({"rc": rc, "events": events}))
"""


@pytest.mark.parametrize("path, rc", [("/livez", 0), ("/readyz", 1)])
def test_apiserver_only_ever_contacts_localhost(apiserver, path, rc):
    """Every name looked up is localhost and every connection goes to a loopback address.

    Python's audit hooks see each getaddrinfo and connect the program makes, healthy or not.
    Probing the VIP as well (as the kubeadm sample does) lets the VIP flap between nodes.
    """
    import ipaddress

    proc = subprocess.run([sys.executable, "-I", "-c", AUDIT, "apiserver", "--port", str(apiserver.port),
                           "--path", path], capture_output=True, text=True, timeout=30, check=False)
    report = json.loads(proc.stdout)
    assert report["rc"] == rc
    lookups = [host for kind, host in report["events"] if kind == "getaddrinfo"]
    connects = [host for kind, host in report["events"] if kind == "connect"]
    assert lookups == ["localhost"]
    assert connects, "the audit hook saw no connection at all"
    assert all(ipaddress.ip_address(host).is_loopback for host in connects), connects
