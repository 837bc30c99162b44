# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The argparse parser of keepalived-check's command line, built from the option tables (see cli.py).

Imported only when cli.quick_parse leaves a command line to it: for --help, and for every usage error,
whose message argparse words. A plain command line never loads argparse, which is most of the
program's start-up time.
"""

import argparse
import os

from . import checks
from .cli import FORMATS, GLOBAL_OPTIONS, check_value, flag, help_text
from .core import PROG, UsageError


def converter(option):
    """The argparse type of an option: its type, bounds and format (cli.check_value); None for a plain string."""
    if option.get("type", "str") == "str" and option.get("format") not in FORMATS:
        return None

    def convert(text):
        try:
            return check_value(option, text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = option.get("type", "str")
    return convert


def add_options(parser, options):
    """One argparse argument per option dict."""
    for option in options:
        kwargs = {"dest": option["name"], "help": help_text(option)}
        if option.get("type") == "bool":
            kwargs["action"] = "store_true"
        else:
            # A repeatable option's default is filled in after parsing (fill_defaults): argparse
            # would append the given values to it.
            if option.get("repeatable"):
                kwargs["action"] = "append"
            else:
                kwargs["default"] = option.get("default")
            kwargs["type"] = converter(option)
            for key in ("choices", "required", "metavar"):
                if option.get(key):
                    kwargs[key] = option[key]
        parser.add_argument(flag(option["name"]), **kwargs)


class Parser(argparse.ArgumentParser):
    """ArgumentParser that can raise UsageError instead of printing and exiting (all/any, the runner)."""

    def __init__(self, *args, raise_errors=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.raise_errors = raise_errors

    def error(self, message):
        if self.raise_errors:
            raise UsageError(message)
        super().error(message)


class Formatter(argparse.HelpFormatter):
    """HelpFormatter with a fixed width: the stock one imports shutil, which costs startup time."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) - 2
            except ValueError:
                width = 78
        super().__init__(prog, indent_increment, max_help_position, max(40, min(width, 118)))


def add_checks(subparsers, names, **kwargs):
    """One subparser per check in names; only their modules are imported."""
    for name in names:
        table = checks.declaration(name)
        parser = subparsers.add_parser(name, help=table["help"], description=table["help"], formatter_class=Formatter,
                                       allow_abbrev=False, **kwargs)
        parser.set_defaults(check_name=name)
        add_options(parser, table["options"])


def requested_check(argv):
    """The check named on the command line; None (build every subparser) when there is none."""
    with_value = {flag(option["name"]) for option in GLOBAL_OPTIONS if option.get("type") != "bool"}
    args = iter(argv)
    for arg in args:
        if arg in with_value:
            next(args, None)
        elif not arg.startswith("-"):
            return arg if arg in checks.MODULES else None
    return None


def build_parser(only=None):
    """The whole command line: global options, then one subparser per check (or only the one named)."""
    parser = Parser(
        prog=PROG,
        description="Health checks for keepalived vrrp_script. Exit 0 healthy, 1 unhealthy (reason on stderr), 2 usage error.",
        epilog="Global options go before the check name. `keepalived-check runner --config FILE` runs many checks in one "
               "resident process and reports them through track files. See docs/checks.md for details.",
        formatter_class=Formatter,
        allow_abbrev=False,
    )
    add_options(parser, GLOBAL_OPTIONS)
    subparsers = parser.add_subparsers(dest="check_name", required=True, metavar="CHECK", parser_class=argparse.ArgumentParser)
    add_checks(subparsers, [only] if only else list(checks.MODULES))
    return parser


def build_check_parser(name, nested=False):
    """A parser for one check's argv without global options (all/any's --check, the runner); raises UsageError."""
    parser = Parser(prog=f"{PROG} --check" if nested else PROG, add_help=False, raise_errors=True,
                    formatter_class=Formatter, allow_abbrev=False)
    subparsers = parser.add_subparsers(dest="check_name", required=True, metavar="CHECK", parser_class=Parser)
    add_checks(subparsers, [name], raise_errors=True, add_help=False)
    return parser
