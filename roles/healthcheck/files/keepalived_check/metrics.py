# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived-check metrics: keepalived's live VRRP state for Prometheus, as a node-exporter textfile.

    keepalived-check metrics --output DIR/keepalived.prom [--interval SECONDS] [--once]

Every interval it reads keepalived's state as the keepalived_status module does (the JSON and DATA
dumps keepalived writes on a signal, and the kernel's addresses) and replaces the file atomically
(written beside it, then renamed), so node-exporter's textfile collector never reads half a file.
Per instance: the state, base and effective priority, each VIP held or not, each tracked script's
verdict, the transitions counter and the time of the last transition. The VRRP password that the
dumps carry is dropped by the parser and never reaches the file. Runs as root (it signals
keepalived and reads its dumps).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .keepalived_state._keepalived_parse import DumpError, address_set, vip_address
from .keepalived_state._keepalived_probe import KeepalivedProbe

STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")
# keepalived's script results that count as healthy (1) or failed (0); others (INIT) are left out.
SCRIPT_VALUES = {"GOOD": 1, "BAD": 0}


def run_command(argv):
    """(rc, stdout, stderr) of a command, as the probe expects."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs):
    """{a="1",b="2"}, the names in order, as node-exporter exposes them."""
    return "{%s}" % ",".join('%s="%s"' % (key, _label(value)) for key, value in sorted(pairs)) if pairs else ""


def render(status, now):
    """The text exposition of one keepalived_status reading, taken at ``now`` (Unix time)."""
    families = []

    def family(name, kind, text, samples):
        lines = ["# HELP %s %s" % (name, text), "# TYPE %s %s" % (name, kind)]
        lines += ["%s%s %s" % (name, _labels(labels), _number(value)) for labels, value in samples]
        families.append("\n".join(lines))

    instances = status.get("instances") or {} if status.get("running") else {}
    names = sorted(instances)
    # While keepalived does not answer, the kernel still says which of its last known VIPs are here.
    held = instances or status.get("last_instances") or {}
    family("keepalived_up", "gauge", "1 while keepalived runs and answered with its state.",
           [((), 1 if status.get("running") else 0)])
    family("keepalived_vrrp_state", "gauge", "1 for the state each VRRP instance is in.",
           [((("vrrp_instance", n), ("state", s)), int(instances[n].get("state") == s)) for n in names for s in STATES])
    family("keepalived_vrrp_base_priority", "gauge", "The priority configured for the instance on this host.",
           [((("vrrp_instance", n),), instances[n].get("base_priority")) for n in names
            if instances[n].get("base_priority") is not None])
    family("keepalived_vrrp_effective_priority", "gauge", "The priority after the tracked checks' weights.",
           [((("vrrp_instance", n),), instances[n].get("effective_priority")) for n in names
            if instances[n].get("effective_priority") is not None])
    family("keepalived_vrrp_vip_held", "gauge", "1 while this host carries the VIP on an interface.",
           [((("vrrp_instance", n), ("vip", vip.split("/")[0])), int(vip in (held[n].get("vips_present") or [])))
            for n in sorted(held) for vip in held[n].get("vips") or []])
    family("keepalived_vrrp_script_healthy", "gauge", "1 while a tracked script passes, 0 while it fails.",
           [((("vrrp_instance", n), ("script", s.get("name"))), SCRIPT_VALUES[s.get("status")]) for n in names
            for s in instances[n].get("track_scripts") or [] if s.get("status") in SCRIPT_VALUES])
    family("keepalived_vrrp_transitions_total", "counter",
           "Times the instance became or stopped being MASTER since keepalived started.",
           [((("vrrp_instance", n),), (instances[n].get("stats") or {}).get("become_master", 0)
             + (instances[n].get("stats") or {}).get("release_master", 0))
            for n in names if instances[n].get("stats")])
    family("keepalived_vrrp_last_transition_timestamp_seconds", "gauge",
           "When the instance last changed state (Unix time); time() minus it is the time since.",
           [((("vrrp_instance", n),), instances[n].get("last_transition")) for n in names
            if instances[n].get("last_transition")])
    family("keepalived_metrics_timestamp_seconds", "gauge", "When this file was written (Unix time).", [((), now)])
    return "\n".join(families) + "\n"


def _number(value):
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def write_atomically(path, text):
    """Replace ``path`` with ``text`` in one rename, mode 0644."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".keepalived-metrics.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def reading(probe, last):
    """One reading; keepalived that does not answer counts as not running.

    ``last`` is the last reading in which keepalived answered: while it does not, the VIPs it had
    configured are still reported from the kernel's addresses (a killed keepalived leaves them on
    the interface), so that an alert on who holds a VIP is not fooled.
    """
    try:
        status = probe.status()
    except DumpError as exc:
        print("keepalived-check metrics: %s" % exc, file=sys.stderr)
        status = {"running": False}
    if not status.get("running") and (last or {}).get("instances"):
        try:
            here = address_set(probe.addresses())
        except DumpError:
            return status
        status["last_instances"] = {name: {"vips": inst.get("vips") or [],
                                           "vips_present": [v for v in inst.get("vips") or [] if vip_address(v) in here]}
                                    for name, inst in last["instances"].items()}
    return status


def metrics_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="keepalived-check metrics",
                                     description="Write keepalived's VRRP state for node-exporter's textfile collector.")
    parser.add_argument("--output", required=True, metavar="FILE", help="the .prom file to replace")
    parser.add_argument("--interval", type=float, default=5.0, metavar="SECONDS", help="seconds between readings")
    parser.add_argument("--once", action="store_true", help="write once and exit")
    parser.add_argument("--pid-file", default="/run/keepalived.pid", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if not opts.output.endswith(".prom") or not os.path.isdir(os.path.dirname(os.path.abspath(opts.output))):
        parser.error("--output must be a .prom file in an existing directory: %s" % opts.output)
    if not 0.5 <= opts.interval <= 3600:
        parser.error("--interval must be 0.5 to 3600 seconds")
    probe = KeepalivedProbe(run_command, keepalived_bin=shutil.which("keepalived") or "/usr/sbin/keepalived",
                            ip_bin=shutil.which("ip") or "/usr/sbin/ip", pid_file=opts.pid_file)
    last = None
    while True:
        started = time.monotonic()
        status = reading(probe, last)
        if status.get("running"):
            last = status
        write_atomically(opts.output, render(status, time.time()))
        if opts.once:
            return 0
        time.sleep(max(0.0, opts.interval - (time.monotonic() - started)))
