#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_lock
short_description: Let one playbook run at a time change a keepalived host
version_added: 0.1.0
description:
  - A run (one C(ansible-playbook) on one controller) takes a lease on each host before it changes
    anything there and gives it up when it ends. A second run that finds another run's valid lease
    waits up to O(wait) seconds for it to be given up, then fails (or, with
    O(fail_when_held=false), returns RV(acquired=false)), having changed nothing.
  - The lease is a small JSON file (O(path)) that names the run, its controller, the controller's
    process, the user and the playbook, and when it expires. It is read and written under an
    exclusive C(flock) of the file, so that two runs never both take it. A given-up lease is an
    empty file.
  - A lease that has expired (O(ttl) after it was taken) is taken over. So is one whose run id is
    in O(take_over); the role passes the id of a run that has ended on this controller
    (P(failover.keepalived.keepalived_run_ended#filter)), such as a killed C(ansible-playbook).
  - O(state=released) empties the lease if this run holds it and leaves another run's alone.
author:
  - failover.keepalived contributors (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads the lease and waits as in a real run; writes nothing.
  diff_mode:
    support: none
    description: The lease is bookkeeping of the run, not a setting of the host.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host with C(flock) (Linux).
options:
  state:
    description:
      - V(acquired) takes the lease (or finds this run holding it already), V(released) gives it up.
    type: str
    default: acquired
    choices: [acquired, released]
  run:
    description:
      - The run taking or giving up the lease, as the P(failover.keepalived.keepalived_run#filter)
        filter gives it on the controller.
      - Keys C(id) (unique per run), C(controller), C(pid), C(user) and C(playbook); C(host_key) and
        C(pid_started), where the controller gives them, are kept in the lease for
        P(failover.keepalived.keepalived_run_ended#filter).
    type: dict
    required: true
  path:
    description:
      - The lease file, the same for every run that is to wait for the others (the keepalived role's is
        C(/run/failover-keepalived.lock)). On C(/run) it goes with a reboot, which ends every run on the
        host too.
    type: path
    required: true
  ttl:
    description:
      - Seconds the lease is valid for; another run takes it over after that. Longer than the
        longest run.
    type: int
    default: 3600
  wait:
    description:
      - Seconds to wait for another run's lease to be given up, expire or be taken over.
        V(0) looks once.
    type: float
    default: 0.0
  poll_interval:
    description:
      - Seconds between two looks while waiting.
    type: float
    default: 1.0
  take_over:
    description:
      - Ids of runs known to have ended whose leases are taken over although they have not expired.
    type: list
    elements: str
    default: []
  fail_when_held:
    description:
      - Fail when another run still holds the lease after O(wait). With V(false) the module
        returns RV(acquired=false) and the holder instead.
    type: bool
    default: true
notes:
  - The lease is advisory, between runs that take it. A playbook that changes the hosts without it
    is not held back.
seealso:
  - module: failover.keepalived.keepalived_config
"""

EXAMPLES = r"""
- name: Name this run once, on the controller
  ansible.builtin.set_fact:
    this_run: "{{ 'site.yml' | failover.keepalived.keepalived_run }}"
  run_once: true

- name: Take the lease on every host, waiting up to two minutes for another run to end
  failover.keepalived.keepalived_lock:
    run: "{{ this_run }}"
    path: /run/failover-keepalived.lock
    wait: 120
  become: true

- name: Give it up at the end
  failover.keepalived.keepalived_lock:
    state: released
    run: "{{ this_run }}"
    path: /run/failover-keepalived.lock
  become: true
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lease now (in check mode, whether it could take it).
  returned: O(state=acquired)
  type: bool
  sample: true
changed:
  description:
    - Whether this run's lease took the place of none or of another run's (in check mode, would), or was
      given up. Taking its own lease again only renews its expiry and is no change.
  returned: always
  type: bool
  sample: true
state:
  description:
    - V(free), V(ours), V(expired), V(taken over) or V(held) (what O(state=acquired) found last);
      V(released), V(held) or V(free) for O(state=released).
  returned: always
  type: str
  sample: free
holder:
  description: The lease held now, or the other run's lease that blocked this one; null when free.
  returned: always
  type: dict
  sample:
    id: 6f1c0e9a0d2b4c5e8f7a6b5c4d3e2f10
    controller: ops1
    pid: 4242
    user: deploy
    playbook: site.yml
    taken: 1796555696.125
    expires: 1796559296.125
replaced:
  description: The expired or ended run's lease that was taken over.
  returned: when a lease was taken over
  type: dict
  sample: {}
released:
  description: This run's lease that was given up.
  returned: when O(state=released) gave it up
  type: dict
  sample: {}
waited:
  description: Seconds spent waiting for another run's lease.
  returned: O(state=acquired)
  type: float
  sample: 0.0
lock_file:
  description: The lease file (O(path)).
  returned: always
  type: str
  sample: /run/failover-keepalived.lock
msg:
  description: A one-line summary that names the other run where there is one.
  returned: always
  type: str
  sample: took the lock
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.failover.keepalived.plugins.module_utils._run_lock import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='acquired', choices=['acquired', 'released']),
            run=dict(type='dict', required=True),
            path=dict(type='path', required=True),
            ttl=dict(type='int', default=3600),
            wait=dict(type='float', default=0.0),
            poll_interval=dict(type='float', default=1.0),
            take_over=dict(type='list', elements='str', default=[]),
            fail_when_held=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
