"""Write the README's benchmark tables from benchmarks/results/latest.json.

The figures are the benchmark's own (benchmarks/run.sh writes latest.json); the README quotes them
between `<!-- benchmark:NAME -->` and `<!-- /benchmark:NAME -->` markers, so that its tables always
say what the last full run measured, with the machine and the date.

    python3 tools/benchmark_tables.py           rewrite the tables in README.md
    python3 tools/benchmark_tables.py --check   exit 1 if they differ from latest.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
RESULTS = TOP / "benchmarks" / "results" / "latest.json"
README = TOP / "README.md"
# The failover pairs, in the README's column order, with their headings.
PROFILES = (("classic", "classic (default)"), ("fast", "fast (opt-in)"), ("fast-0.04", "fast, advert 0.04 s"),
            ("fast-0.02x6", "fast, advert 0.02 s x 6"))
NONE = "-"


def _pair(figure):
    return f"{figure['median_s']:.3f} / {figure['worst_s']:.3f} s" if figure else NONE


def _get(data, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _gap(figure):
    if not figure:
        return NONE
    return f"{figure['unheld_max_s'] * 1000:.1f} / {figure['two_holders_max_s'] * 1000:.1f} ms"


def _steady(facts):
    if not facts:
        return NONE
    return f"{facts['false_moves'] + facts['node1_lost']} in {facts['seconds'] / 60:g} min"


def _ms(per_minute):
    """One run's CPU in milliseconds from CPU seconds per minute at one run a second."""
    return f"{per_minute / 60 * 1000:.1f} ms"


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def machine_line(results):
    info = results["machine"]
    load = " ".join(str(v) for v in info.get("load_average_start", []))
    return (f"Measured {info['date']} on {info['cores']} x {info['cpu']}, {info['memory_gib']} GiB, "
            f"{info['distribution']}, keepalived {info['keepalived']}, collection commit {info['commit']} "
            f"(load average at the start {load}).")


def failover_table(results):
    pairs = results.get("failover", {})
    heads = [head for key, head in PROFILES if key in pairs]
    keys = [key for key, _head in PROFILES if key in pairs]
    lines = [machine_line(results), "", _row(["figure"] + heads), "|---" * (len(heads) + 1) + "|"]
    rows = [
        ("down file created: VIP on the backup, median / worst", lambda f: _pair(_get(f, "faults", "down file", "failover"))),
        ("... longest time with no holder / with two holders",
         lambda f: _gap(_get(f, "faults", "down file", "gap_failover"))),
        ("... a client in a third container answered by it",
         lambda f: _pair(_get(f, "faults", "down file", "served_failover"))),
        ("down file removed: VIP back, median / worst", lambda f: _pair(_get(f, "faults", "down file", "failback"))),
        ("HTTP service stopped: VIP on the backup, median / worst",
         lambda f: _pair(_get(f, "faults", "web stopped", "failover"))),
        ("... a client in a third container answered by it",
         lambda f: _pair(_get(f, "faults", "web stopped", "served_failover"))),
        ("HTTP service started: VIP back, median / worst", lambda f: _pair(_get(f, "faults", "web stopped", "failback"))),
        ("keepalived frozen on the master (no goodbye advert): VIP on the backup",
         lambda f: _pair(_get(f, "frozen", "failover"))),
        ("false moves with no fault, both cores saturated", lambda f: _steady(_get(f, "steady", "cpu"))),
        ("false moves with no fault, 5 % of VRRP packets dropped", lambda f: _steady(_get(f, "steady", "loss"))),
    ]
    for label, cell in rows:
        lines.append(_row([label] + [cell(pairs[key]) for key in keys]))
    cpu = {item["checks"]: item for item in results.get("cpu", [])}
    if 1 in cpu:
        lines.append(_row(["CPU of one check run, forked by keepalived (shell one-liner; python3 -I -S running nothing)",
                           f"{_ms(cpu[1]['forked_1s'])} ({_ms(cpu[1]['shell_1s'])}; "
                           f"{_ms(cpu[1]['python_1s'])})"]
                          + [NONE] * (len(keys) - 1)))
    for count in sorted(cpu):
        item = cpu[count]
        checks = f"{count} check{'s' if count > 1 else ''}"
        lines.append(_row([f"CPU per host per minute, {checks} every 1 s",
                           f"{item['forked_1s']:.3f} s forked (shell one-liner{'s' if count > 1 else ''}: "
                           f"{item['shell_1s']:.3f} s)"] + [f"{item['runner_1s']:.3f} s in the runner"] * (len(keys) - 1)))
    return lines


def converge_table(results):
    sizes = results.get("converge", [])
    lines = [_row(["nodes", "`site.yml` first run", "unchanged re-run", "... over SSH, become, pipelining",
                   "... its CPU: controller / all"]),
             "|---|---|---|---|---|"]
    for item in sizes:
        ssh = f"{item['rerun_ssh_s']:.1f} s" if "rerun_ssh_s" in item else NONE
        cpu = item.get("rerun_ssh_cpu")
        used = (f"{cpu['controller_s']:.1f} / {cpu['all_s']:.1f} s ({cpu['cores_busy']:.2f} cores busy)"
                if cpu else NONE)
        lines.append(_row([str(item["nodes"]), f"{item['first_s']:.1f} s", f"{item['rerun_s']:.1f} s", ssh, used]))
    by_nodes = {item["nodes"]: item for item in sizes}
    if 2 in by_nodes and len(by_nodes) > 1:
        top = max(by_nodes)
        lines += ["", f"The unchanged re-run grows {by_nodes[top]['rerun_s'] / by_nodes[2]['rerun_s']:.2f} x from 2 to "
                      f"{top} nodes (forks = nodes)."]
        if by_nodes[top].get("rerun_ssh_cpu") and by_nodes[2].get("rerun_ssh_cpu"):
            lines[-1] += (f" Over SSH the CPU it takes (controller and nodes, on the same cores) grows "
                          f"{by_nodes[top]['rerun_ssh_cpu']['all_s'] / by_nodes[2]['rerun_ssh_cpu']['all_s']:.2f} x.")
    return lines


TABLES = {"failover": failover_table, "converge": converge_table}


def render(text, results):
    """TEXT with every marked table replaced by the one rendered from RESULTS; raises on a missing marker."""
    for name, make in TABLES.items():
        pattern = re.compile(r"(<!-- benchmark:%s -->\n).*?(<!-- /benchmark:%s -->)" % (name, name), re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- benchmark:{name} --> ... <!-- /benchmark:{name} --> block")
        body = "\n".join(make(results))
        text = pattern.sub(lambda match, body=body: match.group(1) + body + "\n" + match.group(2), text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's tables are out of date")
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = README.read_text(encoding="utf-8")
    try:
        wanted = render(text, results)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        if wanted != text:
            print("README.md's benchmark tables differ from benchmarks/results/latest.json: "
                  "run python3 tools/benchmark_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
