# -*- coding: utf-8 -*-
# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When this host gained and lost each VIP, from the kernel's own address events.

The watch subscribes to the kernel's address notifications (rtnetlink, what ``ip monitor address``
reads) before it reads the current addresses, so no change between the two is missed; every event
is timed with the host's clock the moment it is read. Standard library only: it runs wherever the
module runs. ``parse`` is pure; ``AddressWatch`` does the I/O through the socket it is given.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import struct
import time

RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x10, 0x100
IFA_ADDRESS, IFA_LOCAL = 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, interface index
_ATTR = struct.Struct("=HH")  # rtattr: length, type


class WatchError(Exception):
    """The watch could not follow the kernel's events (an overrun, an error answer)."""


def address_of(text):
    """The canonical form of an address, with or without a prefix length ('10.0.0.1/24' -> '10.0.0.1')."""
    return ipaddress.ip_address(str(text).split("/", maxsplit=1)[0].strip()).compressed


def _attributes(data):
    out, offset = {}, 0
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        out.setdefault(kind, data[offset + _ATTR.size:offset + length])
        offset += (length + 3) & ~3
    return out


def parse(data):
    """The messages of one netlink datagram, as tuples.

    ('new', address, interface index) or ('del', address, index) for address messages, ('done',) at
    the end of a dump, ('error', errno) for an error answer; anything else is skipped.
    """
    out, offset = [], 0
    while offset + _HEADER.size <= len(data):
        length, kind = _HEADER.unpack_from(data, offset)[:2]
        if length < _HEADER.size or offset + length > len(data):
            break
        body = data[offset + _HEADER.size:offset + length]
        if kind in (RTM_NEWADDR, RTM_DELADDR) and len(body) >= _IFADDR.size:
            family, _prefix, _flags, _scope, index = _IFADDR.unpack_from(body)
            attrs = _attributes(body[_IFADDR.size:])
            # IPv4 names the host's own address IFA_LOCAL (IFA_ADDRESS is the peer on a point-to-point link).
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw and family in (socket.AF_INET, socket.AF_INET6):
                out.append(("new" if kind == RTM_NEWADDR else "del", socket.inet_ntop(family, raw), index))
        elif kind == NLMSG_DONE:
            out.append(("done",))
        elif kind == NLMSG_ERROR and len(body) >= 4:
            code = struct.unpack_from("=i", body)[0]
            if code:
                out.append(("error", -code))
        offset += (length + 3) & ~3
    return out


def dump_request(sequence=1):
    """The request for every address of every family (RTM_GETADDR, a dump)."""
    body = _IFADDR.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return _HEADER.pack(_HEADER.size + len(body), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0) + body


def netlink_socket(groups=0):
    """An rtnetlink socket, subscribed to ``groups`` (bound before it returns)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, groups))
    return sock


class AddressWatch:
    """Which of ``vips`` this host holds, and every change, from ``start()`` until ``follow()`` ends.

    ``open_socket(groups)`` returns a bound netlink socket (``netlink_socket`` by default); ``clock``
    gives the time of each event.
    """

    def __init__(self, vips, open_socket=netlink_socket, clock=time.time):
        self.vips = [address_of(v) for v in vips]
        self.open_socket, self.clock = open_socket, clock
        self.where = {vip: set() for vip in self.vips}  # VIP -> interface indexes that carry it
        self.events = []
        self.events_socket = None
        self.started_at = None

    def held(self):
        return {vip: bool(indexes) for vip, indexes in self.where.items()}

    def _apply(self, message, when=None):
        kind = message[0]
        if kind == "error":
            raise WatchError("the kernel answered with error %d (%s)" % (message[1], os.strerror(message[1])))
        if kind not in ("new", "del") or address_of(message[1]) not in self.where:
            return
        vip = address_of(message[1])
        before = bool(self.where[vip])
        (self.where[vip].add if kind == "new" else self.where[vip].discard)(message[2])
        if when is not None and bool(self.where[vip]) != before:
            self.events.append({"at": when, "vip": vip, "held": not before})

    def start(self):
        """Subscribe to the address events, then read the current addresses; returns the VIPs held now."""
        self.events_socket = self.open_socket(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
        dump = self.open_socket(0)
        try:
            dump.send(dump_request())
            done = False
            while not done:
                for message in parse(dump.recv(1 << 16)):
                    done = done or message[0] == "done"
                    self._apply(message)
        finally:
            dump.close()
        self.started_at = self.clock()
        return self.held()

    def follow(self, until, stop=lambda: False, poll=0.1):
        """Record the events until the clock reaches ``until`` or ``stop()`` is true; returns why it ended.

        The kernel queues an address event before the command that made the change returns, so the events
        queued when the stop is seen are read before the watch ends: none made before the stop is lost.
        """
        try:
            while True:
                if stop():
                    while self._read(0):
                        pass
                    return "stopped"
                left = until - self.clock()
                if left <= 0:
                    return "timeout"
                self._read(min(poll, left))
        finally:
            self.events_socket.close()

    def _read(self, timeout):
        """Apply what the kernel has sent within ``timeout`` seconds; False when nothing came."""
        ready, _w, _x = select.select([self.events_socket], [], [], timeout)
        if not ready:
            return False
        try:
            data = self.events_socket.recv(1 << 16)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise WatchError("the kernel dropped address events (receive buffer overrun)") from exc
            raise
        when = self.clock()
        for message in parse(data):
            self._apply(message, when)
        return True


def watch(vips, seconds, stop_file=None, ready_file=None, open_socket=netlink_socket, clock=time.time):
    """Watch ``vips`` for up to ``seconds``, or until ``stop_file`` exists (files left from before are removed).

    ``ready_file`` is written once the watch is subscribed, and removed when it ends. Returns the
    result the module reports.
    """
    for stale in (ready_file, stop_file):  # left behind by an earlier watch
        try:
            if stale:
                os.unlink(stale)
        except OSError:
            pass
    watcher = AddressWatch(vips, open_socket, clock)
    held = watcher.start()
    started = watcher.started_at

    if ready_file:
        with open(ready_file, "w") as handle:
            handle.write("%.6f\n" % started)
    try:
        ended_by = watcher.follow(started + seconds, lambda: bool(stop_file) and os.path.exists(stop_file))
    finally:
        if ready_file:
            try:
                os.unlink(ready_file)
            except OSError:
                pass
    return {"vips": watcher.vips, "started_at": started, "ended_at": clock(), "ended_by": ended_by,
            "held_at_start": held, "held_at_end": watcher.held(), "events": watcher.events}


def run(module):
    """Do what the keepalived_vip_watch module's parameters ask; return the result dict or fail."""
    params = module.params
    try:
        vips = [address_of(v) for v in params["vips"]]
    except ValueError as exc:
        module.fail_json(msg="vips: %s" % exc)
    if not vips:
        module.fail_json(msg="vips: name at least one address to watch")
    if params["seconds"] <= 0:
        module.fail_json(msg="seconds must be above 0, not %s" % params["seconds"])
    try:
        result = watch(vips, params["seconds"], params.get("stop_file"), params.get("ready_file"))
    except (WatchError, OSError) as exc:
        module.fail_json(msg="cannot follow the address events: %s" % exc)
    result["changed"] = False
    return result
