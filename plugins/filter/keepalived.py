# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the keepalived role uses to build its inventory model and the day-two playbooks use to report."""

from __future__ import annotations

import getpass
import multiprocessing
import os
import socket
import uuid

from ansible.errors import AnsibleFilterError

from ansible_collections.failover.keepalived.plugins.module_utils import _drill, _failover_plan, _model, _report, _run_lock
from ansible_collections.failover.keepalived.plugins.module_utils._model import values


def _plain(value):
    """Turn Ansible's lazy containers into plain dicts and lists."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def keepalived_addresses(facts):
    """Interface name -> its addresses, from a host's ansible_facts."""
    return values.addresses_from_facts(_plain(facts or {}))


def keepalived_model(views):
    """The preflight's errors and every host's plan, from the views of all the hosts of a play."""
    if not hasattr(views, "items"):
        kind = ("a list" if isinstance(views, (list, tuple)) else "a string" if isinstance(views, str)
                else "nothing" if views is None else type(views).__name__)
        raise AnsibleFilterError("expected a mapping of host name to host view, got %s" % kind)
    return _model.build(_plain(views))


def keepalived_status_table(results):
    """Lines of a table (host, instance, state, priority, VIPs held) from keepalived_status results by host."""
    return _report.render_table(_report.status_rows(_plain(results)))


def keepalived_vip_problems(results):
    """Messages for every VIP held by no host or by several, from keepalived_status results by host."""
    return _report.vip_problems(_plain(results))


def keepalived_vip_holders(results):
    """VIP -> hosts holding it now, from keepalived_status results by host."""
    return _report.vip_holders(_plain(results))


def keepalived_drain_plan(results, host):
    """VIPs of ``host``, the peer expected to take each, and reasons not to drain it."""
    return _report.drain_plan(_plain(results), host)


def keepalived_drain_effects(plan, host, down_file=None):
    """The down file of ``host`` and its effective priorities drained and healthy again, from the failover plan."""
    return _drill.drain_effects(_plain(plan), host, down_file)


def keepalived_undrain_instances(results, host):
    """Instances ``host`` should be MASTER of again after an undrain."""
    return _report.undrain_instances(_plain(results), host)


def keepalived_failover_plan(model):
    """Each instance's holder, succession, single failures and predicted times, from the inventory model."""
    model = _plain(model or {})
    if model.get("errors"):
        raise AnsibleFilterError("the inventory model has errors: %s" % model["errors"])
    result = _failover_plan.failover_plan(model.get("plans") or {})
    result["table"] = _failover_plan.render(result)
    return result


def keepalived_drill_steps(results, plan, instance=None):
    """The nodes a failover drill drains, the VIPs to watch, and why it must not start."""
    return _drill.steps(_plain(results), _plain(plan), instance)


def keepalived_drill_report(runs, plan):
    """A failover drill's figures against the plan, its table, timeline pictures and problems."""
    return _drill.report(_plain(runs), _plain(plan))


def _controller_pid():
    """The ansible-playbook process: filters run in its forked workers, or in it."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


def _host_key():
    """This controller's boot and pid namespace, as "BOOT_ID/PIDNS"; empty where /proc tells neither."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        return "%s/%d" % (boot, os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _started(pid):
    """The start time of process ``pid`` (clock ticks after boot), or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            data = handle.read()
    except OSError:
        return None
    # Field 22; the command name before it (in parentheses) may hold spaces.
    return int(data.rsplit(")", 1)[1].split()[19])


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def keepalived_run(playbook):
    """This run of ``playbook``: a new id, the controller, its ansible-playbook process and user."""
    pid = _controller_pid()
    return {"id": uuid.uuid4().hex, "controller": socket.gethostname(), "host_key": _host_key(), "pid": pid,
            "pid_started": _started(pid), "user": _user(), "playbook": str(playbook)}


def keepalived_run_ended(lease):
    """True when the run that holds ``lease`` was started on this controller and its process is gone."""
    return _run_lock.ended(_plain(lease or {}), _host_key(), _started)


class FilterModule:
    """keepalived inventory filters."""

    def filters(self):
        return {
            "keepalived_addresses": keepalived_addresses,
            "keepalived_model": keepalived_model,
            "keepalived_failover_plan": keepalived_failover_plan,
            "keepalived_status_table": keepalived_status_table,
            "keepalived_vip_problems": keepalived_vip_problems,
            "keepalived_vip_holders": keepalived_vip_holders,
            "keepalived_drain_plan": keepalived_drain_plan,
            "keepalived_drain_effects": keepalived_drain_effects,
            "keepalived_undrain_instances": keepalived_undrain_instances,
            "keepalived_drill_steps": keepalived_drill_steps,
            "keepalived_drill_report": keepalived_drill_report,
            "keepalived_run": keepalived_run,
            "keepalived_run_ended": keepalived_run_ended,
        }
