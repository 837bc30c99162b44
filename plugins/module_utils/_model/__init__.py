# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model of a keepalived cluster, computed once per play.

Pure functions only (no Ansible imports), so the rules an operator meets are
unit-tested as tables. The keepalived role describes every host of the play as a
view of its variables, and :func:`build` turns all the views at once into the
preflight's errors and, when there are none, one plan per host, which each host
then reads for its templates, its files and its runner.

A host view is a plain dict::

    {
      "router_id": "KA1",
      "instances": [...],            # keepalived_instances
      "scripts": [...],              # keepalived_scripts
      "sync_groups": [...],          # keepalived_sync_groups
      "track_files": [...], "track_processes": [...],   # keepalived_track_files, _track_processes
      "virtual_servers": [...], "virtual_server_groups": [...],   # keepalived_virtual_servers, ...
      "script_user": "keepalived_script",
      "check_command": "/usr/local/bin/keepalived-check",
      "state_dir": "/run/keepalived-check",
      "track_dir": "/run/keepalived-check/track",
      "addresses": {"eth0": ["192.168.157.11", ...]},   # from facts
      "global_options": {...},       # keepalived_global_options
      "notification_email": [...], "notification_email_from": ..., "smtp_server": ..., "smtp_port": ...,
      "smtp_connect_timeout": ...,   # keepalived_notification_email, ...
      "extra_config": "...",         # keepalived_extra_config
    }

Files: ``values`` (defaults and parsing), ``checks`` (keepalived_scripts against
the check program's own option table, and the command lines rendered from them),
``instance_options`` (an instance's optional keepalived settings: excluded addresses,
routes, rules, VMAC, ...), ``host_config`` (global_defs and keepalived_extra_config), ``tracking`` (the operator's track
files and tracked processes), ``sync_groups`` (instances that move together), ``virtual_servers`` (LVS),
``preflight`` (the rules), ``plan`` (the per-host plans).
"""

from __future__ import annotations

from ansible_collections.failover.keepalived.plugins.module_utils._model import plan, preflight


def build(views):
    """{"errors": [...], "plans": {host: plan}} for every host of ``views``; no plans when there are errors."""
    errors = preflight.preflight(views)
    plans = {} if errors else plan.plans(views)
    errors += preflight.refuse_empty_conf_d(plans)
    return {"errors": errors, "plans": {} if errors else plans}
