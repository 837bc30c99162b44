# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The option tables: the generated controller copy is current, and the real parser does what they say.

Every case below is made from the tables themselves, so a new option is tested without a new line
here: a valid value (each bound, each choice) is accepted and parsed as declared, a wrong type, an
out-of-range value, a value outside the choices or of the wrong format is refused with exit 2, and
so are an unknown or abbreviated option, a missing required one and a broken rule.
"""

from __future__ import annotations

import ast
import contextlib
import io
import shlex
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hc_support import REPO, program_module

cli = program_module("cli")
checks = program_module("checks")
GENERATED = REPO / "plugins" / "module_utils" / "_check_options.py"

# A valid and an invalid value for each format.
FORMAT_SAMPLES = {
    "path": ("/etc/keepalived/x", "etc/keepalived/x"),
    "http_url": ("http://127.0.0.1:8080/health?x=1", "ftp://127.0.0.1/"),
    "unit": ("haproxy.service", "bad unit"),
    "restart_unit": ("haproxy.service", "-.mount"),
    "command": ("/usr/sbin/service haproxy restart", "'unbalanced"),
    "check_spec": ("file:path=/etc/keepalived/down", "nosuch --x 1"),
}
EXTRA_VALID = {"unit": "-.mount", "http_url": "https://[::1]/", "check_spec": "tcp --host ::1 --port 80"}


def tables():
    """(check or None for the global options, table) for every table."""
    yield None, {"options": cli.GLOBAL_OPTIONS, **cli.GLOBAL_RULES}
    for name in checks.MODULES:
        yield name, checks.declaration(name)


def sample(option):
    """A valid value of an option, as command-line text."""
    if option.get("choices"):
        return str(option["choices"][-1])
    kind = option.get("type", "str")
    if kind in ("int", "float"):
        return str(option["max"] if option.get("max") is not None else option.get("min", 0) + 1)
    return FORMAT_SAMPLES[option["format"]][0] if option.get("format") else "value-1"


def given_options(table, options=(), values=None):
    """[(name, text)] giving every required option, the first of each one_of_required group, options
    and what each of them requires; text is None for a flag. values: texts instead of samples."""
    values = values or {}
    wanted = [o["name"] for o in table["options"] if o.get("required")]
    wanted += [group[0] for group in table.get("one_of_required", []) if not set(group) & set(options)]
    for name in options:
        wanted += [name] + table.get("requires", {}).get(name, [])
    return [(o["name"], None if o.get("type") == "bool" else values.get(o["name"], sample(o)))
            for o in table["options"] if o["name"] in wanted]


def words(pairs):
    """--option value, or --option=value where the value looks like an option."""
    out = []
    for name, text in pairs:
        if text is None:
            out.append(cli.flag(name))
        elif text.startswith("-"):
            out.append(f"{cli.flag(name)}={text}")
        else:
            out += [cli.flag(name), text]
    return out


def command_line(check, pairs, after=()):
    """argv for check, or for the global options (check None) in front of a file check."""
    if check is None:
        timeout = [] if any(name == "timeout" for name, _text in pairs) else [("timeout", "10")]
        return words(timeout + list(pairs)) + list(after) + ["file"]
    return [check] + words(pairs) + list(after)


def compact(check, pairs):
    """The NAME:option=value,flag form, or None where a value cannot be written in it."""
    if any(text is not None and ("," in text or " " in text) for _name, text in pairs):
        return None
    return check + ":" + ",".join(name if text is None else f"{name}={text}" for name, text in pairs)


def parsed(option, text):
    if text is None:
        return True
    kind = option.get("type", "str")
    value = int(text) if kind == "int" else float(text) if kind == "float" else text
    return [value] if option.get("repeatable") else value


def valid_cases():
    for check, table in tables():
        for option in table["options"]:
            texts = {sample(option)}
            if option.get("type") in ("int", "float"):
                texts |= {str(option[key]) for key in ("min", "max") if option.get(key) is not None}
            texts |= {str(choice) for choice in option.get("choices") or []}
            if option.get("format") in EXTRA_VALID:
                texts.add(EXTRA_VALID[option["format"]])
            if option.get("type") == "bool":
                texts = {None}
            for text in sorted(texts, key=str):
                pairs = given_options(table, [option["name"]], {option["name"]: text})
                yield pytest.param(check, option, text, pairs, id=f"{check or 'global'}-{option['name']}-{text}")


def invalid_values(option):
    kind = option.get("type", "str")
    if kind in ("int", "float"):
        yield "abc"
        yield "nan" if kind == "float" else "1.5"
        if option.get("min") is not None:
            yield str(option["min"] - 1)
        if option.get("max") is not None:
            yield str(option["max"] + 1)
    if option.get("choices"):
        yield "NOT-A-CHOICE"
    if option.get("format"):
        yield FORMAT_SAMPLES[option["format"]][1]


def without(pairs, names):
    return [(name, text) for name, text in pairs if name not in names]


def invalid_cases():
    """(check, argv, the option the error must name)."""
    for check, table in tables():
        names = [o["name"] for o in table["options"]]
        where = check or "global"
        unknown = ["--no-such-option"] + ([] if check is None else ["x"])  # a global's value would read as the check
        yield pytest.param(check, command_line(check, given_options(table), unknown), "--no-such-option",
                           id=f"{where}-unknown-option")
        for option in table["options"]:
            flag = cli.flag(option["name"])
            for text in invalid_values(option):
                argv = command_line(check, given_options(table, [option["name"]], {option["name"]: text}))
                yield pytest.param(check, argv, flag, id=f"{where}-{option['name']}-{text}")
            shorter = flag[:-1]
            if not any(cli.flag(other) == shorter for other in names):
                argv = command_line(check, given_options(table, [option["name"]]))
                argv = [shorter + arg[len(flag):] if arg.split("=")[0] == flag else arg for arg in argv]
                yield pytest.param(check, argv, shorter, id=f"{where}-{option['name']}-abbreviated")
            if option.get("required"):
                argv = command_line(check, without(given_options(table), [option["name"]]))
                yield pytest.param(check, argv, flag, id=f"{where}-{option['name']}-missing")
        for group in table.get("one_of_required", []):
            argv = command_line(check, without(given_options(table), group))
            yield pytest.param(check, argv, cli.flag(group[0]), id=f"{where}-none-of-{'-'.join(group)}")
        for name, needed in table.get("requires", {}).items():
            argv = command_line(check, without(given_options(table, [name]), needed))
            yield pytest.param(check, argv, cli.flag(name), id=f"{where}-{name}-without-{'-'.join(needed)}")
        for group in table.get("exclusive", []):
            argv = command_line(check, given_options(table, group))
            yield pytest.param(check, argv, cli.flag(group[-1]), id=f"{where}-both-{'-'.join(group)}")


def test_generated_controller_copy_is_current():
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "check_options.py"), "--check"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_controller_copy_is_plain_data():
    # ansible-test sanity imports it on every target Python: literals only, nothing imported.
    tree = ast.parse(GENERATED.read_text())
    names = {}
    for node in tree.body[1:]:
        if isinstance(node, ast.ImportFrom):
            assert node.module == "__future__", ast.dump(node)
            continue
        assert isinstance(node, ast.Assign), ast.dump(node)
        names[node.targets[0].id] = ast.literal_eval(node.value)
    assert sorted(names) == ["CHECKS", "FORMATS", "GLOBAL_OPTIONS", "GLOBAL_RULES", "RUNNER_FIELDS"]
    assert list(names["CHECKS"]) == list(checks.MODULES)
    assert sorted(names["FORMATS"]) == sorted(cli.FORMATS)
    for option in names["GLOBAL_OPTIONS"] + [o for check in names["CHECKS"].values() for o in check["options"]]:
        assert option["option"] == cli.flag(option["name"])
        assert option["format"] in (None, *names["FORMATS"])


@pytest.mark.parametrize("check, option, text, pairs", valid_cases())
def test_valid_value_is_accepted(check, option, text, pairs):
    opts = cli.parse_command_line(command_line(check, pairs))
    assert getattr(opts, option["name"]) == parsed(option, text)


@pytest.mark.parametrize("check, option, text, pairs",
                         [case for case in valid_cases() if case.values[0] not in (None, *checks.COMBINING)])
def test_valid_value_is_accepted_inside_all_and_any(check, option, text, pairs):
    """Both forms of a sub-check: "NAME --option value" and NAME:option=value,flag."""
    specs = [shlex.join(command_line(check, pairs))] + [spec for spec in [compact(check, pairs)] if spec]
    for combining in checks.COMBINING:
        opts = cli.parse_command_line([combining] + [word for spec in specs for word in ("--check", spec)])
        assert len(opts.sub_checks) == len(specs)
        for sub in opts.sub_checks:
            assert sub.check_name == check
            assert getattr(sub, option["name"]) == parsed(option, text)


@pytest.mark.parametrize("check, argv, flag", invalid_cases())
def test_refused_with_exit_2(check, argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_command_line(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: " in err and flag in err, err


@pytest.mark.parametrize("check, argv, flag",
                         [case for case in invalid_cases() if case.values[0] not in (None, *checks.COMBINING)])
def test_refused_inside_all(check, argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_command_line(["all", "--check", shlex.join(argv)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: " in err and flag in err, err


@pytest.mark.parametrize("check", list(checks.MODULES))
def test_defaults_are_the_declared_ones(check):
    table = checks.declaration(check)
    pairs = given_options(table)
    opts = cli.parse_command_line(command_line(check, pairs))
    for option in table["options"]:
        if option["name"] not in dict(pairs):
            expected = False if option.get("type") == "bool" else option.get("default")
            if option.get("repeatable"):
                expected = expected or []
            assert getattr(opts, option["name"]) == expected, option["name"]


def test_global_defaults_are_the_declared_ones():
    opts = cli.parse_command_line(["file"])
    for option in cli.GLOBAL_OPTIONS:
        expected = False if option.get("type") == "bool" else option.get("default")
        assert getattr(opts, option["name"]) == expected, option["name"]


# --- the quick parse (no argparse) and argparse read every command line alike -------------------------

argparser = program_module("argparser")


def option_words(draw, options):
    """Words for a random choice of OPTIONS with mostly valid texts and, now and then, an invalid one, a value
    that starts with "-", an option given twice or an unknown word."""
    chosen = draw(st.lists(st.sampled_from(options), max_size=len(options), unique_by=lambda o: o["name"])) \
        if options else []
    if chosen and draw(st.integers(min_value=0, max_value=4)) == 0:
        chosen.append(draw(st.sampled_from(chosen)))
    out = []
    for option in chosen:
        if option.get("type") == "bool":
            out.append(cli.flag(option["name"]))
            continue
        texts = [sample(option)] + [str(option[key]) for key in ("min", "max") if option.get(key) is not None]
        texts += [str(choice) for choice in option.get("choices") or []]
        if option.get("type") in ("int", "float"):
            low, high = option.get("min", -5), option.get("max", 10 ** 6)
            number = (st.integers(min_value=int(low), max_value=int(high)) if option["type"] == "int"
                      else st.floats(min_value=low, max_value=high, allow_nan=False))
            texts.append(str(draw(number)))
        if option.get("format") in EXTRA_VALID:
            texts.append(EXTRA_VALID[option["format"]])
        if draw(st.integers(min_value=0, max_value=7)) == 0:
            texts = list(invalid_values(option)) + ["-1", "--x"]
        out += [cli.flag(option["name"]), draw(st.sampled_from(texts))]
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        out.insert(draw(st.integers(min_value=0, max_value=len(out))), draw(st.sampled_from(["--help", "x", "--"])))
    return out


@st.composite
def command_lines(draw):
    check = draw(st.sampled_from([name for name in checks.MODULES if name not in checks.COMBINING]))
    globals_ = option_words(draw, cli.GLOBAL_OPTIONS)
    return globals_ + [check] + option_words(draw, checks.declaration(check)["options"])


def argparse_reading(argv):
    """argparse's namespace of ARGV as a dict, or "usage error"."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return vars(argparser.build_parser(only=argparser.requested_check(argv)).parse_args(argv))
    except SystemExit:
        return "usage error"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
def test_quick_parse_reads_a_command_line_as_argparse_does(argv):
    quick = cli.quick_parse(argv)
    if quick is not None:
        assert vars(quick) == argparse_reading(argv), argv


def plain(case):
    """A valid case whose values are all plain words (none starts with "-", which argparse reads apart)."""
    return not any(text and text.startswith("-") for _name, text in case.values[3])


@pytest.mark.parametrize("check, option, text, pairs", [case for case in valid_cases() if plain(case)])
def test_quick_parse_takes_every_plain_valid_command_line(check, option, text, pairs):
    """A command line of plain "--option value" words never needs argparse (keepalived forks it every run)."""
    argv = command_line(check, pairs)
    quick = cli.quick_parse(argv)
    assert quick is not None, argv
    assert vars(quick) == argparse_reading(argv)
    assert getattr(cli.parse_command_line(argv), option["name"]) == parsed(option, text)


def test_a_plain_check_run_does_not_import_argparse(tmp_path):
    """The quick path of a forked check: no argparse, re, math or types (each costs start-up time), as the
    launcher starts it (-I -S)."""
    lib, argv = str(REPO / "roles/healthcheck/files"), ["file", "--path", str(tmp_path / "down")]
    code = ("import sys; sys.path.insert(0, %r); from keepalived_check.cli import main; rc = main(%r); "
            "print(rc, *(name in sys.modules for name in ('argparse', 're', 'math', 'types')))" % (lib, argv))
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False", "False", "False", "False"], out


@pytest.mark.parametrize("number, expected", [
    (0, True), (-3, True), (0.01, True), (1e308, True), (-1e308, True), (2 ** 80, True),
    (float("inf"), False), (float("-inf"), False), (float("nan"), False),
])
def test_finite_is_math_isfinite_without_math(number, expected):
    import math

    assert cli.finite(number) is expected is math.isfinite(number)
