# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What keepalived watches besides the checks: files the operator's own tools write, and processes.

keepalived_track_files (vrrp_track_file: a number in a file, read on every change) and
keepalived_track_processes (vrrp_track_process: processes counted from the kernel's process
events). Instances and sync groups name them in their own track_files / track_processes. Each rule
answers with (variable suffix, problem, fix); the plan renders the same values.
"""

from __future__ import annotations

import re

from ansible_collections.failover.keepalived.plugins.module_utils._model.values import (
    err, is_int, is_number, named_items, num, track_items,
)

TRACK_FILE_DEFAULTS = {"weight": 0, "init_file": None, "init_overwrite": False}
TRACK_PROCESS_DEFAULTS = {
    "params": [],
    "param_match": None,
    "full_command": False,
    "quorum": 1,
    "quorum_max": None,
    "delay": None,
    "fork_delay": None,
    "terminate_delay": None,
    "weight": 0,
}
FILE_RE = re.compile(r"^(/[A-Za-z0-9_.@+-]+)+$")
# A process name or parameter keepalived reads as one word.
WORD_RE = re.compile(r"^[^\s\"'#!{}\\]+$")
# The kernel keeps 15 characters of a process name (/proc/PID/comm); keepalived compares it whole.
COMM_LEN = 15
PARAM_MATCH = ("initial", "partial")

# What a tracked item names, per track field: the table of the host it must be defined in.
TRACK_TABLES = {
    "track_scripts": "keepalived_scripts",
    "track_files": "keepalived_track_files",
    "track_processes": "keepalived_track_processes",
}


def references(errors, host, var, field, value, tables):
    """The {name, weight} items of one track field; unknown names and bad weights are refused."""
    try:
        items = track_items(value, field)
    except ValueError as exc:
        err(errors, host, "%s.%s" % (var, field), str(exc), "list names, or {name, weight} items")
        return []
    if field != "track_interfaces":
        for item in items:
            if item["name"] not in tables[field]:
                err(errors, host, "%s.%s" % (var, field), "names %r, which %s does not define" % (
                    item["name"], TRACK_TABLES[field]), "define it there, or remove it from %s" % field)
    for item in items:
        weight = item["weight"]
        if weight is not None and (not is_int(weight) or not -253 <= weight <= 253):
            err(errors, host, "%s.%s (%s).weight" % (var, field, item["name"]), "is %r, outside -253..253" % (weight,),
                "use a whole number from -253 to 253")
    return items


def weight_of(field, item, tables):
    """The weight keepalived applies for one tracked item of an instance (its own, or its definition's)."""
    if item.get("weight") is not None:
        return item["weight"]
    if field == "track_interfaces":
        return 0
    definition = tables[field].get(item["name"]) or {}
    return definition.get("weight") or 0


def _weight_problem(weight):
    if not is_int(weight) or not -253 <= weight <= 253:
        return "is %r, outside -253..253" % (weight,)
    return None


def file_problems(item, track_dir, script_names):
    """Problems of one keepalived_track_files item (with defaults), as (suffix, problem, fix)."""
    found = []
    path = item.get("file")
    if not isinstance(path, str) or not FILE_RE.match(path):
        found.append((".file", "is %r, not an absolute path without spaces or quotes" % (path,),
                      "give the file the operator's tool writes, e.g. /var/lib/mytool/keepalived.state"))
    elif isinstance(track_dir, str) and (path + "/").startswith(track_dir.rstrip("/") + "/"):
        found.append((".file", "is inside keepalived_track_dir (%s), where the check runner writes its own files"
                      % track_dir, "keep the operator's files elsewhere, e.g. under /var/lib"))
    if item["name"] in script_names:
        found.append((".name", "is also the name of a keepalived_scripts entry (a runner check's track file has "
                      "that name)", "give the track file its own name"))
    problem = _weight_problem(item.get("weight"))
    if problem:
        found.append((".weight", problem, "use 0 (a non-zero value in the file puts the instance into FAULT) or a "
                      "whole number the file's value is multiplied by"))
    init = item.get("init_file")
    if init is not None and not is_int(init):
        found.append((".init_file", "is %r, not a whole number" % (init,),
                      "give the value written when the file is missing (e.g. 1: failed until the tool reports)"))
    if item.get("init_overwrite") not in (True, False):
        found.append((".init_overwrite", "is %r, not true or false" % (item.get("init_overwrite"),), "write true or false"))
    elif item.get("init_overwrite") and init is None:
        found.append((".init_overwrite", "is set without init_file", "set init_file to the value to write at start"))
    return found


def process_problems(item):
    """Problems of one keepalived_track_processes item (with defaults), as (suffix, problem, fix)."""
    found = []
    process = item.get("process")
    params = item.get("params")
    full = item.get("full_command")
    if not isinstance(process, str) or not WORD_RE.match(process):
        found.append((".process", "is %r, not one word without spaces or quotes" % (process,),
                      "give the process name as /proc/PID/comm shows it, e.g. haproxy"))
    if not isinstance(params, list) or not all(isinstance(p, (str, int)) and WORD_RE.match(str(p)) for p in params):
        found.append((".params", "is not a list of words without spaces or quotes", "list the arguments, e.g. [-f, /etc/x]"))
        params = []
    if full not in (True, False):
        found.append((".full_command", "is %r, not true or false" % (full,), "write true or false"))
    elif isinstance(process, str) and not full and not params and len(process) > COMM_LEN:
        found.append((".process", "is %r, %d characters, but the kernel keeps only the first %d of a process name, "
                      "so keepalived never finds it" % (process, len(process), COMM_LEN),
                      "write the first %d characters (%s), or set full_command: true and give the command's path"
                      % (COMM_LEN, process[:COMM_LEN])))
    match = item.get("param_match")
    if match is not None and match not in PARAM_MATCH:
        found.append((".param_match", "is %r" % (match,), "use initial or partial, or leave it out for an exact match"))
    quorum = item.get("quorum")
    if not is_int(quorum) or not 1 <= quorum <= 65535:
        found.append((".quorum", "is %r, outside 1..65535" % (quorum,), "give the fewest processes that count as up"))
    top = item.get("quorum_max")
    if top is not None and (not is_int(top) or not 0 <= top <= 65535):
        found.append((".quorum_max", "is %r, outside 0..65535" % (top,),
                      "give the most processes that count as up (0: up only while none runs)"))
    elif top and is_int(quorum) and top < quorum:
        found.append((".quorum_max", "is %d, below quorum %d, which keepalived ignores" % (top, quorum),
                      "set quorum_max to %d or more" % quorum))
    for field in ("delay", "fork_delay", "terminate_delay"):
        value = item.get(field)
        if value is not None and (not is_number(value) or not 0.000001 <= value <= 3600):
            found.append(("." + field, "is %r, outside 0.000001..3600 s" % (value,), "give seconds, e.g. 0.5"))
    if item.get("delay") is not None and (item.get("fork_delay") is not None or item.get("terminate_delay") is not None):
        found.append((".delay", "is set together with fork_delay or terminate_delay, which it also sets",
                      "use delay alone, or the two others"))
    problem = _weight_problem(item.get("weight"))
    if problem:
        found.append((".weight", problem, "use 0 (too few processes put the instance into FAULT) or a weight"))
    return found


def validate(errors, host, view):
    """Check both lists; return ({track file name: item}, {track process name: item}) of the valid ones."""
    script_names = {s.get("name") for s in view.get("scripts") or [] if isinstance(s, dict)}
    tables = []
    for variable, defaults, check, example in (
            ("keepalived_track_files", TRACK_FILE_DEFAULTS,
             lambda item: file_problems(item, view.get("track_dir"), script_names), "db_role"),
            ("keepalived_track_processes", TRACK_PROCESS_DEFAULTS, process_problems, "haproxy")):
        items = view.get(variable[len("keepalived_"):])
        table = {}
        if items is not None and not isinstance(items, list):
            err(errors, host, variable, "is not a list", "write it as a list of {name, ...} items")
            items = []
        for var, item, name in named_items(errors, host, variable, items, defaults, "give each a name and its fields",
                                           example):
            if name in table:
                err(errors, host, var + ".name", "is defined twice", "give each entry its own name")
                continue
            found = check(item)
            for suffix, problem, fix in found:
                err(errors, host, var + suffix, problem, fix)
            if not found:
                table[name] = item
        tables.append(table)
    return tables[0], tables[1]


def render_files(items):
    """The track_file blocks of a host's valid keepalived_track_files, as dicts for the template."""
    out = []
    for item in items:
        init = None
        if item.get("init_file") is not None:
            init = str(item["init_file"]) + (" overwrite" if item.get("init_overwrite") else "")
        out.append({"name": item["name"], "file": item["file"], "weight": item["weight"], "init_file": init})
    return out


def render_processes(items):
    """The vrrp_track_process blocks of a host's valid keepalived_track_processes, as lists of lines."""
    out = []
    for item in items:
        lines = ["process %s" % " ".join([item["process"]] + [str(p) for p in item.get("params") or []])]
        if item.get("param_match"):
            lines.append("param_match %s" % item["param_match"])
        if item.get("full_command"):
            lines.append("full_command")
        if item.get("quorum_max") != 0:  # quorum_max 0 (the process must not run) stands alone
            lines.append("quorum %d" % item["quorum"])
        if item.get("quorum_max") is not None:
            lines.append("quorum_max %d" % item["quorum_max"])
        for field in ("delay", "fork_delay", "terminate_delay"):
            if item.get(field) is not None:
                lines.append("%s %s" % (field, num(item[field])))
        lines.append("weight %d" % item["weight"])
        out.append({"name": item["name"], "lines": lines})
    return out
