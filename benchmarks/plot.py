"""Draw benchmarks/bench.png from benchmarks/output/results.json (run by benchmarks/run.sh).

Left: run time (median of the interleaved rounds) against host count, one line per scenario,
solid for the largest fork count measured at each host count and dashed for forks 5. Right: the
idempotent run of laptop mode (byok) and fleet mode (byok_users) as a multiple of the one-ping
floor of the same rounds, per transport (local hosts, SSH fleet), pipelining off and on, with the
targets of issue 13 (1.3x local, 1.15x over SSH). Kept small: the PNG is committed.
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
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(12.0, 4.4), dpi=90, gridspec_kw={"width_ratios": [1.25, 1]})
    for key, label, color in LINES:
        for forks in fork_counts:
            points = sorted((c["hosts"], c["summary"][key]["median"]) for c in configs if c["forks"] == forks and key in c["summary"])
            # A single host does not depend on forks: draw it on every fork line.
            single = [(c["hosts"], c["summary"][key]["median"]) for c in configs if c["hosts"] == 1 and key in c["summary"] and c["forks"] != forks]
            points = sorted(set(points) | set(single))
            if len(points) < 2:
                continue
            style = "-" if forks == fork_counts[-1] else "--"
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                color=color,
                marker="o",
                markersize=3,
                linewidth=1.4,
                label=f"{label} (forks {forks})" if len(fork_counts) > 1 else label,
            )
    ax.set_xlabel("simulated hosts (connection local, one home each)")
    ax.set_ylabel("ansible-playbook wall time, s (median)")
    ax.set_title(f"llmcloud.factory_droid: run time vs host count ({results['rounds']} rounds, {results['machine']['cores']} cores)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    draw_ratios(bars, results)
    fig.tight_layout()
    fig.savefig(target, dpi=90, pil_kwargs={"optimize": True})
    print(f"plot: wrote {target} ({target.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


def draw_ratios(ax, results: dict) -> None:
    """Idempotent laptop and fleet mode as a multiple of the floor, per transport and pipelining."""
    groups = []  # (label, target, {series: ratio})
    for c in results["configs"]:
        if c["kind"] == "local" and c["hosts"] >= 20 and c["hosts"] == min(x["hosts"] for x in results["configs"] if x["kind"] == "local" and x["hosts"] >= 20):
            label, target = f"local {c['hosts']} hosts\nforks {c['forks']}", 1.3
        elif c["kind"] == "ssh":
            label, target = f"SSH {c['hosts']} hosts\nsudo become", 1.15
        else:
            continue
        s = c["summary"]
        values = {}
        for key, name in (("byok_idem", "laptop mode"), ("fleet_idem", "fleet mode (byok_users)")):
            for pipe in ("", "+pipe"):
                ratio = s.get(key + pipe, {}).get("ratio_floor")
                if ratio is not None:
                    values[name + (", pipelining" if pipe else "")] = ratio
        if values:
            groups.append((label, target, values))
    if not groups:
        ax.set_axis_off()
        return
    series = sorted({k for _l, _t, v in groups for k in v}, key=lambda k: ("fleet" in k, "pipelining" in k))
    colors = {
        "laptop mode": "tab:cyan",
        "laptop mode, pipelining": "tab:blue",
        "fleet mode (byok_users)": "plum",
        "fleet mode (byok_users), pipelining": "tab:purple",
    }
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [v.get(name, 0) for _l, _t, v in groups]
        ax.bar(xs, ys, width * 0.95, label=name, color=colors.get(name))
        for x, y in zip(xs, ys):
            if y:
                ax.text(x, y + 0.03, f"{y:.2f}", ha="center", fontsize=6.5)
    for g, (_label, target, _v) in enumerate(groups):
        ax.hlines(target, g - 0.45, g + 0.45, colors="red", linestyles="--", linewidth=1)
        ax.text(g + 0.45, target, f" target {target}x", color="red", fontsize=6.5, va="bottom", ha="right")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label for label, _t, _v in groups], fontsize=8)
    top = max(max(v.values()) for _l, _t, v in groups)
    ax.set_ylim(0, max(top, 1.3) * 1.45)  # room for the legend above the bars
    ax.set_ylabel("idempotent run / ping floor (x)")
    ax.set_title("laptop vs fleet mode, pipelining off/on", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)


if __name__ == "__main__":
    sys.exit(main())
