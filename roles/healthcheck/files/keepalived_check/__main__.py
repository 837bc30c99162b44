# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`python3 -m keepalived_check ...`, with the directory holding the package on sys.path."""

if __name__ == "__main__":
    import sys

    from .cli import main

    sys.exit(main())
