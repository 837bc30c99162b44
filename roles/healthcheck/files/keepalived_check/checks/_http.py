# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTTP(S) request with a time budget, shared by the http and apiserver checks."""

from ..core import PROG, Unhealthy, UsageError, os_error_text
from .tcp import connect_tcp

BODY_LIMIT = 1024 * 1024

# The option both checks take in the same sense.
EXPECT_STATUS = {"name": "expect_status", "type": "int", "min": 100, "max": 599, "repeatable": True, "default": [200],
                 "metavar": "CODE", "help": "accepted status, repeatable"}


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
    """Return (scheme, host, port, path with query, netloc without credentials); raises UsageError."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"must be an http:// or https:// URL, not {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"bad port in URL {url!r}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path, parts.netloc.rpartition("@")[2]
