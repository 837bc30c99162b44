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


class Options:
    """Parsed options as attributes, as argparse's Namespace gives them (without importing argparse or types
    on the quick path, which every forked run takes)."""

    def __init__(self, **values):
        self.__dict__.update(values)


def finite(number):
    """Neither infinite nor NaN, without importing math: inf - inf and NaN - NaN are NaN, never 0."""
    return number - number == 0


def describe_range(option):
    low, high = option.get("min"), option.get("max")
    if high is None:
        return "not negative" if low == 0 else f"at least {low:g}"
    if low is None:
        return f"at most {high:g}"
    return f"between {low:g} and {high:g}"


def check_value(option, text):
    """An option's value from its text: its type, bounds and format (choices are the parser's); raises UsageError."""
    kind, rule = option.get("type", "str"), FORMATS.get(option.get("format"))
    low, high = option.get("min"), option.get("max")
    value = text
    if kind in ("int", "float"):
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            raise UsageError(f"not {'an integer' if kind == 'int' else 'a number'}: {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high) or not finite(value):
            raise UsageError(f"must be {describe_range(option)}: {text!r}")
    if rule is not None:
        rule(value)
    return value


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


# --- the quick parse: a plain command line without argparse -----------------------------------------
#
# keepalived forks the program for every run of a vrrp_script, so its start-up is most of what a check
# costs; argparse (and the re, enum and gettext it imports) is more than half of that. A command line made
# only of exact "--option value" and "--flag" words, with every value valid, is parsed here from the same
# tables into the same namespace; anything else (--help, an unknown or abbreviated option, a value that
# starts with "-", "--option=value", an option given twice, a bad or missing value) goes to argparse,
# which gives the one usage message for it.


def _quick_options(words, options, values):
    """Parse WORDS (options only) into VALUES by the option dicts; False when argparse must parse them."""
    by_flag = {flag(option["name"]): option for option in options}
    seen = set()
    words = iter(words)
    for word in words:
        option = by_flag.get(word)
        if option is None or (word in seen and not option.get("repeatable")):
            return False
        seen.add(word)
        if option.get("type") == "bool":
            values[option["name"]] = True
            continue
        text = next(words, None)
        if text is None or text.startswith("-"):
            return False
        try:
            value = check_value(option, text)
        except UsageError:
            return False
        if option.get("choices") and value not in option["choices"]:
            return False
        if option.get("repeatable"):
            values[option["name"]] = (values.get(option["name"]) or []) + [value]
        else:
            values[option["name"]] = value
    return all(word in seen for word, option in by_flag.items() if option.get("required"))


def _unset(options):
    """Each option's value when it is not given, as argparse sets it (a repeatable one: None until fill_defaults)."""
    return {option["name"]: False if option.get("type") == "bool" else
            (None if option.get("repeatable") else option.get("default")) for option in options}


def quick_parse(argv, with_globals=True):
    """The namespace of a plain command line ([global options] CHECK [its options]), or None for argparse."""
    index = 0
    if with_globals:
        with_value = {flag(option["name"]) for option in GLOBAL_OPTIONS if option.get("type") != "bool"}
        while index < len(argv) and argv[index].startswith("-"):
            index += 2 if argv[index] in with_value else 1
    if index >= len(argv) or argv[index] not in checks.MODULES:
        return None
    table = checks.declaration(argv[index])
    values = dict(_unset(table["options"]), check_name=argv[index])
    if not _quick_options(argv[index + 1:], table["options"], values):
        return None
    if with_globals:
        values.update(_unset(GLOBAL_OPTIONS))
        if not _quick_options(argv[:index], GLOBAL_OPTIONS, values):
            return None
    return Options(**values)


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
    opts = quick_parse(argv, with_globals=False)
    if opts is None:
        from .argparser import build_check_parser

        opts = build_check_parser(argv[0], nested).parse_args(argv)
    validate(opts)
    return opts


def parse_command_line(argv):
    """Parse and validate a whole command line; on a usage error print it and raise SystemExit(2)."""
    opts = quick_parse(argv)
    if opts is None:
        from .argparser import build_parser, requested_check

        # --help (0) or a usage error (2): argparse prints and raises SystemExit
        opts = build_parser(only=requested_check(argv)).parse_args(argv)
    try:
        validate(opts)
        validate_globals(opts)
    except UsageError as exc:
        from .argparser import build_parser, requested_check

        build_parser(only=requested_check(argv)).print_usage(sys.stderr)
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
