# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of benchmarks/harness.py's report: the per-host CPU table (how the cost grows) and
issue 22's target lines, from made-up rounds put through the harness's own summary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
if not (BENCHMARKS / "harness.py").is_file():  # pragma: no cover  (a collection built without benchmarks/)
    pytest.skip("benchmarks/ is not in this copy", allow_module_level=True)
sys.path.insert(0, str(BENCHMARKS))
import harness  # noqa: E402  (benchmarks/ is not a package)


def config(kind: str, hosts: int, forks: int, times: dict, cpu: dict, rounds: int = 2) -> dict:
    c = {"kind": kind, "hosts": hosts, "forks": forks, "rounds": rounds, "times": times, "cpu": cpu, "changed": {}, "anomalies": []}
    c["summary"] = harness.summarize(c)
    return c


def results(configs: list) -> dict:
    machine = {k: "x" for k in ("date", "cpu", "cores", "memory", "os", "kernel", "python", "ansible_core", "ansible", "containers_podman", "podman")}
    machine["loadavg_start"] = "0 0 0"
    return {"machine": machine, "rounds": 3, "large_rounds": 2, "slow_max_hosts": 20, "desired_source": "test", "configs": configs, "elapsed_s": 60}


def measured_results() -> dict:
    # Two rounds each; CPU in seconds for the whole run. 20 hosts twice: forks 5 (the issue's
    # configuration, which the growth table and the targets use) and forks 20.
    local1 = config(
        "local",
        1,
        5,
        {"floor": [1, 1], "byok_idem": [1.2, 1.2], "fleet_idem": [1.3, 1.3]},
        {"floor": [0.7, 0.7], "byok_idem": [0.9, 0.9], "fleet_idem": [1.0, 1.0]},
    )
    local20 = config(
        "local",
        20,
        5,
        {"floor": [2, 2], "byok_idem": [2.6, 2.8], "fleet_idem": [3.2, 3.2]},
        {"floor": [5, 5], "byok_idem": [7, 7], "fleet_idem": [8, 8]},
    )
    local20f20 = config(
        "local", 20, 20, {"floor": [2, 2], "byok_idem": [2, 2], "fleet_idem": [2, 2]}, {"floor": [9, 9], "byok_idem": [9, 9], "fleet_idem": [9, 9]}
    )
    local200 = config(
        "local", 200, 5, {"floor": [20, 20], "byok_idem": [30, 30], "fleet_idem": [34, 34]}, {"floor": [40, 40], "byok_idem": [60, 60], "fleet_idem": [70, 70]}
    )
    pipe = harness.PIPE
    ssh = config(
        "ssh",
        6,
        6,
        {
            "floor": [1, 1],
            "floor_become": [1.2, 1.2],
            "byok_idem": [1.5, 1.5],
            "fleet_idem": [1.8, 1.8],
            "floor" + pipe: [1, 1],
            "floor_become" + pipe: [1.0, 1.0],
            "byok_idem" + pipe: [1.2, 1.2],
            "fleet_idem" + pipe: [1.4, 1.4],
        },
        {"floor": [1, 1], "floor_become": [1, 1], "fleet_idem": [2, 2], "floor_become" + pipe: [1, 1], "fleet_idem" + pipe: [1.5, 1.5]},
    )
    return results([local1, local20, local20f20, local200, ssh])


@pytest.fixture
def measured() -> dict:
    return measured_results()


def test_growth_rows_give_cpu_per_host_at_each_host_count(measured):
    rows = harness.growth_rows(measured)
    assert [(r["hosts"], r["forks"], r["rounds"]) for r in rows] == [(1, 5, 2), (20, 5, 2), (200, 5, 2)]
    by = {r["hosts"]: r for r in rows}
    assert by[20]["cpu_per_host"] == pytest.approx({"floor": 0.25, "byok_idem": 0.35, "fleet_idem": 0.4})
    assert by[200]["cpu_per_host"] == pytest.approx({"floor": 0.2, "byok_idem": 0.3, "fleet_idem": 0.35})
    assert by[200]["cpu_ratio_floor"] == pytest.approx({"byok_idem": 1.5, "fleet_idem": 1.75})
    assert by[1]["wall_per_host"]["fleet_idem"] == pytest.approx(1.3)


def test_report_has_the_per_host_cpu_table(measured):
    text = harness.render(measured)
    section = text.split("## How the cost grows", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert lines == [
        "| 1 | 5 | 2 | 0.700 | 0.900 | 1.000 | 1.29x | 1.43x | 1.000 / 1.200 / 1.300 |",
        "| 20 | 5 | 2 | 0.250 | 0.350 | 0.400 | 1.40x | 1.60x | 0.100 / 0.135 / 0.160 |",
        "| 200 | 5 | 2 | 0.200 | 0.300 | 0.350 | 1.50x | 1.75x | 0.100 / 0.150 / 0.170 |",
    ]


def test_issue_22_targets_are_judged(measured):
    rows = {name: (value, verdict) for name, value, verdict in harness.targets(measured)}
    laptop = rows["issue 22: laptop mode (byok) idempotent <= 1.4x the one-ping play (20 local hosts, forks 5)"]
    fleet = rows["issue 22: fleet mode (byok_users) idempotent <= 1.5x the one-ping play (20 local hosts, forks 5)"]
    ssh = rows["issue 22: fleet mode (byok_users) idempotent, pipelining on, <= 1.35x the ping with become, pipelining on (6 SSH hosts, sudo become)"]
    assert laptop == ("1.35x (CPU 1.40x)", "met")
    assert fleet == ("1.60x (CPU 1.60x)", "NOT met")
    assert ssh == ("1.40x (CPU 1.50x)", "NOT met")
    # The forks-20 run is shown, not judged.
    assert rows["issue 22: laptop mode (byok) idempotent <= 1.4x the one-ping play (20 local hosts, forks 20); for information"][1] == "-"


def test_targets_say_when_the_ssh_fleet_was_not_measured(measured):
    measured["configs"] = [c for c in measured["configs"] if c["kind"] != "ssh"]
    measured["ssh_skipped"] = "BENCH_SSH_HOSTS=0"
    rows = {name: (value, verdict) for name, value, verdict in harness.targets(measured)}
    assert rows["issue 22: fleet mode (byok_users) idempotent over SSH, pipelining on, <= 1.35x the ping with become"] == ("not measured", "BENCH_SSH_HOSTS=0")
