# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An invariant over generated inventories: what the preflight accepts, keepalived and keepalived-check accept.

hypothesis generates whole inventories of 1 to 4 hosts (instances with members and priorities,
VRRP v2/v3, unicast or multicast, IPv4 and IPv6 VIPs, tracked checks of every type with
arguments drawn from the check program's option table, runner checks, remediation, notify
scripts; see invariant_support.py). For each one the role's own preflight expression and the
keepalived_model filter decide; an inventory with an argument made invalid on purpose must be
refused. For each accepted one:

- every host's tree is rendered by the role's own templates and expressions;
- every vrrp_script line, split as keepalived splits it, parses in keepalived-check's own command
  line (no exit 2) into exactly the arguments of the inventory, with a --timeout below
  keepalived's; every runner check loads through the runner's own config loader from the
  runner.json the healthcheck role renders, into the track file keepalived.conf watches;
- (containers) every tree passes the real `keepalived -t` of Debian 12, all of them in one lab
  container, and a real keepalived start confirms the word splitting used above.

The examples are derandomized: every run tests the same inventories. Bugs this found and that are
still open are in KNOWN: their cases are xfail(strict=True) below, and the property tolerates
exactly the failure lines they explain, so that any other failure fails. Bugs it found and that are
fixed are in FIXED: their minimal cases are refused by the preflight, or accepted and pass.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from invariant_support import (  # noqa: E402
    Inventory, Lab, Renderer, check_options, host_facts, inventories, keepalived_words, script_argv, script_lines,
)


@pytest.fixture(autouse=True)
def hermetic_generation(monkeypatch):
    """The same inventories in any pytest session: hypothesis also draws now and then from literals it finds in
    the project's modules already imported (its "local constants"), so a full session, which has imported more of
    them, would generate other inventories than this file alone. They are switched off here (hypothesis is pinned
    in .ci/requirements.txt; without this internal hook the test still runs, only less reproducibly)."""
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        monkeypatch.setattr(providers, "_get_local_constants", providers.Constants)
        providers.CONSTANTS_CACHE.cache.clear()


# FK_INVARIANT_EXAMPLES: fewer for a quick run while developing, more to search further.
EXAMPLES = int(os.environ.get("FK_INVARIANT_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def minimal(instance, scripts=(), hosts=("node1",)):
    """A small inventory: one instance (priorities 100, 90, ...) and its scripts on each host."""
    instance = dict({"name": "VI_1", "interface": "eth0", "virtual_router_id": 51,
                     "priorities": {host: 100 - 10 * index for index, host in enumerate(hosts)},
                     "virtual_ipaddresses": ["10.0.0.100/24"]}, **instance)
    hostvars = {}
    for host in hosts:
        hostvars[host] = {"keepalived_script_user": "keepalived_script",
                          "keepalived_check_command": "/usr/local/bin/keepalived-check",
                          "keepalived_check_state_dir": "/run/keepalived-check",
                          "keepalived_track_dir": "/run/keepalived-check/track",
                          "inventory_hostname": host, "inventory_hostname_short": host,
                          "keepalived_instances": [json.loads(json.dumps(instance))],
                          "keepalived_scripts": json.loads(json.dumps(list(scripts))),
                          "ansible_facts": host_facts(host, True)}
    return Inventory(hostvars)


@dataclass
class Bug:
    """A bug the invariant found that is still open: what explains its failures, and a minimal case."""

    id: str
    reason: str
    lines: str         # regular expression: the failure lines (problems, keepalived -t output) it explains
    inventory: object  # callable returning the minimal Inventory
    lab: bool = True   # the case needs keepalived -t


# Open bugs; the property tolerates exactly the failure lines they explain. Remove an entry once its
# case passes (its strict xfail then fails), and add the case to FIXED.
KNOWN: list = []


@dataclass
class Fixed:
    """A bug the invariant found and that is fixed: its minimal case, and how the preflight answers it now."""

    id: str
    refused: object    # words of the preflight's refusal, or None: accepted, and runs as written
    inventory: object  # callable returning the minimal Inventory


FIXED = [
    Fixed("fractional-script-interval", "(chk).interval is 0.5, but keepalived runs a vrrp_script every 1..4294",
          lambda: minimal({"track_scripts": ["chk"]}, [{"name": "chk", "check": "file", "interval": 0.5}])),
    Fixed("track-own-interface", "(VI_1).track_interfaces names eth0, the instance's own interface",
          lambda: minimal({"track_interfaces": ["eth0"]})),
    Fixed("nopreempt-with-preempt-delay", "(VI_1).preempt_delay is set together with nopreempt",
          lambda: minimal({"nopreempt": True, "preempt_delay": 10})),
    Fixed("ah-auth-on-master", "(VI_1).auth_type is AH on an instance with state MASTER",
          lambda: minimal({"auth_type": "AH", "auth_pass": "secret", "state": "MASTER"})),
    Fixed("ah-auth-auto-renders-backup", None, lambda: minimal({"auth_type": "AH", "auth_pass": "secret"})),
    Fixed("ipv6-is-vrrpv3", "(VI_1).auth_pass is set, but VRRPv3 has no authentication",
          lambda: minimal({"auth_pass": "secret", "virtual_ipaddresses": ["fd00:0:0:1::100/64"]})),
    Fixed("ipv6-vip-scope-label", "an IPv6 address takes no label",
          lambda: minimal({"virtual_ipaddresses": [{"address": "fd00:0:0:1::100/64", "label": "eth0:1"}]})),
    Fixed("dash-value", None,
          lambda: minimal({"track_scripts": ["chk"]},
                          [{"name": "chk", "check": "process", "args": {"cmdline": "--daemonize"}}])),
    Fixed("dash-value-in-the-runner", None,
          lambda: minimal({"track_scripts": ["chk"]},
                          [{"name": "chk", "check": "process", "runner": True, "args": {"cmdline": "-D"}}])),
    Fixed("remediate-window-over-a-day", "(chk).remediate.window is 604800, outside 0.001..86400",
          lambda: minimal({"track_scripts": ["chk"]},
                          [{"name": "chk", "check": "file", "timeout": 5,
                            "remediate": {"unit": "nginx.service", "window": 604800}}])),
]


def unexplained(text):
    """The lines of a failure text that no open bug explains."""
    return [line for line in text.splitlines()
            if line.strip() and not any(re.search(bug.lines, line) for bug in KNOWN)]


ROLE = Renderer()
# Accepted inventories' trees, from the in-process property, for the keepalived -t batch.
CORPUS: dict = {}


def _cli():
    from keepalived_check import cli

    return cli


def _parse(argv):
    """keepalived-check's own parse of a command line; a usage error (exit 2) as AssertionError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return _cli().parse_command_line(argv)
    except SystemExit as exc:
        said = err.getvalue().strip().splitlines()
        raise AssertionError("keepalived-check exits %s (%s) on %r" % (exc.code, said[-1] if said else "", argv)) from None


def _expected(option, value):
    kind = option.get("type", "str")
    if kind == "bool":
        return True
    convert = {"int": int, "float": float}.get(kind, str)
    if option.get("repeatable"):
        return [convert(str(one)) for one in (value if isinstance(value, list) else [value])]
    return convert(str(value))


def _same_args(opts, check, args, where):
    """The parsed options carry exactly the inventory's args."""
    options = {o["name"]: o for o in check_options.CHECKS[check]["options"]}
    assert opts.check_name == check, where
    for key, value in (args or {}).items():
        if value is None or value is False:
            continue
        got = getattr(opts, key.replace("-", "_"))
        want = _expected(options[key.replace("-", "_")], value)
        assert got == want, "%s: %s parsed as %r, the inventory gave %r" % (where, key, got, want)


def _script_problems(inventory, views, model, host, tree):
    """Every way one host's vrrp_script lines and runner checks differ from what the program takes."""
    problems = []
    plan = model["plans"][host]
    view = views[host]
    raw = {s["name"]: s for s in inventory.hostvars[host]["keepalived_scripts"]}
    lines = script_lines(tree["keepalived.conf"])
    if sorted(lines) != sorted(s["name"] for s in plan["scripts"]):
        problems.append("%s: keepalived.conf has scripts %s, the plan %s"
                        % (host, sorted(lines), sorted(s["name"] for s in plan["scripts"])))
    for script in plan["scripts"]:
        where = "%s: vrrp_script %s" % (host, script["name"])
        item = raw[script["name"]]
        try:
            argv = script_argv(lines[script["name"]])
            if "script" in item:
                assert argv == keepalived_words(item["script"]), "%s: runs %r" % (where, argv)
                continue
            assert argv[0] == view["check_command"], "%s: runs %r, not the check program" % (where, argv[0])
            opts = _parse(argv[1:])
            _same_args(opts, item["check"], item.get("args"), where)
            assert opts.timeout < float(script["timeout"]), (
                "%s: --timeout %s is not below keepalived's timeout %s" % (where, opts.timeout, script["timeout"]))
        except (AssertionError, ValueError, KeyError) as exc:
            problems.append("%s: %s" % (where, exc))
    if plan["runner_checks"]:
        problems += _runner_problems(inventory, view, plan, host, tree, raw)
    return problems


def _runner_problems(inventory, view, plan, host, tree, raw):
    from keepalived_check.core import UsageError
    from keepalived_check.runner import load_runner_config

    text = ROLE.healthcheck_file("runner.json.j2", **{"__healthcheck_track_dir": view["track_dir"],
                                                      "__healthcheck_runner_checks": plan["runner_checks"]})
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        handle.write(text)
        handle.flush()
        try:
            track_dir, loaded = load_runner_config(handle.name)
        except UsageError as exc:
            return ["%s: the runner refuses runner.json: %s" % (host, exc)]
    problems = []
    watched = set(re.findall(r"^\s*file (\S+)$", tree["keepalived.conf"], re.M))
    for check in loaded:
        where = "%s: runner check %s" % (host, check.name)
        try:
            _same_args(check.opts, raw[check.name]["check"], raw[check.name].get("args"), where)
            for field in ("interval", "timeout", "fall", "rise", "confirm_interval"):
                wanted = raw[check.name].get(field)
                assert wanted is None or getattr(check, field) == wanted, "%s: %s is %r, the inventory says %r" % (
                    where, field, getattr(check, field), wanted)
            assert check.path in watched, "%s: writes %s, keepalived watches %s" % (where, check.path, sorted(watched))
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


def check_inventory(inventory):
    """(accepted, problems, {host: tree}) of one inventory, everything but keepalived -t."""
    views, model, trees = ROLE.render(inventory)
    errors = model["errors"]
    if inventory.invalid:
        # Every host has the scripts: each must be refused, with a message naming the script.
        missed = ["%s: %s" % bad for bad in inventory.invalid if not any(bad[0] in error for error in errors)]
        if missed:
            return False, ["the preflight did not refuse %s (its errors: %s)" % (miss, errors or "none")
                           for miss in missed], {}
        return False, [], {}
    if errors:
        return False, [], {}
    problems = []
    for host in sorted(trees):
        problems += _script_problems(inventory, views, model, host, trees[host])
    return True, problems, trees


def _show(inventory):
    """An inventory without the facts every host has, for a failure message."""
    common = ("ansible_facts", "inventory_hostname", "inventory_hostname_short")
    hosts = {host: {k: v for k, v in hv.items() if k not in common} for host, hv in inventory.hostvars.items()}
    return json.dumps(hosts, indent=1, sort_keys=True)


@SETTINGS
@given(inventory=inventories())
def test_accepted_inventories_parse_in_the_check_program(inventory):
    accepted, problems, trees = check_inventory(inventory)
    new = [p for p in problems if unexplained(p)]
    assert not new, "\n".join(new) + "\ninventory:\n" + _show(inventory)
    if accepted:
        CORPUS[len(CORPUS)] = (inventory, trees)


def _corpus():
    """The accepted inventories and trees: the in-process property's, or generated here when it did not run."""
    if not CORPUS:
        @SETTINGS
        @given(inventory=inventories())
        def collect(inventory):
            accepted, _problems, trees = check_inventory(inventory)
            if accepted:
                CORPUS[len(CORPUS)] = (inventory, trees)

        collect()
    return dict(CORPUS)


# What the accepted inventories must have among them, so that the property means something: a
# pattern in a rendered tree, by feature.
FEATURES = {
    "VRRPv3": r"^    version 3$", "unicast": r"^    unicast_peer \{", "multicast": None,
    "IPv6 VIP": r"^        [0-9a-f:]+:[0-9a-f:]*(/\d+)?( |$)", "auth": r"^    include \S+\.auth$",
    "runner check": r"^vrrp_track_file ", "remediate unit": r"--remediate-unit ", "remediate command": r"--remediate-command ",
    "nopreempt": r"^    nopreempt$", "preempt_delay": r"^    preempt_delay ",
    "down_timer_adverts": r"^    down_timer_adverts \d+$", "notify": r"^    notify(_\w+)? ",
    "track_interface": r"^    track_interface \{", "script user": r"^    user ", "init_fail": r"^    init_fail$",
    "VIP label": r" label \S+$", "raw script": r'^    script "/(bin|usr/bin)/',
    "excluded address": r"^    virtual_ipaddress_excluded \{", "virtual route": r"^    virtual_routes \{",
    "virtual rule": r"^    virtual_rules \{", "VMAC": r"^    use_vmac", "unicast_ttl": r"^    unicast_ttl ",
    "accept": r"^    (no_)?accept$", "dont_track_primary": r"^    dont_track_primary$",
    "notify lower priority": r"^    notify_master_rx_lower_pri ", "smtp_alert": r"^    smtp_alert$",
    "e-mail alerts": r"^    notification_email \{", "global option": r"^    (vrrp_g|max_auto|vrrp_no_swap)",
    "extra config": r"^(garp_group|static_ipaddress|virtual_server) ", "daemon options": r'^DAEMON_ARGS="--',
    "sync group": r"^vrrp_sync_group ", "sync group check": r"^vrrp_sync_group \S+ \{\n    group \{\n(        \S+\n)+    \}\n\n    track_script \{",
    "operator track file": r"^    file /tmp/fk-track-", "track process": r"^vrrp_track_process ",
    "instance track_process": r"^    track_process \{", "LVS": r"^    lvs_sched ", "LVS group": r"^virtual_server_group ",
    "LVS check": r"^        (HTTP_GET|SSL_GET|MISC_CHECK|DNS_CHECK|TCP_CHECK) \{",
}


def test_the_accepted_inventories_cover_every_feature_and_check():
    if EXAMPLES < 300:
        pytest.skip("FK_INVARIANT_EXAMPLES=%d: fewer inventories than the 300 this is measured on" % EXAMPLES)
    corpus = _corpus()
    seen = set()
    for inventory, trees in corpus.values():
        if len(inventory.hostvars) > 1:
            seen.add("several hosts")
        for host, tree in trees.items():
            text = "\n".join(tree.values())
            seen.update(name for name, pattern in FEATURES.items() if pattern and re.search(pattern, text, re.M))
            if any(rel.endswith(".conf") and rel != "keepalived.conf" and "unicast_peer" not in body
                   for rel, body in tree.items()):
                seen.add("multicast")
            tracked = {name for body in tree.values() for name in re.findall(r"^vrrp_(?:script|track_file) (\S+)", body, re.M)}
            seen.update("check " + s["check"] for s in inventory.hostvars[host]["keepalived_scripts"]
                        if s["name"] in tracked and s.get("check"))
    print("invariant corpus: %d accepted inventories" % len(corpus))
    wanted = set(FEATURES) | {"several hosts"} | {"check " + name for name in check_options.CHECKS}
    assert not wanted - seen, "no accepted inventory has %s (of %d)" % (sorted(wanted - seen), len(corpus))


@pytest.fixture(scope="module")
def lab():
    why = Lab.unavailable()
    if why:
        pytest.skip(why)
    lab = Lab("fk-invariant-%d" % os.getpid())
    lab.start()
    try:
        lab.prepare(ROLE)
        yield lab
    finally:
        lab.stop()


def _signature(output):
    """A failure's keepalived messages without line numbers, names and numbers, to group failures."""
    lines = [re.sub(r"^\(.*?Line \d+\)\s*", "", line) for line in output.splitlines()]
    return "\n".join(sorted({re.sub(r"\d+(\.\d+)?", "N", line) for line in lines if line.strip()}))


@pytest.mark.containers
def test_rendered_trees_pass_keepalived_config_test(lab):
    corpus = _corpus()
    trees = {"%04d-%s" % (index, host): tree for index, (_inv, by_host) in corpus.items()
             for host, tree in by_host.items()}
    assert len(corpus) >= EXAMPLES // 3, "too few accepted inventories: %d of %d" % (len(corpus), EXAMPLES)
    failures = lab.validate(trees)
    groups = {}
    for case, (rc, output) in sorted(failures.items()):
        rest = unexplained(output) or ([] if output.strip() else ["(no output)"])
        if not rest:
            continue
        index = int(case.split("-", 1)[0])
        inventory = corpus[index][0]
        size = len(_show(inventory))
        group = groups.setdefault(_signature("\n".join(rest)), [])
        group.append((size, case, rc, output, inventory))
    report = []
    for signature, cases in groups.items():
        size, case, rc, output, inventory = min(cases, key=lambda c: c[0])
        tree = corpus[int(case.split("-", 1)[0])][1][case.split("-", 1)[1]]
        report.append("%d trees fail like %s (keepalived -t exit %d):\n%s\n--- its tree:\n%s\n--- its inventory:\n%s"
                      % (len(cases), case, rc, output,
                         "\n".join("## %s\n%s" % (rel, text) for rel, text in sorted(tree.items())),
                         _show(inventory)))
    assert not report, "\n\n".join(report)


@pytest.mark.containers
def test_keepalived_splits_script_lines_as_the_test_does(lab):
    """The emulated splitting above is keepalived's: a real keepalived's dump of every distinct line."""
    lines = sorted({line for _inv, by_host in _corpus().values() for tree in by_host.values()
                    for line in script_lines(tree["keepalived.conf"]).values()})
    assert lines, "no vrrp_script line was rendered"
    real, output = lab.keepalived_argv(lines)
    assert set(real) == set(lines), "keepalived dumped %d of %d scripts:\n%s" % (len(real), len(lines), output[-4000:])
    # keepalived runs a command by its real path (/bin/true is /usr/bin/true on a merged /usr).
    wrong = ["%s\n  keepalived: %r\n  test:       %r" % (line, real[line], script_argv(line)) for line in lines
             if real[line][1:] != script_argv(line)[1:]
             or os.path.basename(real[line][0]) != os.path.basename(script_argv(line)[0])]
    assert not wrong, "\n".join(wrong)


# Check user names at the edges of the preflight's rule, and outside it.
SCRIPT_USER_NAMES = ("a", "_", "kc-", "a-b_c", "k" * 31, "k" * 32, "Kc", "1kc", "k.c")


@pytest.mark.containers
def test_systemd_sysusers_creates_every_check_user_the_preflight_accepts(lab):
    """The healthcheck role's sysusers.d entry, rendered for each name the preflight accepts, is one the host's
    systemd-sysusers takes: a name it refused would converge green and leave the checks without their user."""
    accepted = []
    for name in SCRIPT_USER_NAMES:
        inventory = minimal({})
        for host in inventory.hostvars.values():
            host["keepalived_script_user"] = name
        _views, model, _trees = ROLE.render(inventory)
        if not model["errors"]:
            accepted.append(name)
        else:
            assert "keepalived_script_user" in "\n".join(model["errors"]), model["errors"]
    assert "k" * 31 in accepted, accepted
    refused = []
    for name in accepted:
        entry = ROLE.healthcheck_file("sysusers.conf.j2", __healthcheck_user=name)
        proc = lab.sh("f=$(mktemp) && cat > $f && systemd-sysusers --dry-run $f; rc=$?; rm -f $f; exit $rc",
                      stdin=entry.encode(), check=False)
        if proc.returncode != 0:
            refused.append("%r (exit %d): %s" % (name, proc.returncode, proc.stderr.decode(errors="replace").strip()))
    assert not refused, "systemd-sysusers refuses check users the preflight accepts:\n" + "\n".join(refused)
    # And for real, once: the user it creates is a system user that cannot log in.
    entry = ROLE.healthcheck_file("sysusers.conf.j2", __healthcheck_user="k" * 31)
    lab.sh("f=$(mktemp) && cat > $f && systemd-sysusers $f; rc=$?; rm -f $f; exit $rc", stdin=entry.encode())
    fields = lab.sh("getent passwd %s" % ("k" * 31)).stdout.decode().strip().split(":")
    assert fields[5:] == ["/nonexistent", "/usr/sbin/nologin"] and int(fields[2]) < 1000, fields


def _bug_param(bug):
    marks = [pytest.mark.xfail(reason=bug.reason, raises=AssertionError, strict=True)]
    return pytest.param(bug, marks=marks + ([pytest.mark.containers] if bug.lab else []), id=bug.id)


@pytest.mark.parametrize("bug", [_bug_param(bug) for bug in KNOWN])
def test_known_bug(bug, request):
    """The minimal case of an open bug: the invariant fails on it, and only by that bug."""
    inventory = bug.inventory()
    accepted, problems, trees = check_inventory(inventory)
    texts = list(problems)
    if accepted and bug.lab:
        lab = request.getfixturevalue("lab")
        texts += ["%s: keepalived -t exit %d: %s" % (case, rc, out)
                  for case, (rc, out) in lab.validate({"bug-" + host: tree for host, tree in trees.items()}).items()]
    others = [line for text in texts for line in text.splitlines()
              if line.strip() and not re.search(bug.lines, line)]
    if others:
        raise RuntimeError("the case of %s fails otherwise too:\n%s" % (bug.id, "\n".join(others)))
    assert not texts, "\n".join(texts)


@pytest.mark.parametrize("case", FIXED, ids=[case.id for case in FIXED])
def test_fixed_bug(case):
    """The minimal case of a fixed bug: refused with the words that name it, or accepted and run as written."""
    inventory = case.inventory()
    errors = ROLE.render(inventory)[1]["errors"]
    if case.refused:
        assert any(case.refused in error for error in errors), "not refused with %r: %s" % (case.refused, errors)
    else:
        accepted, problems, _trees = check_inventory(inventory)
        assert accepted and not problems, errors + problems


@pytest.mark.containers
def test_fixed_bugs_accepted_cases_pass_keepalived_config_test(lab):
    trees = {"fixed-%s-%s" % (case.id, host): tree for case in FIXED if not case.refused
             for host, tree in check_inventory(case.inventory())[2].items()}
    assert trees
    failures = lab.validate(trees)
    assert not failures, failures
