"""Summarise the figures the fault suites recorded (tests/output/faults/metrics.jsonl).

    python summary.py METRICS OUTPUT_DIR

Prints the numbers the reliability issue asks for and writes them to OUTPUT_DIR/summary.md.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path


def main() -> int:
    metrics = Path(sys.argv[1])
    out = Path(sys.argv[2])
    rows = defaultdict(list)
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["metric"]].append(row)
    lines = ["# make faults: figures", ""]

    for row in rows["kill9_kills"]:
        lines.append(
            "- kill -9: %d kills survived on a %s MiB file (seed %s); file afterwards: %s; "
            "%d kills landed inside a write (temp file left behind, mode checked); one run takes %ss"
            % (row["value"], row["size_mib"], row["seed"], row["outcomes"], row["killed_inside_write"], row["run_seconds"])
        )
    for row in rows["concurrent_writers"]:
        lines.append(
            "- concurrency: %d writers at once x %d rounds = %d runs, no update lost (slowest run %ss)"
            % (row["value"], row["rounds"], row["total_runs"], row["slowest_run_seconds"])
        )
    for row in rows["lock_contention"]:
        lines.append("- lock held elsewhere, lock_timeout=%ss: failed after %ss (%s lock): %s" % (row["value"], row["seconds"], row["primitive"], row["msg"]))
    faults = sorted({r["value"] for r in rows["injected_fault"]})
    lines.append("- injected faults: %d, each failed cleanly with the original intact: %s" % (len(faults), "; ".join(faults)))
    for row in rows["symlink_plants"]:
        lines.append(
            "- planted symlinks at fixed names %s: not followed; %d random names created with O_EXCL"
            % (row["fixed_names"], row["random_names_checked_for_O_EXCL"])
        )
    rewrites = sorted({r["value"] for r in rows["client_rewrite_no_change"]})
    lines.append("- client rewrites with changed=false afterwards: %d (%s)" % (len(rewrites), "; ".join(rewrites)))
    bad = sorted({r["value"] for r in rows["bad_input"]})
    bad_role = sorted({r["value"] for r in rows["bad_role_var"]})
    lines.append("- bad inputs refused with nothing written: %d to the module, %d role variables of the wrong type" % (len(bad), len(bad_role)))
    hyp = sum(r["value"] for r in rows["hypothesis_examples"])
    lines.append("- hypothesis: %d generated examples over %d properties" % (hyp, len(rows["hypothesis_examples"])))
    log = out / "atheris.log"
    if log.exists():
        text = log.read_text(errors="replace")
        m = re.findall(r"Done (\d+) runs in (\d+) second", text)
        cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
        if m:
            lines.append(
                "- atheris: %s runs in %s s (last coverage: %s edges, %s features)"
                % (m[-1][0], m[-1][1], cov[-1][0] if cov else "?", cov[-1][1] if cov else "?")
            )
        else:
            lines.append("- atheris: no completed run found in %s" % log)
    checks = sum(r["value"] for r in rows["canary_checks"])
    hits = sum(r.get("hits", 0) for r in rows["canary_checks"])
    scen = sorted({r["scenario"] for r in rows["canary_checks"]})
    lines.append("- canary: %d places checked across %d scenarios (%s): %d hits" % (checks, len(scen), ", ".join(scen), hits))
    for row in rows["keychain"]:
        lines.append("- keychain: %s" % row["value"])
    perms = rows["permissions_umask"] + rows["permissions_tightened"] + rows["permissions_foreign_owner_refused"]
    lines.append("- permissions cases: %d" % len(perms))
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
