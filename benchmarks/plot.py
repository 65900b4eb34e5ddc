"""Draw benchmarks/bench.png from benchmarks/output/results.json (run by benchmarks/run.sh).

Run time (median of the interleaved rounds) against host count, one line per scenario, solid for
the largest fork count measured at each host count and dashed for forks 5. Kept small: the PNG is
committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

HERE = Path(__file__).resolve().parent
LINES = [
    ("floor", "floor: ping", "black"),
    ("byok_first", "byok first converge", "tab:blue"),
    ("byok_idem", "byok idempotent", "tab:cyan"),
    ("fleet_idem", "byok_users idempotent", "tab:purple"),
    ("template_first", "template overwrite", "tab:orange"),
    ("chain_first", "file+slurp+combine+copy first", "tab:red"),
    ("chain_idem", "file+slurp+combine+copy rerun", "tab:pink"),
]


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "output" / "results.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "bench.png"
    results = json.loads(source.read_text())
    configs = [c for c in results["configs"] if c["kind"] == "local"]
    if not configs:
        print("plot: no local-host configurations measured; no plot drawn", file=sys.stderr)
        return 0
    fork_counts = sorted({c["forks"] for c in configs})
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=90)
    for key, label, color in LINES:
        for forks in fork_counts:
            points = sorted((c["hosts"], c["summary"][key]["median"]) for c in configs
                            if c["forks"] == forks and key in c["summary"])
            # A single host does not depend on forks: draw it on every fork line.
            single = [(c["hosts"], c["summary"][key]["median"]) for c in configs
                      if c["hosts"] == 1 and key in c["summary"] and c["forks"] != forks]
            points = sorted(set(points) | set(single))
            if len(points) < 2:
                continue
            style = "-" if forks == fork_counts[-1] else "--"
            ax.plot([p[0] for p in points], [p[1] for p in points], style, color=color, marker="o",
                    markersize=3, linewidth=1.4,
                    label=f"{label} (forks {forks})" if len(fork_counts) > 1 else label)
    ax.set_xlabel("simulated hosts (connection local, one home each)")
    ax.set_ylabel("ansible-playbook wall time, s (median)")
    ax.set_title(f"llmcloud.factory_droid: run time vs host count ({results['rounds']} rounds, "
                 f"{results['machine']['cores']} cores)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(target, dpi=90, pil_kwargs={"optimize": True})
    print(f"plot: wrote {target} ({target.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
