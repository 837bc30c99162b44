# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""file: unhealthy while a file exists (the maintenance switch)."""

import os

from ..core import Unhealthy, os_error_text

DEFAULT_DOWN_FILE = "/etc/keepalived/down"

CHECKS = [
    {
        "name": "file",
        "help": "unhealthy while a file exists (the maintenance switch)",
        "options": [
            {"name": "path", "type": "str", "format": "path", "default": DEFAULT_DOWN_FILE, "help": "file to test"},
        ],
    },
]


def check_file(opts, budget):
    try:
        os.lstat(opts.path)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise Unhealthy(f"cannot check maintenance file {opts.path}: {os_error_text(exc)}") from None
    raise Unhealthy(f"maintenance file {opts.path} exists")
