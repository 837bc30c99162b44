# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""apiserver: the Kubernetes API server on this node answers; only loopback addresses, never the VIP."""

from ._http import EXPECT_STATUS, http_probe

CHECKS = [
    {
        "name": "apiserver",
        "help": "the local Kubernetes API server answers (never the VIP)",
        "options": [
            {"name": "port", "type": "int", "min": 1, "max": 65535, "default": 6443, "help": "port on localhost"},
            {"name": "path", "type": "str", "default": "/livez", "help": "request path"},
            EXPECT_STATUS,
            {"name": "ca_file", "type": "str", "format": "path",
             "help": "verify the certificate with this CA (default: not verified)"},
            {"name": "tls_server_name", "type": "str",
             "help": "name to verify the certificate against (default localhost)"},
        ],
    },
]


def check_apiserver(opts, budget):
    path = opts.path if opts.path.startswith("/") else "/" + opts.path
    url = f"https://localhost:{opts.port}{path}"
    http_probe(url_text=url, scheme="https", host="localhost", port=opts.port, path=path, method="GET",
               expect=opts.expect_status, body_contains=None, host_header=f"localhost:{opts.port}",
               server_name=opts.tls_server_name or "localhost", insecure=not opts.ca_file,
               ca_file=opts.ca_file, budget=budget, loopback_only=True)
