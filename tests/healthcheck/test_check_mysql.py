# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mysql and mysql-replication checks against a real MariaDB primary/replica pair on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from hc_support import BOOT, CHECK_PASSWORD, free_port, pids_left, program_module, replica_running, wait_for

mysql = program_module("checks.mysql")

# --- mysql -----------------------------------------------------------------------------------------


def test_mysql_over_tcp(mariadb_pair, tmp_path, run_check):
    defaults = mariadb_pair.primary.option_file(tmp_path / "my.cnf")
    result = run_check("mysql", "--defaults-file", defaults)
    assert (result.rc, result.err) == (0, "")


def test_mysql_over_socket(mariadb_pair, tmp_path, run_check):
    defaults = mariadb_pair.primary.option_file(tmp_path / "my.cnf", use_socket=True)
    assert run_check("mysql", "--defaults-file", defaults).rc == 0


def test_mysql_wrong_password_is_unhealthy_and_not_printed(mariadb_pair, tmp_path, run_check):
    defaults = mariadb_pair.primary.option_file(tmp_path / "my.cnf", password="Wrong-pw-5150")
    result = run_check("mysql", "--defaults-file", defaults)
    assert result.rc == 1
    assert result.reason.startswith("keepalived-check mysql: server does not answer: ERROR 1045")
    assert "Access denied" in result.reason
    assert "Wrong-pw-5150" not in result.err + result.out


def test_mysql_server_down(mariadb_pair, tmp_path, run_check):
    defaults = tmp_path / "my.cnf"
    defaults.write_text(f"[client]\nuser=x\npassword=y\nhost=127.0.0.1\nport={free_port()}\n")
    result = run_check("mysql", "--defaults-file", defaults)
    assert result.rc == 1
    assert "ERROR 2002" in result.reason or "ERROR 2003" in result.reason, result.reason


def test_mysql_missing_option_file(tmp_path, run_check):
    result = run_check("mysql", "--defaults-file", tmp_path / "none.cnf")
    assert result.rc == 1
    assert result.reason == f"keepalived-check mysql: cannot read option file {tmp_path / 'none.cnf'}: no such file or directory"


# The launcher's code with an audit hook in front, and the result printed instead of exited with.
AUDIT_POPEN = """
import json, sys
seen = []
sys.addaudithook(lambda event, args: seen.append([str(a) for a in args[1]]) if event == "subprocess.Popen" else None)
""" + BOOT.replace("sys.exit(main())", "rc = main()") + """
print(json.dumps({"rc": rc, "argv": seen}))
"""


def test_mysql_password_never_on_a_command_line(mariadb_pair, tmp_path):
    defaults = mariadb_pair.primary.option_file(tmp_path / "my.cnf")
    proc = subprocess.run([sys.executable, "-I", "-c", AUDIT_POPEN, "mysql", "--defaults-file", defaults],
                          capture_output=True, text=True, timeout=30, check=False)
    report = json.loads(proc.stdout)
    assert report["rc"] == 0
    assert report["argv"], "no client was started"
    for argv in report["argv"]:
        assert argv[1] == f"--defaults-extra-file={defaults}"
        assert not any(CHECK_PASSWORD in arg for arg in argv)
        assert not any(arg.startswith(("-p", "--password")) for arg in argv)


def test_mysql_hung_server_is_killed_at_the_hard_timeout(mariadb_pair, silent_listener, tmp_path, run_cli):
    # The server accepts but never greets. --check-timeout is longer than --timeout, so the hard
    # limit (SIGALRM) is what ends it; the client must be killed, not left behind.
    defaults = tmp_path / "hung-4242.cnf"
    defaults.write_text(f"[client]\nuser=x\npassword=y\nhost=127.0.0.1\nport={silent_listener}\n")
    result = run_cli("--timeout", "1", "--check-timeout", "30", "mysql", "--defaults-file", defaults)
    assert result.rc == 1
    assert result.elapsed < 1.8, result.elapsed
    assert result.reason == "keepalived-check mysql: mysql client: no result within the --timeout of 1s, gave up"
    assert pids_left(str(defaults)) == []


def test_mysql_hung_server_within_the_check_timeout(mariadb_pair, silent_listener, tmp_path, run_cli):
    defaults = tmp_path / "hung-4243.cnf"
    defaults.write_text(f"[client]\nuser=x\npassword=y\nhost=127.0.0.1\nport={silent_listener}\n")
    result = run_cli("--timeout", "1", "mysql", "--defaults-file", defaults)
    assert result.rc == 1
    assert result.elapsed < 1.8, result.elapsed
    assert pids_left(str(defaults)) == []


# --- mysql-replication -----------------------------------------------------------------------------


@pytest.fixture
def replica(mariadb_pair, tmp_path):
    """The replica's option file; makes sure replication runs before and after each test."""
    pair = mariadb_pair
    wait_for(lambda: replica_running(pair.replica), timeout=30, what="replication to run")
    yield pair.replica.option_file(tmp_path / "replica.cnf")
    pair.replica.sql("START SLAVE")
    wait_for(lambda: replica_running(pair.replica), timeout=30, what="replication to run again")
    wait_for(lambda: pair.replica.status().get("Seconds_Behind_Master") == "0", timeout=30, what="the replica to catch up")


def test_replication_healthy(replica, run_check):
    assert run_check("mysql-replication", "--defaults-file", replica).rc == 0
    assert run_check("mysql-replication", "--defaults-file", replica, "--max-lag", "30").rc == 0


def test_replication_primary_is_not_a_replica(mariadb_pair, tmp_path, run_check):
    defaults = mariadb_pair.primary.option_file(tmp_path / "primary.cnf")
    result = run_check("mysql-replication", "--defaults-file", defaults)
    assert result.rc == 1
    assert result.reason == "keepalived-check mysql-replication: server is not a replica (replica status is empty)"


def test_replication_sql_thread_stopped(mariadb_pair, replica, run_check):
    mariadb_pair.replica.sql("STOP SLAVE SQL_THREAD")
    wait_for(lambda: mariadb_pair.replica.status().get("Slave_SQL_Running") == "No", what="the SQL thread to stop")
    result = run_check("mysql-replication", "--defaults-file", replica)
    assert result.rc == 1
    assert result.reason == "keepalived-check mysql-replication: SQL thread is not running"
    # A limit does not hide it: the lag is NULL now, and both problems are the same failure.
    assert run_check("mysql-replication", "--defaults-file", replica, "--max-lag", "3600").rc == 1


def test_replication_io_thread_stopped(mariadb_pair, replica, run_check):
    mariadb_pair.replica.sql("STOP SLAVE IO_THREAD")
    wait_for(lambda: mariadb_pair.replica.status().get("Slave_IO_Running") == "No", what="the IO thread to stop")
    result = run_check("mysql-replication", "--defaults-file", replica)
    assert result.rc == 1
    assert result.reason == "keepalived-check mysql-replication: IO thread is not running"


def test_replication_lag_over_the_limit(mariadb_pair, replica, run_check):
    """A real lag: the replica's SQL thread waits on a table lock while the primary moves on.

    A client on the replica holds LOCK TABLES hc.t WRITE; a row inserted on the primary then sits
    in the replica's relay log ("Waiting for table metadata lock") and Seconds_Behind_Master grows
    by one every second until the lock is released.
    """
    pair = mariadb_pair
    locker = subprocess.Popen([pair.replica.client, "--no-defaults", f"--socket={pair.replica.socket}", "-uroot",
                               "--batch", "--unbuffered", "--skip-column-names"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        locker.stdin.write("LOCK TABLES hc.t WRITE; SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == "locked"
        pair.primary.sql("INSERT INTO hc.t (note) VALUES ('lag')")
        wait_for(lambda: int(pair.replica.status().get("Seconds_Behind_Master") or 0) >= 3, timeout=20,
                 what="the replica to fall 3 s behind")
        assert pair.replica.status()["Slave_SQL_Running_State"] == "Waiting for table metadata lock"
        result = run_check("mysql-replication", "--defaults-file", replica, "--max-lag", "2")
        assert result.rc == 1
        behind = int(result.reason.split("replica is ")[1].split("s behind")[0])
        assert behind >= 3
        assert result.reason == f"keepalived-check mysql-replication: replica is {behind}s behind, limit is 2s"
        assert run_check("mysql-replication", "--defaults-file", replica, "--max-lag", "3600").rc == 0
        assert run_check("mysql-replication", "--defaults-file", replica).rc == 0  # no limit: threads run
    finally:
        locker.stdin.write("UNLOCK TABLES;\n")
        locker.stdin.close()
        locker.wait(timeout=30)
    wait_for(lambda: pair.replica.status().get("Seconds_Behind_Master") == "0", timeout=30, what="the replica to catch up")
    assert pair.replica.sql("SELECT COUNT(*) FROM hc.t WHERE note = 'lag'").stdout.split()[-1] != "0"
    assert run_check("mysql-replication", "--defaults-file", replica, "--max-lag", "2").rc == 0


def test_replication_check_user_needs_only_replica_monitor(mariadb_pair, tmp_path):
    grants = mariadb_pair.replica.sql("SHOW GRANTS FOR 'hccheck'@'127.0.0.1'").stdout
    assert "REPLICA MONITOR" in grants or "SLAVE MONITOR" in grants
    assert "ALL PRIVILEGES" not in grants and "SUPER" not in grants


# --- the decision, for MySQL and MariaDB column names -------------------------------------------

MARIADB = {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": "0",
           "Last_IO_Error": "", "Last_SQL_Error": ""}
MYSQL8 = {"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": "0",
          "Last_IO_Error": "", "Last_SQL_Error": ""}


@pytest.mark.parametrize("row, max_lag, reason", [
    (MARIADB, None, None),
    (MARIADB, 0, None),
    (MYSQL8, 10, None),
    ({**MARIADB, "Seconds_Behind_Master": "11"}, 10, "replica is 11s behind, limit is 10s"),
    ({**MYSQL8, "Seconds_Behind_Source": "11"}, 10, "replica is 11s behind, limit is 10s"),
    ({**MYSQL8, "Seconds_Behind_Source": "10"}, 10, None),
    ({**MARIADB, "Seconds_Behind_Master": "NULL"}, 10, "replication lag is unknown (NULL), limit is 10s"),
    ({**MARIADB, "Seconds_Behind_Master": "NULL"}, None, None),
    ({**MARIADB, "Slave_IO_Running": "Connecting"}, None, "IO thread is Connecting"),
    ({**MYSQL8, "Replica_IO_Running": "No", "Last_IO_Error": "error connecting to source 'repl@db1:3306'"}, None,
     "IO thread is not running (error connecting to source 'repl@db1:3306')"),
    ({**MARIADB, "Slave_SQL_Running": "No", "Slave_IO_Running": "No", "Last_SQL_Error": "Duplicate entry\n'1'"}, 5,
     "IO thread is not running; SQL thread is not running (Duplicate entry '1')"),
    ({}, None, "IO thread is not running; SQL thread is not running"),
])
def test_evaluate_replication(row, max_lag, reason):
    assert mysql.evaluate_replication(row, max_lag) == reason


def test_parse_batch():
    text = "Slave_IO_State\tSlave_IO_Running\tSeconds_Behind_Master\nWaiting\tYes\tNULL\n"
    assert mysql.parse_batch(text) == [{"Slave_IO_State": "Waiting", "Slave_IO_Running": "Yes", "Seconds_Behind_Master": "NULL"}]
    assert mysql.parse_batch("") == []


def test_replication_timing_is_reasonable(replica, run_cli):
    start = time.monotonic()
    assert run_cli("mysql-replication", "--defaults-file", replica).rc == 0
    assert time.monotonic() - start < 2
