# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checks, one module each (two closely related checks may share one), imported only when used.

A module declares its checks as data in ``CHECKS``, a list of dicts (the keys are described in
cli.py), and runs the check NAME with ``check_NAME(opts, budget)``, dashes written as underscores:
it returns None when healthy and raises Unhealthy(reason) otherwise. A module may also define
``prepare(opts)``, run after parsing, for what its options need beyond the table (all/any parse
their sub-checks there); it raises UsageError.
"""

# Check name -> its module, in the order the help and the generated schema list them.
MODULES = {
    "file": "file",
    "process": "process",
    "systemd": "systemd",
    "http": "http",
    "tcp": "tcp",
    "mysql": "mysql",
    "mysql-replication": "mysql",
    "haproxy": "haproxy",
    "apiserver": "apiserver",
    "all": "combine",
    "any": "combine",
}
# Checks made of other checks; they cannot be nested.
COMBINING = ("all", "any")


def module(name):
    """The module of check NAME, imported on first use."""
    return __import__(f"{__name__}.{MODULES[name]}", fromlist=["CHECKS"])


def declaration(name):
    """The option table of check NAME."""
    for check in module(name).CHECKS:
        if check["name"] == name:
            return check
    raise LookupError(f"{MODULES[name]} does not declare the check {name}")


def function(name):
    """The function that runs check NAME."""
    return getattr(module(name), "check_" + name.replace("-", "_"))
