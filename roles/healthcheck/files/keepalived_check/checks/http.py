# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""http: an HTTP(S) URL answers with an expected status (and, optionally, body text)."""

from ._http import EXPECT_STATUS, http_probe, split_url

CHECKS = [
    {
        "name": "http",
        "help": "an HTTP(S) URL answers with an expected status",
        "options": [
            {"name": "url", "type": "str", "required": True, "format": "http_url", "help": "http:// or https:// URL"},
            {"name": "method", "type": "str", "choices": ["GET", "HEAD"], "default": "GET", "help": "request method"},
            EXPECT_STATUS,
            {"name": "body_contains", "type": "str", "metavar": "TEXT",
             "help": "text the response body must contain (first 1 MiB)"},
            {"name": "host_header", "type": "str", "help": "Host header to send (also the TLS server name)"},
            {"name": "tls_server_name", "type": "str", "help": "name to verify the certificate against and send as SNI"},
            {"name": "insecure", "type": "bool", "help": "do not verify the TLS certificate"},
            {"name": "ca_file", "type": "str", "format": "path", "help": "CA bundle to verify the certificate with"},
        ],
    },
]


def check_http(opts, budget):
    scheme, host, port, path, netloc = split_url(opts.url)
    host_header = opts.host_header or netloc
    server_name = opts.tls_server_name or (opts.host_header.rsplit(":", 1)[0] if opts.host_header else host)
    http_probe(url_text=opts.url, scheme=scheme, host=host, port=port, path=path, method=opts.method,
               expect=opts.expect_status, body_contains=opts.body_contains,
               host_header=host_header, server_name=server_name, insecure=opts.insecure,
               ca_file=opts.ca_file, budget=budget)
