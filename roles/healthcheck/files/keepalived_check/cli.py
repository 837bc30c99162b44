# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line of keepalived-check, built from the option tables.

Every option exists once, as data: the global options in GLOBAL_OPTIONS below, a check's options
in the CHECKS list of its module (checks/). tools/check_options.py copies the same tables into
plugins/module_utils/_check_options.py for the controller's preflight.

A check's table is a dict:

    name             the subcommand, e.g. "mysql-replication"
    help             one line
    options          a list of option dicts (below)
    one_of_required  lists of option names; at least one of each list must be given
    requires         {name: [names]}: when the first is given, every one of the others must be too
    exclusive        lists of option names; at most one of each list may be given

An option dict:

    name        snake_case; the command-line option is "--" + name with "_" written "-", and the
                parsed value is the attribute of that name
    type        "str", "int", "float" or "bool" (a flag without a value); default "str"
    required    the option must be given
    default     the value when it is not given (a list for a repeatable option)
    choices     the only values accepted
    repeatable  given once per value, parsed into a list
    min, max    inclusive bounds of an int or float
    format      a named rule for a string that its type cannot express (FORMATS)
    metavar     the value's name in --help, display only
    help        one line; "(default ...)" is added from default
"""

import argparse
import math
import os
import sys

from . import checks
from .core import DEFAULT_TIMEOUT, PROG, USAGE, Reporter, UsageError, remediating, run, split_words

GLOBAL_OPTIONS = [
    {"name": "timeout", "type": "float", "default": DEFAULT_TIMEOUT, "min": 0.001, "max": 86400, "metavar": "SECONDS",
     "help": "hard limit in seconds for the whole invocation"},
    {"name": "check_timeout", "type": "float", "min": 0.001, "max": 86400, "metavar": "SECONDS",
     "help": "limit for one check attempt (default: --timeout, or a third of what the settle time leaves when "
             "remediating)"},
    {"name": "verbose", "type": "bool", "help": "report progress and success on stdout"},
    {"name": "syslog", "type": "bool", "help": "also log reasons and remediation to syslog"},
    {"name": "remediate_unit", "type": "str", "format": "restart_unit", "metavar": "UNIT",
     "help": "on failure run systemctl restart UNIT (sudo -n when not root)"},
    {"name": "remediate_command", "type": "str", "format": "command", "metavar": "COMMAND",
     "help": "on failure run this command (split like a shell)"},
    {"name": "remediate_settle", "type": "float", "default": 2.0, "min": 0, "max": 86400, "metavar": "SECONDS",
     "help": "seconds to wait after remediating before the re-check"},
    {"name": "remediate_max", "type": "int", "default": 3, "min": 1, "metavar": "N", "help": "restarts allowed per window"},
    {"name": "remediate_window", "type": "float", "default": 3600.0, "min": 0.001, "max": 86400, "metavar": "SECONDS",
     "help": "rate-limit window in seconds"},
    {"name": "state_dir", "type": "str", "format": "path", "metavar": "DIR",
     "help": "directory of the remediation state file, DIR/remediation.json (default /run/keepalived-check if "
             "usable, else under $TMPDIR)"},
    {"name": "remediate_state", "type": "str", "format": "path", "metavar": "FILE",
     "help": "remediation state file, instead of the one in --state-dir"},
]
# The rules between global options, with the keys of a check's table.
GLOBAL_RULES = {"exclusive": [["remediate_unit", "remediate_command"]]}

# Attributes of the parsed options that are not options.
RESERVED = ("check_name", "sub_checks")


# --- formats: rules for strings that a type cannot express -------------------------------------------


def valid_unit(unit, leading_dash=False):
    """Unit names as systemd spells them; "-.mount" is valid but cannot be passed to sudo rules."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\")
    return bool(unit) and (leading_dash or not unit.startswith("-")) and set(unit) <= allowed


def _unit(text):
    """a systemd unit name (letters, digits and any of :-_.@\\ only); it may start with "-", as -.mount does"""
    if not valid_unit(text, leading_dash=True):
        raise UsageError(f"bad unit name {text!r}")


def _restart_unit(text):
    """a systemd unit name as for unit that does not start with "-" (it goes to systemctl restart and a sudo rule)"""
    if not valid_unit(text):
        raise UsageError(f"bad unit name {text!r}")


def _http_url(text):
    """an http:// or https:// URL with a host name or address, and a valid port number if it names one"""
    from .checks._http import split_url

    split_url(text)


def _check_spec(text):
    """one check for all/any: "NAME --option value ..." (split like a shell would) or NAME:option=value,flag
    (no spaces); NAME is any check but all and any, and the options are those of that check"""
    from .checks.combine import sub_check_argv

    sub_check_argv(text)


def _path(text):
    """an absolute path"""
    if not text.startswith("/"):
        raise UsageError(f"must be an absolute path, not {text!r}")


def _command(text):
    """a command line that splits like a shell would (balanced quotes) into at least one word"""
    split_words(text, "command")


# Format name -> function that raises UsageError for a value it refuses.
FORMATS = {
    "path": _path,
    "http_url": _http_url,
    "unit": _unit,
    "restart_unit": _restart_unit,
    "command": _command,
    "check_spec": _check_spec,
}


# --- building the parser -----------------------------------------------------------------------------


def flag(name):
    return "--" + name.replace("_", "-")


def global_flags():
    """Every global option as written on the command line."""
    return {flag(option["name"]) for option in GLOBAL_OPTIONS}


def describe_range(option):
    low, high = option.get("min"), option.get("max")
    if high is None:
        return "not negative" if low == 0 else f"at least {low:g}"
    if low is None:
        return f"at most {high:g}"
    return f"between {low:g} and {high:g}"


def converter(option):
    """The argparse type of an option: its type, bounds and format; None for a plain string."""
    kind, rule = option.get("type", "str"), FORMATS.get(option.get("format"))
    low, high = option.get("min"), option.get("max")
    if kind == "str" and rule is None:
        return None

    def convert(text):
        value = text
        if kind in ("int", "float"):
            try:
                value = int(text) if kind == "int" else float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not {'an integer' if kind == 'int' else 'a number'}: {text!r}") from None
            if (low is not None and value < low) or (high is not None and value > high) or math.isnan(value):
                raise argparse.ArgumentTypeError(f"must be {describe_range(option)}: {text!r}")
        if rule is not None:
            try:
                rule(value)
            except UsageError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    convert.__name__ = kind
    return convert


def shown(value):
    """A default as --help shows it: 2 rather than 2.0, a list as its values."""
    if isinstance(value, list):
        return " ".join(shown(one) for one in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def help_text(option):
    text = option.get("help", "")
    if option.get("default") is not None and option.get("type") != "bool":
        text += f" (default {shown(option['default'])})"
    return text.replace("%", "%%")


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


# --- after parsing: the rules argparse cannot express ------------------------------------------------


def given(opts, name):
    value = getattr(opts, name)
    return value is not None and value is not False and value != []


def fill_defaults(opts, options):
    for option in options:
        if option.get("repeatable") and getattr(opts, option["name"]) is None:
            setattr(opts, option["name"], list(option.get("default") or []))


def check_rules(opts, table, where=""):
    """one_of_required, requires and exclusive of a table; raises UsageError."""
    for group in table.get("one_of_required", ()):
        if not any(given(opts, name) for name in group):
            raise UsageError(f"{where}give at least one of {', '.join(flag(name) for name in group)}")
    for name, needed in table.get("requires", {}).items():
        missing = [other for other in needed if not given(opts, other)]
        if given(opts, name) and missing:
            raise UsageError(f"{where}{flag(name)} needs {' and '.join(flag(other) for other in missing)}")
    for group in table.get("exclusive", ()):
        present = [name for name in group if given(opts, name)]
        if len(present) > 1:
            raise UsageError(f"{where}give only one of {', '.join(flag(name) for name in present)}")


def validate(opts):
    """Complete the parsed options of one check and apply its rules; raises UsageError."""
    table = checks.declaration(opts.check_name)
    fill_defaults(opts, table["options"])
    check_rules(opts, table, f"{opts.check_name}: ")
    prepare = getattr(checks.module(opts.check_name), "prepare", None)
    if prepare is not None:
        prepare(opts)


def validate_globals(opts):
    fill_defaults(opts, GLOBAL_OPTIONS)
    check_rules(opts, GLOBAL_RULES)
    if remediating(opts) and opts.timeout <= opts.remediate_settle:
        raise UsageError("--timeout must be longer than --remediate-settle when remediating")


def parse_check_argv(argv, nested=False):
    """Parse and validate one check's argv (NAME --option ...); raises UsageError."""
    if not argv or argv[0] not in checks.MODULES or (nested and argv[0] in checks.COMBINING):
        raise UsageError(f"unknown check {argv[0] if argv else ''!r}")
    opts = build_check_parser(argv[0], nested).parse_args(argv)
    validate(opts)
    return opts


def parse_command_line(argv):
    """Parse and validate a whole command line; on a usage error print it and raise SystemExit(2)."""
    parser = build_parser(only=requested_check(argv))
    opts = parser.parse_args(argv)  # --help (0) or a usage error (2): argparse prints and raises SystemExit
    try:
        validate(opts)
        validate_globals(opts)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(USAGE) from None
    return opts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["runner"]:
        from .runner import runner_main

        return runner_main(argv[1:])
    if argv[:1] == ["metrics"]:
        from .metrics import metrics_main

        return metrics_main(argv[1:])
    try:
        opts = parse_command_line(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    reporter = Reporter(verbose=opts.verbose, use_syslog=opts.syslog)
    return run(opts, checks.function(opts.check_name), reporter)
