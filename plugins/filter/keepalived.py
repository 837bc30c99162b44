# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the keepalived role uses to check its inventory and resolve each host's values."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.failover.keepalived.plugins.module_utils import _cluster, _report


def _plain(value):
    """Turn Ansible's lazy containers into plain dicts and lists."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _views(views):
    if not hasattr(views, "items"):
        raise AnsibleFilterError("expected a mapping of host name to host view, got %s" % type(views).__name__)
    return _plain(views)


def keepalived_addresses(facts):
    """Interface name -> its addresses, from a host's ansible_facts."""
    return _cluster.addresses_from_facts(_plain(facts or {}))


def keepalived_preflight(views):
    """Every problem found in the hosts' views (an empty list when the inventory is good)."""
    return _cluster.preflight(_views(views))


def keepalived_plan(views, host):
    """The resolved template values for one host."""
    views = _views(views)
    if host not in views:
        raise AnsibleFilterError("host %s has no view" % host)
    return _cluster.host_plan(views, host)


def keepalived_runner_checks(scripts):
    """The keepalived_scripts with runner: true, as keepalived-check runner reads them."""
    return _cluster.runner_checks(_plain(scripts or []))


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


def keepalived_undrain_instances(results, host):
    """Instances ``host`` should be MASTER of again after an undrain."""
    return _report.undrain_instances(_plain(results), host)


class FilterModule:
    """keepalived inventory filters."""

    def filters(self):
        return {
            "keepalived_addresses": keepalived_addresses,
            "keepalived_preflight": keepalived_preflight,
            "keepalived_plan": keepalived_plan,
            "keepalived_runner_checks": keepalived_runner_checks,
            "keepalived_status_table": keepalived_status_table,
            "keepalived_vip_problems": keepalived_vip_problems,
            "keepalived_vip_holders": keepalived_vip_holders,
            "keepalived_drain_plan": keepalived_drain_plan,
            "keepalived_undrain_instances": keepalived_undrain_instances,
        }
