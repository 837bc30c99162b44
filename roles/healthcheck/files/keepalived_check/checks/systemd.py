# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd: a unit is active, as systemctl is-active says."""

from ..core import Unhealthy, find_program, last_line, run_command

CHECKS = [
    {
        "name": "systemd",
        "help": "a systemd unit is active",
        "options": [
            {"name": "unit", "type": "str", "required": True, "format": "unit",
             "help": "unit name, e.g. haproxy.service (one that starts with a dash as --unit=-.mount)"},
        ],
    },
]

NOT_ACTIVE = ("inactive", "failed", "activating", "deactivating", "reloading", "unknown", "maintenance", "refreshing")


def check_systemd(opts, budget):
    systemctl = find_program("systemctl")
    if systemctl is None:
        raise Unhealthy("systemctl not found")
    rc, out, err = run_command([systemctl, "is-active", "--", opts.unit], budget, f"systemctl is-active {opts.unit}")
    if rc == 0:
        return
    state = last_line(out) or last_line(err) or f"exit status {rc}"
    if state in NOT_ACTIVE:
        raise Unhealthy(f"unit {opts.unit} is {state}")
    raise Unhealthy(f"unit {opts.unit} is not active: {state}")
