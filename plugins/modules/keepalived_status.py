#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_status
short_description: Read the live VRRP state of keepalived, optionally waiting for a change
version_added: 0.1.0
description:
  - Asks the running keepalived for its state and reports, for every VRRP instance, its state
    (C(MASTER), C(BACKUP), C(FAULT), C(INIT), C(STOP)), base and effective priority, the VIPs it
    is configured with, which of them are on this host's interfaces right now, and the status of
    each tracked script.
  - The state comes from keepalived itself. The module sends keepalived the signals for its JSON
    and DATA dumps (numbers from C(keepalived --signum=JSON) and C(--signum=DATA)) and reads the
    files keepalived writes. The JSON dump gives the instances; the DATA dump is the only source
    of script names and results. Without JSON support the DATA dump is used alone.
  - The dumps are read through C(/proc/PID/root) and keepalived's own C(TMPDIR), so a private
    C(/tmp) (systemd C(PrivateTmp=yes)) is handled. An older dump left in place is never taken for
    a fresh one; the module waits up to O(dump_timeout) for keepalived to write a new file.
  - Addresses come from the kernel (C(ip -j addr), or C(ip -o addr) where iproute2 has no JSON).
  - keepalived not running is a result (RV(running=false)), not an error, unless
    O(fail_when_stopped=true).
  - The VRRP password that keepalived prints into both dumps is dropped while parsing and never
    returned.
  - Needs root (O(ignore:become=true)) to signal keepalived and read its dumps.
author:
  - failover.keepalived contributors (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode and never reports a change.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Linux hosts running keepalived built with JSON or DATA dump support.
options:
  pid_file:
    description:
      - keepalived's PID file. keepalived counts as running when this file names a live
        C(keepalived) process.
    type: path
    default: /run/keepalived.pid
  fail_when_stopped:
    description:
      - Fail when keepalived is not running instead of returning RV(running=false).
      - Not applied when O(wait_for.state=STOP) was the goal and was reached.
    type: bool
    default: false
  dump_timeout:
    description:
      - Seconds to wait for keepalived to write a fresh dump after it was signalled.
    type: float
    default: 5.0
  wait_for:
    description:
      - Wait until these conditions hold, reading again every O(poll_interval) seconds for up to
        O(timeout) seconds. When several are given, all must hold.
      - The time it took is returned in RV(elapsed). On timeout the module fails with a message
        that names the goal and what was last seen.
    type: dict
    suboptions:
      instance:
        description:
          - Name of the VRRP instance (C(vrrp_instance NAME)) whose state to wait for.
        type: str
      state:
        description:
          - The state O(wait_for.instance) must reach. When keepalived is not running every
            instance counts as C(STOP).
        type: str
        choices: [MASTER, BACKUP, FAULT, INIT, STOP]
      vip:
        description:
          - An address (with or without prefix length) that must be present on, or absent from,
            this host's interfaces.
        type: str
      vip_state:
        description:
          - Whether O(wait_for.vip) must be held by this host (V(present)) or not (V(absent)).
        type: str
        choices: [present, absent]
        default: present
  timeout:
    description:
      - Seconds to wait for O(wait_for) before failing.
    type: float
    default: 60.0
  poll_interval:
    description:
      - Seconds between two readings while waiting for O(wait_for).
    type: float
    default: 1.0
notes:
  - Every reading signals keepalived twice; keepalived logs nothing for it and its VRRP work is
    not disturbed.
seealso:
  - module: failover.keepalived.keepalived_maintenance
"""

EXAMPLES = r"""
- name: Read the VRRP state
  failover.keepalived.keepalived_status:
  become: true
  register: vrrp

- name: Show who holds what
  ansible.builtin.debug:
    msg: "{{ vrrp.instances['VI_1'].state }} holding {{ vrrp.instances['VI_1'].vips_present }}"

- name: Fail when a tracked script is not healthy
  ansible.builtin.assert:
    that: vrrp.scripts.values() | map(attribute='status') | reject('equalto', 'GOOD') | list | length == 0
    fail_msg: "unhealthy scripts: {{ vrrp.scripts | dict2items | rejectattr('value.status', 'equalto', 'GOOD') | map(attribute='key') | list }}"

- name: Wait until this host is MASTER of VI_1
  failover.keepalived.keepalived_status:
    wait_for:
      instance: VI_1
      state: MASTER
    timeout: 30
  become: true
  register: promoted

- name: Wait until the VIP has left this host
  failover.keepalived.keepalived_status:
    wait_for:
      vip: 192.0.2.100
      vip_state: absent
    timeout: 20
  become: true

- name: Fail early when keepalived is down
  failover.keepalived.keepalived_status:
    fail_when_stopped: true
  become: true
"""

RETURN = r"""
running:
  description: Whether keepalived is running (its PID file names a live keepalived process).
  returned: always
  type: bool
  sample: true
pid:
  description: keepalived's main PID.
  returned: always
  type: int
  sample: 68
version:
  description: keepalived's version, from C(keepalived --version).
  returned: when keepalived is installed
  type: str
  sample: 2.2.7
sources:
  description: The dumps the instances were read from (V(json), V(data)), or V(ip) for a reading of addresses only.
  returned: always
  type: list
  elements: str
  sample: [json, data]
instances:
  description:
    - The VRRP instances, keyed by instance name. Empty when keepalived is not running.
    - Each has C(name), C(vrid), C(state) (C(MASTER), C(BACKUP), C(FAULT), C(INIT), C(STOP),
      C(DELETED) or C(UNKNOWN)), C(wanted_state), C(vrrp_version), C(interface),
      C(base_priority), C(effective_priority), C(master_priority) (the priority last heard from
      the master, 0 when this host is master), C(last_transition) (Unix time),
      C(vips) (every configured address, C(virtual_ipaddress) and C(virtual_ipaddress_excluded),
      as C(address/prefix)), C(excluded_vips), C(vips_present) (those of C(vips) on this host's
      interfaces now), C(track_scripts) (list of C(name), C(weight), C(status), C(command)) and
      C(stats) (keepalived's counters, JSON dump only).
    - C(track_scripts[].status) is C(GOOD), C(BAD), C(INIT) or C(UNKNOWN) (no DATA dump).
  returned: always
  type: dict
  sample:
    VI_1:
      name: VI_1
      vrid: 51
      state: MASTER
      wanted_state: MASTER
      vrrp_version: 2
      interface: eth0
      base_priority: 110
      effective_priority: 110
      master_priority: 0
      last_transition: 1795634696.506891
      vips: [192.168.158.100/24]
      excluded_vips: []
      vips_present: [192.168.158.100/24]
      track_scripts:
        - name: chk_down
          weight: -30
          status: GOOD
          command: "'/usr/bin/test' '!' '-e' '/etc/keepalived/down'"
      stats:
        advert_sent: 24
        become_master: 1
scripts:
  description:
    - keepalived's C(vrrp_script)s keyed by name, with C(status) (C(GOOD), C(BAD), C(INIT)),
      C(command), C(weight), C(interval), C(rise) and C(fall). Empty without a DATA dump.
  returned: always
  type: dict
  sample:
    chk_down:
      status: GOOD
      command: "'/usr/bin/test' '!' '-e' '/etc/keepalived/down'"
      weight: -30
      interval: 1
      rise: 2
      fall: 2
holder:
  description:
    - Whether the host counts as a VIP holder, that is one of its instances is MASTER or one of their VIPs
      is on its interfaces. The rollouts (the keepalived role's, the runner's, the upgrade playbook's)
      change holders last by this one rule; M(failover.keepalived.keepalived_config) defers by it too.
  returned: always
  type: bool
  sample: true
vips_held:
  description: The configured VIPs of all instances that are on this host's interfaces now.
  returned: always
  type: list
  elements: str
  sample: [192.168.158.100/24]
addresses:
  description: Every address on this host's interfaces, as the kernel reports it.
  returned: always
  type: list
  elements: dict
  contains:
    interface:
      description: Interface name.
      type: str
      sample: eth0
    address:
      description: The address.
      type: str
      sample: 192.168.158.100
    prefix:
      description: Prefix length.
      type: int
      sample: 24
    cidr:
      description: Address and prefix length.
      type: str
      sample: 192.168.158.100/24
    label:
      description: IPv4 label, if any.
      type: str
      sample: eth0:vip2
elapsed:
  description: Seconds spent waiting for O(wait_for); 0 without it.
  returned: always
  type: float
  sample: 3.52
met_at:
  description: Unix time (seconds) at which the O(wait_for) conditions were met, to line up with events on other hosts.
  returned: when O(wait_for) is set and met
  type: float
  sample: 1795634700.125
last_seen:
  description: What the last reading showed for the O(wait_for) conditions.
  returned: when O(wait_for) is set
  type: str
  sample: instance VI_1 state MASTER
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: keepalived is running
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.failover.keepalived.plugins.module_utils._keepalived_wait import (
    WAITABLE_STATES,
    run,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pid_file=dict(type='path', default='/run/keepalived.pid'),
            fail_when_stopped=dict(type='bool', default=False),
            dump_timeout=dict(type='float', default=5.0),
            wait_for=dict(
                type='dict',
                options=dict(
                    instance=dict(type='str'),
                    state=dict(type='str', choices=list(WAITABLE_STATES)),
                    vip=dict(type='str'),
                    vip_state=dict(type='str', choices=['present', 'absent'], default='present'),
                ),
                required_together=[('instance', 'state')],
                required_one_of=[('instance', 'vip')],
            ),
            timeout=dict(type='float', default=60.0),
            poll_interval=dict(type='float', default=1.0),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
