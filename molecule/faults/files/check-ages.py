"""Sample the keepalived-check processes on this host for a while.

    python3 check-ages.py --seconds 4 [--match http]

Prints one JSON line: the most that ran at once, the age of the oldest one
seen (seconds since it started, from /proc), and how many samples were taken.
A check that outlives keepalived's script timeout, or checks piling up, show
here.
"""

import argparse
import json
import os
import time


def checks(clock_ticks, match):
    """(pid, age in seconds, state) of every running keepalived-check (with `match` among its words)."""
    with open("/proc/uptime", encoding="ascii") as uptime:
        now = float(uptime.read().split()[0])
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
                words = cmdline.read().split(b"\0")
            with open("/proc/%s/stat" % pid, encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if any(b"keepalived-check" in word for word in words) and (not match or match.encode() in words):
            found.append((int(pid), now - int(fields[19]) / clock_ticks, fields[0]))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--every", type=float, default=0.05)
    parser.add_argument("--match", help="only checks with this word on their command line (the check type)")
    args = parser.parse_args(argv)
    clock_ticks = os.sysconf("SC_CLK_TCK")
    end = time.time() + args.seconds
    most, oldest, samples, pids = 0, 0.0, 0, set()
    while time.time() < end:
        now = checks(clock_ticks, args.match)
        samples += 1
        most = max(most, len(now))
        oldest = max([oldest] + [age for _pid, age, _state in now])
        pids.update(pid for pid, _age, _state in now)
        time.sleep(args.every)
    print(json.dumps({"most_at_once": most, "oldest_s": round(oldest, 2), "runs_seen": len(pids),
                      "samples": samples}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
