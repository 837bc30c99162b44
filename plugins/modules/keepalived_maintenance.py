#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_maintenance
short_description: Drain a keepalived node with the down file, or bring it back
version_added: 0.1.0
description:
  - The down file is the maintenance switch of a keepalived node set up by this collection. While
    it exists the node's tracking script fails, keepalived lowers the node's priority or puts its
    instances in C(FAULT), and the VIPs move to a peer.
  - O(state=drained) creates the down file with a short reason inside; O(state=active) removes
    it. Only the file's presence counts; an existing file is left as it is.
  - With O(wait=true) the module then waits, up to O(timeout) seconds, until the VIPs this host
    held before have left it (V(drained)), or until the instances in O(wait_for_state) are
    C(MASTER) again (V(active)), and until the instances in O(wait_for_priority) show the
    effective priority given there.
  - The VIPs held before and after are read as M(failover.keepalived.keepalived_status) reads
    them, from keepalived's own dumps and the kernel's addresses.
  - Needs root (O(ignore:become=true)).
author:
  - failover.keepalived contributors (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reports whether the file would be created or removed; touches nothing and does not wait.
  diff_mode:
    support: full
    description: Shows the down file as V(present) or V(absent) before and after.
  platform:
    support: full
    platforms: posix
    description: Linux hosts running keepalived with a tracking script that fails while the down file exists.
options:
  state:
    description:
      - V(drained) creates the down file, V(active) removes it.
    type: str
    required: true
    choices: [drained, active]
  path:
    description:
      - The down file that the node's tracking script watches.
    type: path
    default: /etc/keepalived/down
  reason:
    description:
      - Text written into a newly created down file, so that whoever finds it knows why.
    type: str
    default: drained by failover.keepalived.keepalived_maintenance
  wait:
    description:
      - Wait for the result of the switch. For V(drained), until none of the VIPs held before is
        on this host's interfaces; for V(active), until every instance in O(wait_for_state) is
        C(MASTER).
    type: bool
    default: true
  wait_for_state:
    description:
      - Names of VRRP instances that must be C(MASTER) again before O(state=active) returns.
      - Without it V(active) returns as soon as the file is gone.
    type: list
    elements: str
    default: []
  wait_for_priority:
    description:
      - VRRP instance name -> the effective priority this node must show in it before the module returns,
        or V(null) for the instance in C(FAULT); waited for together with the VIPs or the states above.
      - This is keepalived having acted on the switch (the tracking script counted failed, or healthy
        again), which the VIPs alone do not show on a node that holds none. C(playbooks/maintenance.yml)
        takes the values from the failover plan of the inventory
        (P(failover.keepalived.keepalived_drain_effects#filter)).
    type: dict
    default: {}
  timeout:
    description:
      - Seconds to wait before failing.
    type: float
    default: 60.0
  poll_interval:
    description:
      - Seconds between two readings while waiting.
    type: float
    default: 1.0
  pid_file:
    description:
      - keepalived's PID file.
    type: path
    default: /run/keepalived.pid
  dump_timeout:
    description:
      - Seconds to wait for keepalived to write a fresh state dump after it was signalled.
    type: float
    default: 5.0
notes:
  - If keepalived is not running the file is still created or removed; there are no VIPs to
    wait for.
seealso:
  - module: failover.keepalived.keepalived_status
"""

EXAMPLES = r"""
- name: Drain this node and wait until its VIPs have moved away
  failover.keepalived.keepalived_maintenance:
    state: drained
    reason: kernel update, ticket OPS-1234
    timeout: 30
  become: true
  register: drain

- name: Show where the VIPs were
  ansible.builtin.debug:
    msg: "moved {{ drain.vips_before }} away in {{ drain.elapsed }} s"

- name: Bring the node back and wait until it is master of VI_1 again
  failover.keepalived.keepalived_maintenance:
    state: active
    wait_for_state:
      - VI_1
    timeout: 30
  become: true

- name: Drain this node and wait until keepalived has acted on it (priority 50 in VI_1, VI_2 in FAULT)
  failover.keepalived.keepalived_maintenance:
    state: drained
    wait_for_priority:
      VI_1: 50
      VI_2: null
  become: true

- name: Remove the down file without waiting
  failover.keepalived.keepalived_maintenance:
    state: active
    wait: false
  become: true
"""

RETURN = r"""
changed:
  description: Whether the down file was (or in check mode would be) created or removed.
  returned: always
  type: bool
  sample: true
down_file:
  description: The down file (O(path)).
  returned: always
  type: str
  sample: /etc/keepalived/down
state:
  description: The requested state.
  returned: always
  type: str
  sample: drained
running:
  description: Whether keepalived was running when the module started.
  returned: success
  type: bool
  sample: true
elapsed:
  description: Seconds spent waiting; 0 when not waiting.
  returned: always
  type: float
  sample: 4.87
changed_at:
  description: Unix time (seconds) at which the down file was created or removed.
  returned: when changed and not in check mode
  type: float
  sample: 1795634695.250
met_at:
  description: Unix time (seconds) at which the wait ended successfully.
  returned: when O(wait=true) and the wait succeeded
  type: float
  sample: 1795634700.125
vips_before:
  description: The VIPs of keepalived's instances that were on this host before the change.
  returned: success
  type: list
  elements: str
  sample: [192.168.158.100/24]
vips_after:
  description:
    - The VIPs of keepalived's instances on this host when the module returned. In check mode the
      same as RV(vips_before).
  returned: success
  type: list
  elements: str
  sample: []
last_seen:
  description: What the last reading showed while waiting.
  returned: when the module waited
  type: str
  sample: all VIPs gone
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: created /etc/keepalived/down; all VIPs gone after 4.9s
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_maintenance import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', required=True, choices=['drained', 'active']),
            path=dict(type='path', default='/etc/keepalived/down'),
            reason=dict(type='str', default='drained by failover.keepalived.keepalived_maintenance'),
            wait=dict(type='bool', default=True),
            wait_for_state=dict(type='list', elements='str', default=[]),
            wait_for_priority=dict(type='dict', default={}),
            timeout=dict(type='float', default=60.0),
            poll_interval=dict(type='float', default=1.0),
            pid_file=dict(type='path', default='/run/keepalived.pid'),
            dump_timeout=dict(type='float', default=5.0),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
