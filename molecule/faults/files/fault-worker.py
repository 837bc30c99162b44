"""worker.service: a parent that starts one child named fault-worker and never reaps it.

The child only sleeps. Once it is killed it stays a zombie for as long as this
parent lives, which is what the process check must report as unhealthy (signal
0, as in `killall -0`, still succeeds on a zombie).
"""

import os
import signal
import time


def main() -> int:
    pid = os.fork()
    if pid == 0:
        with open("/proc/self/comm", "w", encoding="ascii") as comm:
            comm.write("fault-worker")
        while True:
            signal.pause()
    with open("/run/fault-worker.pid", "w", encoding="ascii") as pidfile:
        pidfile.write("%d\n" % pid)
    while True:  # never wait(): a dead child stays a zombie
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
