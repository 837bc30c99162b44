# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""all / any: several checks in one invocation, sharing its one hard limit. They cannot be nested."""

from ..core import Unhealthy, UsageError, split_words
from . import COMBINING, MODULES, function

CHECK_OPTION = {"name": "check", "type": "str", "required": True, "repeatable": True, "format": "check_spec",
                "metavar": "CHECK",
                "help": 'a check, as "NAME --option value" or NAME:option=value,flag; repeatable'}

CHECKS = [
    {"name": "all", "help": "healthy when every --check passes", "options": [CHECK_OPTION]},
    {"name": "any", "help": "healthy when at least one --check passes", "options": [CHECK_OPTION]},
]


def split_check_spec(spec):
    """Turn one --check value into argv; raises UsageError.

    Two forms: "NAME --opt value ..." (split like a shell would) and the quote-free compact form
    "NAME:opt=value,opt=value,flag" for script lines where quoting is awkward.
    """
    spec = spec.strip()
    head, sep, rest = spec.partition(":")
    if sep and head in MODULES and not any(ch.isspace() for ch in spec):
        argv = [head]
        for item in rest.split(","):
            if not item:
                continue
            key, eq, value = item.partition("=")
            option = "--" + key.replace("_", "-")
            if not eq:
                argv.append(option)
            elif value.startswith("-"):
                argv.append(f"{option}={value}")  # or argparse would read the value as an option (-.mount)
            else:
                argv += [option, value]
        return argv
    return split_words(spec, "check")


def sub_check_argv(spec):
    """The argv of one --check value, whose check must be one that all/any can run; raises UsageError."""
    argv = split_check_spec(spec)
    if argv[0] in COMBINING:
        raise UsageError(f"{argv[0]} cannot be nested, in --check {spec!r}")
    if argv[0] not in MODULES:
        raise UsageError(f"unknown check {argv[0]!r} in --check {spec!r}")
    return argv


def prepare(opts):
    """Parse every --check into opts.sub_checks; raises UsageError."""
    from ..cli import parse_check_argv

    subs = []
    for spec in opts.check:
        try:
            subs.append(parse_check_argv(sub_check_argv(spec), nested=True))
        except UsageError as exc:
            raise UsageError(f"in --check {spec!r}: {exc}") from None
    opts.sub_checks = subs


def check_all(opts, budget):
    for sub in opts.sub_checks:
        try:
            function(sub.check_name)(sub, budget)
        except Unhealthy as exc:
            raise Unhealthy(f"{sub.check_name}: {exc}") from None


def check_any(opts, budget):
    reasons = []
    for sub in opts.sub_checks:
        try:
            function(sub.check_name)(sub, budget)
            return
        except Unhealthy as exc:
            reasons.append(f"{sub.check_name}: {exc}")
    raise Unhealthy("no check passed: " + "; ".join(reasons))
