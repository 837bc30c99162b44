#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keepalived_files
short_description: Make a set of files and directories match their description in one step
version_added: 0.1.0
description:
  - Takes a list of files (with their content), directories and paths that must not exist, and makes
    the host match it in one call, instead of one task (and one round trip to the host) per file.
    The healthcheck role installs the check module, its launcher, the tmpfiles entry, the sudo rule
    and the runner's unit with it.
  - Directories are created first (parents before children), then files are written, each atomically
    (temporary file in the same directory, flushed, renamed), then absent entries are removed.
    A file whose content is right but whose mode or owner is not only gets its mode or owner fixed.
  - Files with a O(files[].validate) command are checked before anything is changed; if one is
    rejected, nothing at all is changed.
  - Removes regular files and symbolic links, never a directory.
  - Files that are private (no permission bits for group or others) never show their content in the
    diff. Secrets belong in a separate task with C(no_log), not in this module's parameters.
author:
  - failover.keepalived contributors (!UNKNOWN)
options:
  files:
    description:
      - What the host must have, in order. Each path appears once.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute, normalised path (no trailing C(/), no C(..)).
        type: str
        required: true
      state:
        description:
          - V(file) writes O(files[].content); V(directory) creates the directory; V(absent) removes a
            file or symbolic link if it is there.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description:
          - The file's content; required for V(file), not allowed otherwise.
        type: str
      owner:
        description:
          - Owner (name or number) of a file or directory.
        type: str
        default: root
      group:
        description:
          - Group (name or number) of a file or directory.
        type: str
        default: root
      mode:
        description:
          - Permission bits as an octal string such as V('0644'). Default V('0644') for files and
            V('0755') for directories.
        type: str
      validate:
        description:
          - Command that checks the new content before it goes live, with C(%s) standing for a private
            copy of the file, for example V(visudo -cf %s). It runs only when the content changes.
          - In check mode, a command that is not installed yet is skipped with a warning.
        type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Validation commands run in check mode as well, on a private copy.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Symbolic links are not followed; a link where a file is wanted is replaced by the file.
"""

EXAMPLES = r"""
- name: Install a script, its directory and a sudo rule, and drop an old unit
  failover.keepalived.keepalived_files:
    files:
      - path: /usr/local/lib/example
        state: directory
      - path: /usr/local/lib/example/run.py
        content: "{{ lookup('ansible.builtin.file', 'run.py') }}"
      - path: /etc/sudoers.d/example
        content: "example ALL=(root) NOPASSWD: /usr/bin/systemctl restart web.service\n"
        mode: "0440"
        validate: visudo -cf %s
      - path: /etc/systemd/system/example-old.service
        state: absent
  register: example_files
"""

RETURN = r"""
changed_paths:
  description:
    - Paths that were created, written, fixed (mode or owner) or removed, or would be in check mode,
      in the order the module handles them.
  returned: always
  type: list
  elements: str
  sample: ['/usr/local/lib/example', '/usr/local/lib/example/run.py']
removed_paths:
  description:
    - The paths of O(files) with O(files[].state=absent) that were there and were removed (or would be).
  returned: always
  type: list
  elements: str
  sample: ['/etc/systemd/system/example-old.service']
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.failover.keepalived.plugins.module_utils._files import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='str', required=True),
                state=dict(type='str', choices=['file', 'directory', 'absent'], default='file'),
                content=dict(type='str'),
                owner=dict(type='str', default='root'),
                group=dict(type='str', default='root'),
                mode=dict(type='str'),
                validate=dict(type='str'),
            )),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
