#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_vip_watch
short_description: Record when this host gains and loses each VIP, from the kernel's address events
version_added: 0.1.0
description:
  - Follows the kernel's own address notifications (rtnetlink, what C(ip monitor address) shows)
    and records, with this host's clock, each moment one of O(vips) appears on or leaves this
    host's interfaces, until O(stop_file) appears or O(seconds) have passed.
  - It subscribes to the events before it reads the current addresses, so no change between the
    two is lost; an address on several interfaces counts as held until it has left the last one.
  - Meant to run in the background (C(async) with C(poll=0)) on every member while something
    moves the VIPs; the results of all members together give who held each VIP when. The drill playbook (C(failover.keepalived.drill)) does this. Events of
    several hosts line up only as well as the hosts' clocks agree (keep them in sync with NTP).
  - Standard-library Python only; needs no C(ip) command. Reading the address events needs no
    privilege; writing O(ready_file) and O(stop_file) in C(/run) needs root.
author:
  - failover.keepalived contributors (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: The module only watches; it behaves the same in check mode and never reports a change.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Linux (rtnetlink).
options:
  vips:
    description:
      - The addresses to follow, IPv4 or IPv6, with or without a prefix length.
    type: list
    elements: str
    required: true
  seconds:
    description:
      - The longest the watch lasts.
    type: float
    default: 300.0
  stop_file:
    description:
      - The watch ends as soon as this file exists. One left behind by an earlier watch is removed
        when the watch starts.
    type: path
    default: /run/keepalived-vip-watch.stop
  ready_file:
    description:
      - Written (with the start time) once the watch follows the events, and removed when it
        ends, so that whoever started it in the background can wait for it before changing
        anything. One left behind by an earlier watch is removed when the watch starts.
    type: path
    default: /run/keepalived-vip-watch.ready
"""

EXAMPLES = r"""
- name: Watch the VIP on every member, in the background
  failover.keepalived.keepalived_vip_watch:
    vips: [192.168.157.100]
    seconds: 120
  async: 150
  poll: 0
  register: vip_watch

- name: Wait until each watch follows the events
  ansible.builtin.wait_for:
    path: /run/keepalived-vip-watch.ready

- name: Move the VIP (drain the holder)
  failover.keepalived.keepalived_maintenance:
    state: drained
  when: inventory_hostname == 'node1'

- name: End the watches
  ansible.builtin.file:
    path: /run/keepalived-vip-watch.stop
    state: touch
    mode: "0644"

- name: Collect each host's events
  ansible.builtin.async_status:
    jid: "{{ vip_watch.ansible_job_id }}"
  register: vip_events
  until: vip_events.finished
  retries: 30
  delay: 1
"""

RETURN = r"""
vips:
  description: The watched addresses, without prefix length, in canonical form.
  returned: always
  type: list
  elements: str
  sample: [192.168.157.100]
started_at:
  description: Unix time (seconds, this host's clock) from which every change is recorded.
  returned: always
  type: float
  sample: 1796544681.806
ended_at:
  description: Unix time at which the watch ended.
  returned: always
  type: float
  sample: 1796544690.709
ended_by:
  description: V(stopped) when O(stop_file) appeared, V(timeout) after O(seconds).
  returned: always
  type: str
  sample: stopped
held_at_start:
  description: Whether this host held each VIP at RV(started_at).
  returned: always
  type: dict
  sample: {192.168.157.100: true}
held_at_end:
  description: Whether this host held each VIP at RV(ended_at).
  returned: always
  type: dict
  sample: {192.168.157.100: false}
events:
  description: Each change, in order, timed when the kernel's event was read.
  returned: always
  type: list
  elements: dict
  contains:
    at:
      description: Unix time of the change.
      type: float
    vip:
      description: The VIP.
      type: str
    held:
      description: V(true) when the VIP appeared on this host, V(false) when it left.
      type: bool
  sample: [{at: 1796544682.196, vip: 192.168.157.100, held: false}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.failover.keepalived.plugins.module_utils._vip_watch import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vips=dict(type='list', elements='str', required=True),
            seconds=dict(type='float', default=300.0),
            stop_file=dict(type='path', default='/run/keepalived-vip-watch.stop'),
            ready_file=dict(type='path', default='/run/keepalived-vip-watch.ready'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
