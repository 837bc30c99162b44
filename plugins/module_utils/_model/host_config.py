# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's own keepalived settings outside the instances: global_defs and the raw extra configuration.

keepalived_global_options, the e-mail alerts (keepalived_notification_email, _email_from,
keepalived_smtp_server, _port, _connect_timeout) and keepalived_extra_config: their rules, and the
global_defs lines and extra file the plan carries.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.failover.keepalived.plugins.module_utils._model.values import err, is_int, is_number

# The conf.d file of keepalived_extra_config; no instance may be called like it.
EXTRA_NAME = "keepalived-extra"
# global_defs keywords the role writes itself, from its own variables.
ROLE_GLOBALS = {
    "router_id": "keepalived_router_id",
    "enable_script_security": "the role (always on)",
    "script_user": "keepalived_script_user",
    "notification_email": "keepalived_notification_email",
    "notification_email_from": "keepalived_notification_email_from",
    "smtp_server": "keepalived_smtp_server",
    "smtp_connect_timeout": "keepalived_smtp_connect_timeout",
    # the default of every instance, which the preflight checks each instance against
    "vrrp_version": "keepalived_instances[].vrrp_version",
}
KEYWORD_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A value keepalived reads as words of one line, without comments, quotes or blocks.
GLOBAL_VALUE_RE = re.compile(r"^[^\s\"'#!{}\\]+( [^\s\"'#!{}\\]+)*$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
# Top-level words keepalived_extra_config may not open: what the role itself owns or what would pull in files.
EXTRA_FORBIDDEN = ("global_defs", "include", "vrrp_instance", "vrrp_script", "vrrp_track_file", "track_file",
                   "vrrp_track_process", "vrrp_sync_group")
# Where the role models a block, the variable to use instead.
EXTRA_INSTEAD = {"vrrp_track_file": "keepalived_track_files", "track_file": "keepalived_track_files",
                 "vrrp_track_process": "keepalived_track_processes", "vrrp_sync_group": "keepalived_sync_groups"}


def _global_problems(options):
    if not isinstance(options, dict):
        return [("", "is not a dict", "write it as keyword: value")]
    found = []
    for key, value in options.items():
        where = "." + str(key)
        if not KEYWORD_RE.match(str(key)):
            found.append((where, "is not a keepalived global_defs keyword", "use the keyword as keepalived.conf(5) names it"))
        elif key in ROLE_GLOBALS:
            found.append((where, "is written by the role itself", "set %s instead" % ROLE_GLOBALS[key]))
        elif isinstance(value, bool) or value is None:
            continue
        elif not isinstance(value, (str, int, float)) or not GLOBAL_VALUE_RE.match(str(value)):
            found.append((where, "is %r, not one line of plain words" % (value,),
                          "give a string or number without quotes, braces, '#', '!' or line breaks"))
    return found


def _notification_problems(view):
    """(variable, problem, fix) of the e-mail alert settings."""
    found = []
    emails = view.get("notification_email")
    if emails is None:
        emails = []
    elif not isinstance(emails, list):
        found.append(("keepalived_notification_email", "is not a list", "list the addresses, e.g. [ops@example.com]"))
        emails = []
    for idx, email in enumerate(emails):
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            found.append(("keepalived_notification_email[%d]" % idx, "is %r, not an e-mail address" % (email,),
                          "write e.g. ops@example.com"))
    sender = view.get("notification_email_from")
    if sender is not None and (not isinstance(sender, str) or not EMAIL_RE.match(sender)):
        found.append(("keepalived_notification_email_from", "is %r, not an e-mail address" % (sender,),
                      "write e.g. keepalived@example.com"))
    server = view.get("smtp_server")
    if server is not None:
        try:
            ipaddress.ip_address(str(server))
        except ValueError:
            found.append(("keepalived_smtp_server", "is %r, not an IP address (keepalived takes no host name here)"
                          % (server,), "write the server's address, e.g. 192.0.2.25"))
    port = view.get("smtp_port")
    if port is not None and (not is_int(port) or not 1 <= port <= 65535):
        found.append(("keepalived_smtp_port", "is %r, outside 1..65535" % (port,), "use e.g. 25"))
    if port is not None and server is None:
        found.append(("keepalived_smtp_port", "is set without keepalived_smtp_server", "set the server too"))
    timeout = view.get("smtp_connect_timeout")
    if timeout is not None and (not is_int(timeout) or not 1 <= timeout <= 3600):
        found.append(("keepalived_smtp_connect_timeout", "is %r, outside 1..3600 s" % (timeout,), "use e.g. 30"))
    return found


def _strip_comment(line):
    """A line of keepalived configuration without its comment ('#' or '!' outside double quotes)."""
    quoted = False
    for pos, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char in "#!" and not quoted:
            return line[:pos]
    return line


def extra_config_problems(text):
    """Why keepalived_extra_config could break out of its blocks or take over the role's, or []."""
    if not isinstance(text, str):
        return ["is not a string; write the blocks as one YAML block scalar (extra_config: |)"]
    found = []
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if line.count('"') % 2:
            found.append("line %d has an unbalanced double quote" % number)
        outside = re.sub(r'"[^"]*"', '""', line)
        words = outside.replace("{", " { ").replace("}", " } ").split()
        if depth == 0 and words and words[0] not in ("{", "}"):
            if words[0] in EXTRA_FORBIDDEN:
                found.append("line %d opens %s, which the role writes itself%s" % (
                    number, words[0], " (use %s)" % EXTRA_INSTEAD[words[0]] if words[0] in EXTRA_INSTEAD else ""))
            elif "{" not in words:
                found.append("line %d (%s) is outside any block" % (number, words[0]))
        for word in words:
            if word == "{":
                depth += 1
            elif word == "}":
                depth -= 1
                if depth < 0:
                    found.append("line %d closes a block that was never opened" % number)
                    depth = 0
        if depth > 0 and words and words[0] == "include":
            found.append("line %d includes other files" % number)
    if depth > 0:
        found.append("%d block(s) are not closed at the end" % depth)
    return found


def validate(errors, host, view):
    """The host-level rules; return whether e-mail alerts can be sent (for instances' smtp_alert)."""
    for where, problem, fix in _global_problems(view.get("global_options") or {}):
        err(errors, host, "keepalived_global_options" + where, problem, fix)
    for var, problem, fix in _notification_problems(view):
        err(errors, host, var, problem, fix)
    extra = view.get("extra_config")
    if extra:
        for problem in extra_config_problems(extra):
            err(errors, host, "keepalived_extra_config", problem,
                "write whole top-level blocks (NAME { ... }) the role does not write; for global_defs use "
                "keepalived_global_options, for instances and checks keepalived_instances and keepalived_scripts")
    return bool(view.get("notification_email")) and view.get("smtp_server") is not None


def global_defs(view):
    """The global_defs lines after the role's own (router_id, script security), for a host the preflight accepted."""
    lines = []
    emails = view.get("notification_email") or []
    if emails:
        lines += ["notification_email {"] + ["    %s" % email for email in emails] + ["}"]
    if view.get("notification_email_from"):
        lines.append("notification_email_from %s" % view["notification_email_from"])
    if view.get("smtp_server") is not None:
        port = view.get("smtp_port")
        lines.append("smtp_server %s%s" % (view["smtp_server"], "" if port is None else " %d" % port))
    if view.get("smtp_connect_timeout") is not None:
        lines.append("smtp_connect_timeout %d" % view["smtp_connect_timeout"])
    for key, value in (view.get("global_options") or {}).items():
        if value is True:
            lines.append(str(key))
        elif value is not False and value is not None:
            lines.append("%s %s" % (key, int(value) if is_number(value) and float(value).is_integer()
                                    and not isinstance(value, str) else value))
    return lines
