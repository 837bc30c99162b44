# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mysql and mysql-replication: a MySQL/MariaDB server answers, through the client programs.

The client (mariadb, else mysql) handles every authentication plugin, TLS and socket setting; the
password stays in the client option file and never appears on a command line.
"""

from ..core import Unhealthy, find_program, last_line, one_line, os_error_text, run_command

# The options both checks take.
CLIENT_OPTIONS = [
    {"name": "defaults_file", "type": "str", "required": True, "format": "path",
     "help": "client option file with a [client] section"},
    {"name": "client", "type": "str", "help": "client program (default: mariadb, else mysql)"},
]

CHECKS = [
    {
        "name": "mysql",
        "help": "a MySQL/MariaDB server answers a query",
        "options": CLIENT_OPTIONS,
    },
    {
        "name": "mysql-replication",
        "help": "both replication threads run and the lag is within the limit",
        "options": CLIENT_OPTIONS + [
            {"name": "max_lag", "type": "float", "min": 0, "max": 86400, "metavar": "SECONDS",
             "help": "largest acceptable lag in seconds; NULL lag fails"},
        ],
    },
]


def mysql_client(opts):
    if opts.client:
        found = find_program(opts.client)
        if found is None:
            raise Unhealthy(f"client program {opts.client} not found")
        return found
    for name in ("mariadb", "mysql"):
        found = find_program(name)
        if found:
            return found
    raise Unhealthy("neither mariadb nor mysql client program found")


def mysql_query(opts, budget, sql):
    """Run sql with the client; the password stays in the option file, never in argv.

    Returns (ok, stdout, error line).
    """
    try:
        with open(opts.defaults_file, "rb"):
            pass
    except OSError as exc:
        raise Unhealthy(f"cannot read option file {opts.defaults_file}: {os_error_text(exc)}") from None
    connect_timeout = max(1, int(budget.remaining("mysql") + 0.999))
    argv = [
        mysql_client(opts),
        f"--defaults-extra-file={opts.defaults_file}",
        "--batch",
        "--no-auto-rehash",
        f"--connect-timeout={connect_timeout}",
        "--execute",
        sql,
    ]
    rc, out, err = run_command(argv, budget, "mysql client")
    return rc == 0, out, last_line(err) or f"client exit status {rc}"


def check_mysql(opts, budget):
    ok, out, error = mysql_query(opts, budget, "SELECT 1")
    if not ok:
        raise Unhealthy(f"server does not answer: {error}")
    if out.split() != ["1", "1"]:
        raise Unhealthy(f"unexpected answer to SELECT 1: {one_line(out, 80)!r}")


def parse_batch(text):
    """Parse the client's --batch output (tab separated, header line first) into dicts."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


REPLICATION_FIELDS = {
    "io": ("Replica_IO_Running", "Slave_IO_Running"),
    "sql": ("Replica_SQL_Running", "Slave_SQL_Running"),
    "lag": ("Seconds_Behind_Source", "Seconds_Behind_Master"),
    "io_error": ("Last_IO_Error",),
    "sql_error": ("Last_SQL_Error",),
}


def replication_value(row, key):
    for name in REPLICATION_FIELDS[key]:
        if name in row:
            return row[name]
    return None


def evaluate_replication(row, max_lag=None):
    """Return None when the replica row is healthy, else the reason (pure function)."""
    problems = []
    for key, label in (("io", "IO"), ("sql", "SQL")):
        value = replication_value(row, key)
        if value != "Yes":
            problem = f"{label} thread is {'not running' if value in (None, 'No') else value}"
            error = replication_value(row, f"{key}_error")
            if error and error != "NULL":
                problem += f" ({one_line(error, 160)})"
            problems.append(problem)
    if problems:
        return "; ".join(problems)
    if max_lag is None:
        return None
    lag = replication_value(row, "lag")
    if lag in (None, "", "NULL"):
        return f"replication lag is unknown (NULL), limit is {max_lag:g}s"
    try:
        seconds = float(lag)
    except ValueError:
        return f"replication lag {lag!r} is not a number"
    if seconds > max_lag:
        return f"replica is {seconds:g}s behind, limit is {max_lag:g}s"
    return None


def check_mysql_replication(opts, budget):
    ok, out, error = mysql_query(opts, budget, "SHOW REPLICA STATUS")
    if not ok and ("1064" in error or "syntax" in error.lower()):
        # MySQL before 8.0.22 and MariaDB before 10.5.1 only know the older statement.
        ok, out, error = mysql_query(opts, budget, "SHOW SLAVE STATUS")
    if not ok:
        raise Unhealthy(f"cannot read replica status: {error}")
    rows = parse_batch(out)
    if not rows:
        raise Unhealthy("server is not a replica (replica status is empty)")
    reason = evaluate_replication(rows[0], opts.max_lag)
    if reason:
        raise Unhealthy(reason)
