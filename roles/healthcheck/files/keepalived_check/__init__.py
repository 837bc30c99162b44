# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# keepalived-check: health checks for keepalived's vrrp_script, one subcommand per check.
#
# Exit status: 0 healthy, 1 unhealthy (one line on stderr says why), 2 usage error.
# Standard library only. keepalived may start this program every second, so an invocation imports
# only the module of the check it runs, and modules that only some checks need are imported inside
# those checks.
#
#   core.py         exit codes, errors, time budgets, child processes, reasons, the hard limit
#   cli.py          the command line, built from the option tables (GLOBAL_OPTIONS, each CHECKS)
#   checks/         one module per check, each declaring its options as data
#   remediation.py  restart, settle, re-check once; rate limited
#   runner.py       many checks in one resident process, reported through track files
#   metrics.py      keepalived's live state as a Prometheus textfile (keepalived_state/: the collection's
#                   own probe and parser of keepalived's dumps)
"""Health checks for keepalived vrrp_script (see docs/checks.md)."""


def main(argv=None) -> int:
    """Run keepalived-check with argv (default sys.argv[1:]); return the exit status."""
    from .cli import main as cli_main

    return cli_main(argv)
