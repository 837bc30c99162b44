# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_scripts: their rules, and the command lines keepalived and the runner run.

A check's arguments are validated against the option table of the check program
itself (_check_options, generated from roles/healthcheck/files/keepalived_check),
so an argument the program would refuse on the host is refused here first.
"""

from __future__ import annotations

import math
import re
import shlex

from ansible_collections.failover.keepalived.plugins.module_utils import _check_options
from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    CHECK_TIMEOUT_SHARE, REMEDIATE_DEFAULTS, SCRIPT_DEFAULTS, UNSAFE_ARG_RE, err, is_int, is_number, listify,
    named_items, nearest, num, script_timeout, with_defaults,
)

# Subcommands of the keepalived-check program, from its own option table.
CHECK_TYPES = tuple(_check_options.CHECKS)
# Checks that combine others given with --check; they cannot be nested.
COMBINED = ("all", "any")
# The program's global options (--timeout, --remediate-window, ...) by name.
GLOBAL_OPTIONS = {opt["name"]: opt for opt in _check_options.GLOBAL_OPTIONS}
# keepalived's vrrp_script interval and timeout: whole seconds in this range.
SCRIPT_SECONDS = (1, 4294)
# The runner's schedule fields (interval, timeout, fall, rise, confirm_interval) by name, from its own table.
RUNNER_FIELDS = {field["name"]: field for field in _check_options.RUNNER_FIELDS}
# The file check's own default path (the maintenance switch), from its option table.
DOWN_FILE = next(o["default"] for o in _check_options.CHECKS["file"]["options"] if o["name"] == "path")
UNIT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\")


def check_args(args):
    """Render a check's args dict as command-line options (``--max-lag 30``)."""
    out = []
    for key in sorted(args or {}):
        value = args[key]
        opt = "--" + str(key).replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(opt)
            continue
        for one in listify(value):
            text = str(one)
            # --opt=-value: the program's parser would read a separate -value as an option
            out += ["%s=%s" % (opt, text)] if text.startswith("-") else [opt, text]
    return out


def maintenance_file(script):
    """The down file a script watches (check: file), or None."""
    if not isinstance(script, dict) or script.get("check") != "file":
        return None
    args = script.get("args") if isinstance(script.get("args"), dict) else {}
    return str(args.get("path") or DOWN_FILE)


def runner_check(scr):
    """One normalised keepalived_scripts item with runner: true, as ``keepalived-check runner`` reads it."""
    interval = float(scr["interval"] or 1)
    timeout = float(scr["timeout"]) if scr.get("timeout") else max(interval, 0.5)
    out = {
        "name": scr["name"],
        "argv": [scr["check"]] + check_args(scr.get("args")),
        "interval": interval,
        "timeout": timeout,
        "fall": int(scr["fall"] or 1),
        "rise": int(scr["rise"] or 1),
    }
    if scr.get("confirm_interval") is not None:
        out["confirm_interval"] = float(scr["confirm_interval"])
    return out


def script_command(script, check_command, state_dir=None):
    """The command line keepalived runs for one normalised keepalived_scripts item.

    A check that remediates keeps its rate-limit state in ``state_dir``.
    """
    if script.get("script"):
        return str(script["script"])
    timeout = script_timeout(script)
    check_timeout = round(max(0.1, timeout * CHECK_TIMEOUT_SHARE), 2)
    words = [check_command, "--timeout", num(check_timeout)]
    if script.get("remediate"):
        rem = with_defaults(script["remediate"], REMEDIATE_DEFAULTS)
        if rem.get("unit"):
            words += ["--remediate-unit", str(rem["unit"])]
        else:
            words += ["--remediate-command", "'%s'" % rem["command"]]
        words += ["--remediate-max", num(rem["max"]), "--remediate-window", num(rem["window"]),
                  "--remediate-settle", num(rem["settle"])]
        if state_dir:
            words += ["--state-dir", str(state_dir)]
    words += [script["check"]] + check_args(script.get("args"))
    return " ".join(words)


def validate_scripts(errors, host, view):
    scripts = {}
    for var, scr, name in named_items(errors, host, "keepalived_scripts", view.get("scripts"), SCRIPT_DEFAULTS,
                                      "give each check a name plus check/args or script", "check_web"):
        if name in scripts:
            err(errors, host, var, "is defined twice", "give each check a unique name")
        scripts[name] = scr
        if bool(scr.get("check")) == bool(scr.get("script")):
            err(errors, host, var, "must set exactly one of 'check' (a keepalived-check type) or 'script' (a command)",
                "e.g. check: file with args: {path: /etc/keepalived/down}")
        if scr.get("check") and scr["check"] not in CHECK_TYPES:
            err(errors, host, var + ".check", "is %r, an unknown check type" % scr["check"],
                "use one of " + ", ".join(CHECK_TYPES))
        if scr.get("check") in CHECK_TYPES:
            for problem, fix, where in check_arg_problems(scr["check"], scr.get("args")):
                err(errors, host, var + ".args" + where, problem, fix)
        if scr.get("remediate") is not None:
            _validate_remediate(errors, host, var + ".remediate", scr)
        if scr.get("script") and '"' in str(scr["script"]):
            err(errors, host, var + ".script", "contains a double quote", "use single quotes inside the command")
        weight = scr.get("weight")
        if not is_int(weight) or not -253 <= weight <= 253:
            err(errors, host, var + ".weight", "is %r, outside -253..253" % (weight,),
                "use a negative weight to lower the priority on failure, positive to raise it on success, 0 for FAULT")
        for field in ("interval", "timeout", "confirm_interval"):
            value = scr.get(field)
            if value is not None and (not is_number(value) or not math.isfinite(value) or value <= 0):
                err(errors, host, "%s.%s" % (var, field), "is %r, not a positive number of seconds" % (value,),
                    "set e.g. %s: 2" % field)
            elif value is not None and scr.get("runner") is True:
                # The runner's own bounds (runner.py's RUNNER_FIELDS): it refuses its whole config otherwise.
                found = _value_problem(RUNNER_FIELDS[field], value)
                if found:
                    err(errors, host, "%s.%s" % (var, field), found[0] + " (the runner's range)", found[1])
            elif value is not None and field == "confirm_interval":
                err(errors, host, var + ".confirm_interval", "is set on a check without runner: true (keepalived runs "
                    "a vrrp_script every interval, with no shorter interval while fall or rise count)",
                    "set runner: true, or remove confirm_interval")
            elif value is not None and scr.get("runner") is False and (
                    float(value) != int(value) or not SCRIPT_SECONDS[0] <= value <= SCRIPT_SECONDS[1]):
                err(errors, host, "%s.%s" % (var, field), "is %r, but keepalived runs a vrrp_script every %d..%d whole "
                    "seconds" % ((value,) + SCRIPT_SECONDS),
                    "use a whole number of seconds, or runner: true for a check every fraction of a second")
        confirm, interval = scr.get("confirm_interval"), scr.get("interval")
        if is_number(confirm) and is_number(interval) and confirm > interval:
            err(errors, host, var + ".confirm_interval", "is %r, longer than the interval (%r): it would only slow "
                "fall and rise down" % (confirm, interval), "use a value below the interval, e.g. a fifth of it")
        for field in ("fall", "rise"):
            value = scr.get(field)
            if not is_int(value) or value < 1:
                err(errors, host, "%s.%s" % (var, field), "is %r, not a whole number >= 1" % (value,),
                    "set e.g. %s: 2" % field)
        if not isinstance(scr.get("runner"), bool):
            err(errors, host, var + ".runner", "is %r, not true or false" % (scr.get("runner"),), "write runner: true")
        elif scr["runner"]:
            for field, why in (("script", "the runner runs keepalived-check checks in-process, not commands"),
                               ("remediate", "the runner does not restart units"),
                               ("user", "the runner runs every check as the healthcheck role's user"),
                               ("init_fail", "a runner check always reports failed until its first result")):
                if scr.get(field):
                    err(errors, host, "%s.%s" % (var, field), "is set on a check with runner: true (%s)" % why,
                        "remove %s, or set runner: false to run it as a vrrp_script" % field)
        user = scr.get("user")
        if user is not None and not re.match(r"^[a-z_][a-z0-9_-]*\$?$", str(user)):
            err(errors, host, var + ".user", "is %r, not a user name" % (user,), "name an existing unprivileged user")
    return scripts


def _validate_remediate(errors, host, var, scr):
    rem = scr["remediate"]
    if not isinstance(rem, dict):
        err(errors, host, var, "is not a dict", "write e.g. remediate: {unit: nginx.service}")
        return
    rem = with_defaults(rem, REMEDIATE_DEFAULTS)
    if not scr.get("check"):
        err(errors, host, var, "is set on a check with 'script'", "remediation is done by keepalived-check: use 'check'")
    if bool(rem.get("unit")) == bool(rem.get("command")):
        err(errors, host, var, "must set exactly one of 'unit' (a systemd unit to restart) or 'command'",
            "e.g. remediate: {unit: nginx.service}")
    if rem.get("command") and re.search(r"['\"\\]", str(rem["command"])):
        err(errors, host, var + ".command", "contains quotes or backslashes", "wrap the command in a script file")
    elif rem.get("command") and str(rem["command"]).startswith("-"):
        err(errors, host, var + ".command", "is %r, which starts with '-'" % (rem["command"],),
            "start the command with the program to run")
    # The program's own declarations of --remediate-unit, -command, -max, -window and -settle.
    # (--remediate-command is quoted on the script line: the two rules above are its own.)
    for field in ("unit", "max", "window", "settle"):
        if rem.get(field) is not None:
            found = _value_problem(dict(GLOBAL_OPTIONS["remediate_" + field], name=field), rem[field])
            if found:
                err(errors, host, "%s.%s" % (var, field), found[0], found[1])
    settle = rem.get("settle")
    if is_number(settle):
        budget = script_timeout(scr) * CHECK_TIMEOUT_SHARE if is_number(script_timeout(scr)) else 0
        if budget <= settle + 1:
            err(errors, host, var, "needs time to restart, wait %s s and check again, but the check may only run "
                "%.1f s (%d%% of the script timeout)" % (num(settle), budget, CHECK_TIMEOUT_SHARE * 100),
                "set the script's timeout to at least %s" % num(int((settle + 2) / CHECK_TIMEOUT_SHARE) + 1))


def _option_name(key):
    return str(key).replace("-", "_")


def _http_url_problem(text):
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is %r, a URL with a bad port" % text
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is %r, not an http:// or https:// URL" % text
    return None


def _format_problem(fmt, text):
    """Why a string value does not have the option's format, or None."""
    if fmt == "http_url":
        return _http_url_problem(text)
    if fmt in ("unit", "restart_unit"):
        if not text or not set(text) <= UNIT_CHARS or (fmt == "restart_unit" and text.startswith("-")):
            return "is %r, not a systemd unit name" % text
    if fmt == "command":
        try:
            if not shlex.split(text):
                return "is empty"
        except ValueError:
            return "is %r, a command with unbalanced quotes" % text
    if fmt == "path" and not text.startswith("/"):
        return "is %r, not an absolute path" % text
    return None


def _value_problem(option, value):
    """(problem, fix) for one value of one option, or None when the program accepts it."""
    kind = option.get("type", "str")
    name = option["name"]
    if kind == "bool":
        if not isinstance(value, bool):
            return "is %r, but %s is a flag" % (value, name), "write %s: true (or leave it out)" % name
        return None
    if isinstance(value, (dict, list, tuple)) or isinstance(value, bool) or value is None:
        return "is %r, not a single value" % (value,), "give %s a %s" % (name, "number" if kind != "str" else "string")
    if kind in ("int", "float"):
        try:
            number = int(str(value), 10) if kind == "int" else float(value)
        except ValueError:
            return ("is %r, not %s" % (value, "a whole number" if kind == "int" else "a number"),
                    "give %s a %s" % (name, "whole number" if kind == "int" else "number"))
        low, high = option.get("min"), option.get("max")
        if not math.isfinite(number):
            return "is %r, not a finite number" % (value,), "give %s a number" % name
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = "%s..%s" % ("" if low is None else num(low), "" if high is None else num(high))
            return "is %r, outside %s" % (value, bounds), "use a value in %s" % bounds
    text = str(value)
    if kind == "str" and not text:
        return "is empty", "give %s a value" % name
    if option.get("choices") and value not in option["choices"] and text not in [str(c) for c in option["choices"]]:
        return ("is %r, not one of %s" % (value, ", ".join(str(c) for c in option["choices"])),
                "use one of " + ", ".join(str(c) for c in option["choices"]))
    if UNSAFE_ARG_RE.search(text):
        return ("value %r contains spaces, quotes or characters keepalived's script line cannot carry" % (value,),
                "write the check in the compact form NAME:option=value,flag, e.g. process:name=haproxy"
                if option.get("format") == "check_spec" else "use a value without them (paths with spaces: use a symlink)")
    if option.get("format") == "check_spec":
        return _spec_problem(text)
    problem = _format_problem(option.get("format"), text)
    if problem:
        return problem, "see docs/checks.md for the values %s takes" % name
    return None


def split_spec(text):
    """A check given to all/any, as (check, args dict); both forms the program reads.

    ``NAME:opt=value,flag`` (the compact form a script line can carry) or
    ``NAME --opt value --flag``. Raises ValueError.
    """
    head, sep, rest = text.strip().partition(":")
    if sep and not any(ch.isspace() for ch in text.strip()):
        args = {}
        for item in rest.split(","):
            if not item:
                continue
            key, eq, value = item.partition("=")
            args.setdefault(_option_name(key), []).append(value if eq else True)
        return head, {k: v[0] if len(v) == 1 else v for k, v in args.items()}
    words = shlex.split(text)
    if not words:
        raise ValueError("is empty")
    check, args, key = words[0], {}, None
    for word in words[1:]:
        if word.startswith("--"):
            key = _option_name(word[2:])
            args.setdefault(key, []).append(True)
        elif key is None:
            raise ValueError("has %r where an --option belongs" % word)
        else:
            values = args[key]
            if values[-1] is True:
                values[-1] = word
            else:
                raise ValueError("gives --%s two values" % key.replace("_", "-"))
    return check, {k: v[0] if len(v) == 1 else v for k, v in args.items()}


def _spec_problem(text):
    try:
        check, args = split_spec(text)
    except ValueError as exc:
        return "%r %s" % (text, exc), "write a check as NAME:option=value,flag, e.g. file:path=/etc/keepalived/down"
    if check not in CHECK_TYPES or check in COMBINED:
        near = nearest(check, [c for c in CHECK_TYPES if c not in COMBINED])
        return ("names %r, not a check that all/any can combine" % check,
                ("did you mean %s?" % near) if near else "use one of " + ", ".join(c for c in CHECK_TYPES if c not in COMBINED))
    problems = check_arg_problems(check, args)
    if problems:
        problem, fix, where = problems[0]
        return "%r: %s%s" % (text, where.lstrip(".") + " " if where else "", problem), fix
    return None


def check_arg_problems(check, args):
    """Every way ``args`` differs from what ``keepalived-check CHECK`` accepts: (problem, fix, where) tuples.

    ``where`` is the suffix of the variable path (``.url``), empty for the args as a whole.
    """
    spec = _check_options.CHECKS[check]
    options = {opt["name"]: opt for opt in spec["options"]}
    args = {} if args is None else args
    if not isinstance(args, dict):
        return [("is not a dict", "write args as option: value, e.g. {path: /etc/keepalived/down}", "")]
    problems = []
    given = {}
    for key, value in args.items():
        name = _option_name(key)
        if name not in options:
            near = nearest(name, options)
            takes = ", ".join(options) or "no arguments"
            problems.append(("has %r, an argument check %s does not take" % (str(key), check),
                             ("did you mean %s? (%s takes: %s)" % (near, check, takes)) if near
                             else "remove it (%s takes: %s)" % (check, takes), ""))
            continue
        if value is None or value is False:
            continue  # rendered as nothing, as if left out
        option = options[name]
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if len(values) != 1 and not option.get("repeatable"):
            problems.append(("is a list, but %s takes one value" % name, "give one value", "." + str(key)))
            continue
        if not values:
            continue
        given[name] = True
        for one in values:
            found = _value_problem(option, one)
            if found:
                problems.append(found + ("." + str(key),))
                break
    for option in spec["options"]:
        if option.get("required") and option["name"] not in given:
            problems.append(("lacks %s, which check %s requires" % (option["name"], check),
                             "add %s: ... (%s)" % (option["name"], option.get("help", "")), ""))
    for group in spec.get("one_of_required") or []:
        if not any(name in given for name in group):
            problems.append(("gives none of %s" % ", ".join(group),
                             "set at least one of %s for check %s" % (", ".join(group), check), ""))
    for group in spec.get("exclusive") or []:
        both = [name for name in group if name in given]
        if len(both) > 1:
            problems.append(("sets %s together" % " and ".join(both), "set only one of %s" % ", ".join(group), ""))
    for name, needed in sorted((spec.get("requires") or {}).items()):
        if name in given:
            for other in needed:
                if other not in given:
                    problems.append(("sets %s without %s" % (name, other), "add %s, which %s needs" % (other, name), ""))
    return problems
