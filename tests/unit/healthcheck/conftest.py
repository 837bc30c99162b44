# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the keepalived-check tests; they live in hc_support so tests can import helpers."""

from hc_support import (  # noqa: F401  (fixtures are registered by being names in this module)
    haproxy,
    http6_server,
    http_server,
    https_server,
    kc,
    mariadb_pair,
    processes,
    run_check,
    run_cli,
    silent_listener,
    tls_cert,
)
