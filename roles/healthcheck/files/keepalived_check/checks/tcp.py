# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tcp: a TCP port accepts a connection. connect_tcp() also serves http and apiserver."""

from ..core import Unhealthy, os_error_text

CHECKS = [
    {
        "name": "tcp",
        "help": "a TCP port accepts a connection",
        "options": [
            {"name": "host", "type": "str", "default": "127.0.0.1", "help": "host name or address"},
            {"name": "port", "type": "int", "required": True, "min": 1, "max": 65535, "help": "port number"},
        ],
    },
]


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


def check_tcp(opts, budget):
    sock = connect_tcp(opts.host, opts.port, budget, f"connect to {opts.host} port {opts.port}")
    sock.close()
