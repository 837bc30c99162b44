# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lanes for a session run by pytest-xdist (`bash tests/all.sh` runs `-n 2 --dist loadgroup`; FK_LANES=1 one lane).

The long tests spend much of their time waiting for keepalived's timers, so two of them run side by
side on the two cores (each then takes about 1.5 times as long, and a fresh-clone run about two thirds:
README "Where the time goes"). Each worker gets one lane (one `xdist_group`), and a lane runs its tests one
after another, so tests that must not overlap stay apart:

- a Molecule scenario's runs share its network and addresses: every lab of a scenario (its Debian
  releases) is in one lane;
- everything that is not a scenario or the benchmark (lint, unit, health checks, sanity, the lab check
  and invariant containers) is one group, as it was before lanes: its fixtures are per session and
  some start private services.

The groups are dealt to the lanes longest first, each to the lane with the least so far (MINUTES:
what a fresh-clone run on the 2-core lab machine measured for each, README "Where the time goes").
Without xdist the marks do nothing and the order is pytest's own.
"""

from __future__ import annotations

import os

import pytest

# Minutes each group takes in a fresh-clone CI run, one after another (each scenario once, on its CI lab);
# a scenario not listed counts as 5.
MINUTES = {
    "molecule-faults": 11,
    "molecule-default": 7,
    "benchmark": 5,
    "molecule-checks": 4.5,
    "local": 3.5,
    "molecule-fast": 3,
}
UNLISTED_MINUTES = 5


def group_of(item):
    """The group a test belongs to: its scenario's, the benchmark's or the local one."""
    if item.get_closest_marker("molecule"):
        return "molecule-%s" % item.callspec.params["scenario"]
    if item.path.name == "test_benchmark.py":
        return "benchmark"
    return "local"


def longest_first(groups):
    return sorted(groups, key=lambda name: (-MINUTES.get(name, UNLISTED_MINUTES), name))


def lanes_for(groups, count):
    """Deal the groups to `count` lanes, longest first, each to the lane with the fewest minutes so far."""
    load = [0] * count
    lane = {}
    for group in longest_first(groups):
        chosen = load.index(min(load))
        lane[group] = chosen
        load[chosen] += MINUTES.get(group, UNLISTED_MINUTES)
    return lane


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Set in each xdist worker, where the collection happens; a session without xdist has neither.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2 or not getattr(config.option, "loadgroup", False):
        return
    groups = {item: group_of(item) for item in items}
    lane = lanes_for(set(groups.values()), workers)
    for item in items:
        item.add_marker(pytest.mark.xdist_group("lane%d" % lane[groups[item]]))
    # Within a lane, the longest groups first; the local tests keep their order.
    rank = {group: index for index, group in enumerate(longest_first(lane))}
    items.sort(key=lambda item: rank[groups[item]])
