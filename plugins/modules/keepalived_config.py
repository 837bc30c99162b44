#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_config
short_description: Validate and apply a complete keepalived configuration in one step
version_added: 0.1.0
description:
  - Takes the whole keepalived configuration as content (the main file, the files of the include
    directory and the secret files that hold authentication blocks) and makes the host match it.
  - If every file already has the wanted content, mode and owner, nothing else happens; keepalived is
    not even run.
  - Otherwise the complete desired tree is built in a private temporary directory (mode V(0700)) and
    checked with C(keepalived -t -f TMPDIR/keepalived.conf). Only if keepalived accepts it are the
    live files written, each atomically (temporary file in the same directory, flushed, renamed), and
    stale files purged. A rejected configuration leaves every live file untouched.
  - The main file must include the include directory by a path relative to O(path) (for example
    C(include conf.d/*.conf)), and instance files must include their secret files by name relative to
    the include directory (for example C(include vi_1.auth)); keepalived resolves relative includes
    against the including file's directory, so the temporary copy validates exactly what would go live.
    Entries of O(path) other than the main file and the include directory, and include directory
    files that stay, are linked into the temporary tree so references to them resolve too.
  - The module does not reload keepalived; notify a handler on change.
author:
  - failover.keepalived contributors (!UNKNOWN)
options:
  path:
    description:
      - The keepalived configuration directory. It is created (mode V(0755)) if missing.
    type: path
    default: /etc/keepalived
  main:
    description:
      - Content of C(keepalived.conf) in O(path).
    type: str
    required: true
  include_dir:
    description:
      - Directory for O(files) and O(secret_files), relative to O(path). Created (mode V(0755)) if
        missing.
    type: str
    default: conf.d
  files:
    description:
      - Files to write in O(include_dir), as a mapping of file name to content. Written with mode
        V(0644).
      - Names are plain file names (letters, digits and C(_ . @ + -)), without a directory.
    type: dict
    default: {}
  secret_files:
    description:
      - Files that hold secrets (such as VRRP authentication blocks), as a mapping of file name to
        content. Written in O(include_dir) with mode V(0600).
      - Their content never appears in the diff, in the result or in error messages. Diffs show a
        placeholder such as C((secret content changed)), and every word of these files other than
        keepalived's authentication keywords is masked in keepalived's output.
      - A name must not appear in both O(files) and O(secret_files).
    type: dict
    default: {}
  purge:
    description:
      - Remove files in O(include_dir) that match O(purge_patterns) and are neither in O(files) nor in
        O(secret_files), so an instance that is no longer wanted disappears.
    type: bool
    default: true
  purge_patterns:
    description:
      - Shell-style patterns of the file names that O(purge) may remove. Other files in O(include_dir)
        are left alone (and still take part in the validation).
    type: list
    elements: str
    default: ['*.conf', '*.auth']
  validate:
    description:
      - Check the complete desired tree with C(keepalived -t) before anything is written.
      - Only switch this off where keepalived cannot run, for example when it is not installed yet.
    type: bool
    default: true
  keepalived_bin:
    description:
      - The keepalived executable used for the validation, as a name looked up in E(PATH) and the sbin
        directories, or as an absolute path.
    type: str
    default: keepalived
  defer_if_holding:
    description:
      - When a change is pending and this host holds a VIP now (as keepalived's state dump says, one of
        its instances is MASTER or one of their VIPs is on its interfaces, the C(holder) of
        M(failover.keepalived.keepalived_status)), change nothing and return RV(deferred=true). A play calls the module twice, once for every
        host, so the hosts that hold no VIP change first, and once more for the deferred ones.
      - Where keepalived's state cannot be read, the host counts as a holder.
      - Only read when something would change, so an unchanged run never signals keepalived.
    type: bool
    default: false
  reload_marker:
    description:
      - A file that says the live files are newer than what the running keepalived has loaded. It is
        written before the new files are put in place, and the caller removes it once keepalived has
        reloaded them (the keepalived role does, in its reload handler and when it starts keepalived).
      - While it exists the module returns RV(reload_pending=true), also when nothing is left to change,
        so a run that wrote the files and was stopped before the reload (the controller killed, the
        connection lost) is completed by the next one. Put it on a file system that a reboot
        empties, such as C(/run), since keepalived started afresh reads the live files.
      - A host that holds a VIP with O(defer_if_holding=true) defers such a reload like a change.
    type: path
  pid_file:
    description:
      - keepalived's PID file, for O(defer_if_holding) and RV(running_command).
    type: path
    default: /run/keepalived.pid
  owner:
    description:
      - Owner (name or uid) of the written files and of created directories.
    type: str
    default: root
  group:
    description:
      - Group (name or gid) of the written files and of created directories.
    type: str
    default: root
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode the validation runs as well (it only writes to the temporary directory), so a
        configuration that keepalived rejects fails the check run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Returns one diff per changed or removed file; secret files show a placeholder instead of
        their content.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - C(keepalived -t) needs the interfaces named in the configuration to exist on the host, so the
    validation has to run on the target, which is what this module does.
  - keepalived exits non-zero for warnings as well as errors (for example an over-long C(auth_pass)
    that it would truncate); such a configuration is rejected.
  - Each file is replaced atomically and the main file is written last, but the files are replaced
    one after the other; an I/O error in the middle (a full disk, for example) can leave some files
    new and others old. The failure is reported and the next run completes the tree.
  - SELinux contexts of the written files are not managed.
seealso:
  - name: keepalived configuration synopsis
    description: The keywords keepalived accepts.
    link: https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html
"""

EXAMPLES = r"""
- name: Apply the rendered keepalived configuration
  failover.keepalived.keepalived_config:
    main: |
      global_defs {
        router_id lb1
      }
      include conf.d/*.conf
    files:
      vi_1.conf: |
        vrrp_instance VI_1 {
          state BACKUP
          interface eth0
          virtual_router_id 51
          priority 100
          advert_int 1
          include vi_1.auth
          virtual_ipaddress {
            192.0.2.10/24
          }
        }
    secret_files:
      vi_1.auth: |
        authentication {
          auth_type PASS
          auth_pass "{{ vault_vi_1_password }}"
        }
  notify: Reload keepalived

- name: Render from templates on the controller and apply in one task
  failover.keepalived.keepalived_config:
    main: "{{ lookup('ansible.builtin.template', 'keepalived.conf.j2') }}"
    files: "{{ __keepalived_instance_files }}"
    secret_files: "{{ __keepalived_auth_files }}"
  notify: Reload keepalived

- name: Keep include files written by something else
  failover.keepalived.keepalived_config:
    main: "{{ lookup('ansible.builtin.template', 'keepalived.conf.j2') }}"
    files: "{{ __keepalived_instance_files }}"
    purge_patterns:
      - 'vi_*.conf'
      - 'vi_*.auth'
"""

RETURN = r"""
changed_files:
  description:
    - Absolute paths of the files that were written, or would be written in check mode, because
      their content, mode or owner differed or they were missing. The main file comes last.
  returned: always
  type: list
  elements: str
  sample: ['/etc/keepalived/conf.d/vi_1.auth', '/etc/keepalived/conf.d/vi_1.conf']
removed_files:
  description:
    - Absolute paths of the files that were purged, or would be purged in check mode.
  returned: always
  type: list
  elements: str
  sample: ['/etc/keepalived/conf.d/old_instance.conf']
deferred:
  description:
    - V(true) when a change was pending but not made because the host holds a VIP and
      O(defer_if_holding=true). The change and its diff come with the next call without it.
  returned: always
  type: bool
  sample: true
reload_pending:
  description:
    - V(true) when O(reload_marker) is there after this call (this call wrote the files, or an
      earlier one did and keepalived has not reloaded them since) and the host did not defer. The
      caller should then reload keepalived and remove the marker.
  returned: always
  type: bool
  sample: false
running_command:
  description:
    - The command line the running keepalived started with (the program, then its arguments), read
      from C(/proc) through O(pid_file); V(null) when keepalived does not run. keepalived reads its
      arguments only as it starts, so a reload leaves them as they are.
  returned: always
  type: list
  elements: str
  sample: ['/usr/sbin/keepalived', '--dont-fork', '--dump-conf', '--log-detail']
vips_held:
  description:
    - The VIPs the host held when the module decided to defer (empty for a host that is MASTER without
      its VIPs, or that could not tell).
  returned: when RV(deferred=true)
  type: list
  elements: str
  sample: ['192.0.2.10/24']
validated:
  description:
    - Whether C(keepalived -t) accepted the desired configuration during this run. V(false) when
      nothing had to change (no validation is needed then) or O(validate=false).
  returned: always
  type: bool
  sample: true
validation_output:
  description:
    - What C(keepalived -t) printed, with the temporary directory replaced by O(path) and secrets
      masked. On failure it explains why the configuration was rejected.
  returned: when the validation ran
  type: str
  sample: "(conf.d/vi_1.conf: Line 5) number '300' outside range [1, 255]"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.failover.keepalived.plugins.module_utils._config_apply import (
    DEFAULT_PURGE_PATTERNS,
    run,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/keepalived'),
            main=dict(type='str', required=True),
            include_dir=dict(type='str', default='conf.d'),
            files=dict(type='dict', default={}),
            secret_files=dict(type='dict', default={}, no_log=True),
            purge=dict(type='bool', default=True),
            purge_patterns=dict(type='list', elements='str', default=list(DEFAULT_PURGE_PATTERNS)),
            validate=dict(type='bool', default=True),
            keepalived_bin=dict(type='str', default='keepalived'),
            defer_if_holding=dict(type='bool', default=False),
            reload_marker=dict(type='path'),
            pid_file=dict(type='path', default='/run/keepalived.pid'),
            owner=dict(type='str', default='root'),
            group=dict(type='str', default='root'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
