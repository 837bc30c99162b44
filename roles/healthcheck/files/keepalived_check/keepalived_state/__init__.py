# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived's live state, read as the collection's keepalived_status module reads it.

The two modules here are the collection's own plugins/module_utils/_keepalived_probe.py and
_keepalived_parse.py (links in the source tree, copied by the healthcheck role), so the host program
and the module read keepalived's dumps with one piece of code.
"""
