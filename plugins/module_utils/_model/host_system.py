# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role sets on a host outside keepalived.conf: the package, kernel settings, the daemon's command line, metrics.

keepalived_package_state (never latest: upgrades roll with playbooks/upgrade.yml),
keepalived_nonlocal_bind and keepalived_tcp_retries2 (sysctls, opt-in),
keepalived_daemon_options (the arguments keepalived starts with), keepalived_metrics_*
(the Prometheus textfile writer, opt-in) and keepalived_lock_* (one run at a time on a
host): their rules and the values the plan carries.
"""

from __future__ import annotations

import re

from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    boolean, err, is_int, nearest, number,
)

# Variable -> the kernel settings it sets; each is per network namespace.
NONLOCAL_BIND = ("net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind")
TCP_RETRIES2 = "net.ipv4.tcp_retries2"
# Fewer than 3 retransmissions gives up a connection after well under a second of loss; 15 is the kernel's default.
TCP_RETRIES2_RANGE = (3, 15)
# The run lease (keepalived_lock): seconds to wait for another run, and how long a lease lasts
# (at least a minute: a shorter one would expire under the run that holds it).
LOCK_WAIT_RANGE = (0, 86400)
LOCK_TTL_RANGE = (60, 7 * 86400)

# keepalived's command-line options (keepalived --help of 2.2.7, Debian 12, and 2.3.3, Debian 13), long form:
# None for a flag, else the pattern its value must match, with an example.
WORD = r"[A-Za-z0-9_.:@/+-]{1,128}"
DAEMON_OPTIONS = {
    "--vrrp": None,
    "--no_bfd": None,
    "--all": None,
    "--log-console": None,
    "--log-detail": None,
    # 2.2.7 rejects the local0..7/user/daemon names its --help lists: numbers only.
    "--log-facility": (r"[0-7]", "--log-facility=3"),
    "--no-syslog": None,
    # keepalived accepts a bad mask silently (and keeps its own): the preflight does not.
    "--umask": (r"0?[0-7]{3}", "--umask=022"),
    "--release-vips": None,
    "--dont-release-ipvs": None,
    "--dont-respawn": None,
    "--dump-conf": None,
    "--address-monitoring": None,
    "--snmp": None,
    "--snmp-agent-socket": (WORD, "--snmp-agent-socket=/var/agentx/master"),
    "--core-dump": None,
    "--core-dump-pattern": (WORD, "--core-dump-pattern=core"),
    "--all-config": None,
    "--config-id": (r"[A-Za-z0-9_.-]{1,64}", "--config-id=lb1"),
}
# Options the role or the unit sets, or that would break what the role promises: why, and what to do.
ROLE_DAEMON_OPTIONS = {
    "--use-file": "the role writes the configuration at keepalived_config_dir",
    "--dont-fork": "the systemd unit starts keepalived with it already",
    "--pid": "systemd and the role's modules find keepalived by its default pid files",
    "--vrrp_pid": "systemd and the role's modules find keepalived by its default pid files",
    "--checkers_pid": "systemd and the role's modules find keepalived by its default pid files",
    "--bfd_pid": "systemd and the role's modules find keepalived by its default pid files",
    "--check": "it runs the health checkers only, without VRRP: no VIP would ever be held",
    "--namespace": "the VIPs, checks and modules of this collection work in the host's network namespace",
    "--dont-release-vrrp": "a stopped keepalived would keep its VIPs beside the node that takes them over",
    "--config-test": "the role runs it itself before any configuration goes live",
    "--genhash": "it is a separate tool mode, not a daemon option",
    "--signum": "it prints a number and exits",
    "--version": "it prints the version and exits",
    "--help": "it prints the help and exits",
    # keepalived 2.3 only: Debian 12's 2.2.7 refuses them and would not start.
    "--log-file": "keepalived 2.2 (Debian 12) does not know it and would not start; log through the journal",
    "--flush-log-file": "keepalived 2.2 (Debian 12) does not know it and would not start",
    "--ignore-sigint": "keepalived 2.2 (Debian 12) does not know it and would not start; it is for debugging",
}
OPTION_RE = re.compile(r"^(--[a-z_-]+)(?:=(.*))?$")


def daemon_option_problem(text):
    """(problem, fix) when ``text`` is not one daemon option keepalived accepts and the role allows, else None."""
    if not isinstance(text, str):
        return "is %r, not a string" % (text,), "write each option as a string, e.g. --log-detail"
    match = OPTION_RE.match(text)
    if not match:
        return ("is %r, not one long option" % text,
                "write the long form, one option per item, a value after '=' (e.g. --log-detail, --log-facility=3)")
    name, value = match.group(1), match.group(2)
    if name in ROLE_DAEMON_OPTIONS:
        return "is %s, which the role does not allow: %s" % (name, ROLE_DAEMON_OPTIONS[name]), "leave it out"
    if name not in DAEMON_OPTIONS:
        near = nearest(name, DAEMON_OPTIONS)
        return ("is %s, which keepalived does not know%s" % (name, " (did you mean %s?)" % near if near else ""),
                "use an option of keepalived(8): %s" % ", ".join(sorted(DAEMON_OPTIONS)))
    rule = DAEMON_OPTIONS[name]
    if rule is None:
        if value is not None:
            return "gives %s a value, but it takes none" % name, "write %s alone" % name
        return None
    pattern, example = rule
    if value is None or not re.fullmatch(pattern, value):
        return ("gives %s the value %r, which keepalived would refuse or ignore" % (name, value),
                "write e.g. %s" % example)
    return None


# The file the writer replaces in keepalived_metrics_dir; node-exporter's textfile collector reads *.prom.
METRICS_FILE = "keepalived.prom"
# keepalived-check metrics takes an interval in this range (its own --interval rule).
METRICS_INTERVAL = (0.5, 3600)
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def validate_metrics(errors, host, view):
    """The rules of keepalived_metrics_*: checked whether or not the writer is on, so a typo waits for nobody.

    A view without them (a model built outside the role) has the writer off.
    """
    if not any(key.startswith("metrics_") for key in view):
        return
    enabled = view.get("metrics_enabled")
    if boolean(enabled) is None:
        err(errors, host, "keepalived_metrics_enabled", "is %r, not true or false" % (enabled,),
            "set true to write keepalived's state for node-exporter's textfile collector, or false")
    directory = view.get("metrics_dir")
    if not isinstance(directory, str) or not directory.startswith("/") or any(c in directory for c in " \t\n\"'\\%"):
        err(errors, host, "keepalived_metrics_dir", "is %r, not an absolute path without spaces, quotes or %%" % (directory,),
            "give the directory node-exporter's --collector.textfile.directory reads, e.g. /var/lib/prometheus/node-exporter")
    interval = view.get("metrics_interval")
    low, high = METRICS_INTERVAL
    if number(interval) is None or not low <= number(interval) <= high:
        err(errors, host, "keepalived_metrics_interval", "is %r, outside %g..%g seconds" % (interval, low, high),
            "use e.g. 5 (a scrape every 15 s then sees a state at most 5 s old)")
    package = view.get("metrics_exporter_package")
    if package not in (None, "") and (not isinstance(package, str) or not PACKAGE_RE.match(package)):
        err(errors, host, "keepalived_metrics_exporter_package", "is %r, not a package name" % (package,),
            "give the node-exporter package to install (prometheus-node-exporter on Debian), or '' to run your own")


def metrics(view):
    """What the healthcheck role installs for the metrics; when not ``enabled`` it removes what it wrote."""
    directory = view.get("metrics_dir")
    return {"enabled": bool(boolean(view.get("metrics_enabled"))),
            "output": directory.rstrip("/") + "/" + METRICS_FILE if directory else None,
            "interval": number(view.get("metrics_interval")) or 5.0,
            "exporter_package": view.get("metrics_exporter_package") or None}


def validate_lock(errors, host, view):
    """keepalived_lock_wait and keepalived_lock_ttl: numbers of seconds in their ranges (the role gives both)."""
    if "lock_wait" in view:
        wait, (low, high) = number(view["lock_wait"]), LOCK_WAIT_RANGE
        if wait is None or not low <= wait <= high:
            err(errors, host, "keepalived_lock_wait", "is %r, not a number of seconds in %d..%d"
                % (view["lock_wait"], low, high),
                "use 0 (fail at once while another run changes this host) or the seconds to wait for it, e.g. 300")
    if "lock_ttl" in view:
        ttl, (low, high) = number(view["lock_ttl"]), LOCK_TTL_RANGE
        if ttl is None or ttl != int(ttl) or not low <= ttl <= high:
            err(errors, host, "keepalived_lock_ttl", "is %r, not a whole number of seconds in %d..%d"
                % (view["lock_ttl"], low, high),
                "use more seconds than the longest run takes, e.g. 3600")


def lock(view):
    """The run lease's wait and lifetime in seconds (a host the preflight accepted; None where not given)."""
    wait, ttl = number(view.get("lock_wait")), number(view.get("lock_ttl"))
    return {"wait": wait, "ttl": None if ttl is None else int(ttl)}


def validate(errors, host, view):
    """The rules of the package, sysctl, daemon-option and metrics variables."""
    if view.get("package_state") == "latest":
        err(errors, host, "keepalived_package_state", "is latest, which upgrades keepalived on every host in the same "
            "task, and Debian's package restarts it as it upgrades, VIP holders included",
            "keep present, and upgrade with playbooks/upgrade.yml (failover.keepalived.upgrade): one host at a time, "
            "VIP holders drained first")
    validate_metrics(errors, host, view)
    validate_lock(errors, host, view)
    nonlocal_bind = view.get("nonlocal_bind")
    if nonlocal_bind is not None and not isinstance(nonlocal_bind, bool):
        err(errors, host, "keepalived_nonlocal_bind", "is %r, not true, false or null" % (nonlocal_bind,),
            "set true (services may bind the VIP on every node), false (they may not) or leave it null (unmanaged)")
    retries = view.get("tcp_retries2")
    low, high = TCP_RETRIES2_RANGE
    if retries is not None and (not is_int(retries) or not low <= retries <= high):
        err(errors, host, "keepalived_tcp_retries2", "is %r, outside %d..%d" % (retries, low, high),
            "use e.g. 8 (a dead peer's connections fail after about 100 s instead of 15 minutes), or null")
    options = view.get("daemon_options")
    if options is None:
        options = []
    if not isinstance(options, list):
        err(errors, host, "keepalived_daemon_options", "is not a list", "list the options, e.g. [--log-detail]")
        return
    seen = set()
    for idx, text in enumerate(options):
        var = "keepalived_daemon_options[%d]" % idx
        problem = daemon_option_problem(text)
        if problem:
            err(errors, host, var, *problem)
            continue
        name = OPTION_RE.match(text).group(1)
        if name in seen:
            err(errors, host, var, "gives %s a second time" % name, "give each option once")
        seen.add(name)


def sysctls(view):
    """{key: value} of every kernel setting the role manages; None where this host's variables leave it alone."""
    found = {}
    bind = view.get("nonlocal_bind")
    for key in NONLOCAL_BIND:
        found[key] = None if bind is None else int(bool(bind))
    retries = view.get("tcp_retries2")
    found[TCP_RETRIES2] = None if retries is None else int(retries)
    return found


def daemon_args(view):
    """The keepalived arguments after --dont-fork, as one line (a host the preflight accepted)."""
    return " ".join(view.get("daemon_options") or [])
