"""Draw benchmarks/bench.png from benchmarks/output/results.json (run by benchmarks/run.sh).

Left: run time (median of the interleaved rounds) against host count, one line per scenario,
solid for the largest fork count measured at each host count and dashed for forks 5. Middle: how
the cost grows, the controller CPU per host of the floor, laptop mode (byok) and fleet mode
(byok_users) idempotent at each local host count (results.json's "growth" rows). Right: the
idempotent run of laptop and fleet mode as a multiple of the floor of the same rounds, with the
daily-run targets of issue 22: 20 local hosts against the one-ping play (laptop 1.4x, fleet 1.5x),
and over SSH against the ping with become (fleet mode with pipelining 1.35x). Kept small: the PNG
is committed.
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
    fig, (ax, growth, bars) = plt.subplots(1, 3, figsize=(17.0, 4.6), dpi=90, gridspec_kw={"width_ratios": [1.2, 1, 1.1]})
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
    host_counts = sorted({c["hosts"] for c in configs})
    ax.set_xscale("log")
    ax.set_xticks(host_counts, [str(h) for h in host_counts])
    ax.minorticks_off()
    ax.set_xlabel("simulated hosts (connection local, one home each; log scale)")
    ax.set_ylabel("ansible-playbook wall time, s (median)")
    ax.set_title(f"run time vs host count ({results['rounds']} rounds, {results['machine']['cores']} cores)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    draw_growth(growth, results)
    draw_ratios(bars, results)
    fig.tight_layout()
    fig.savefig(target, dpi=90, pil_kwargs={"optimize": True})
    print(f"plot: wrote {target} ({target.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


def draw_growth(ax, results: dict) -> None:
    """Controller CPU per host against the host count, for the three growth scenarios."""
    rows = results.get("growth") or []
    drawn = False
    for key, label, color in LINES:
        points = [(r["hosts"], r["cpu_per_host"][key]) for r in rows if key in r.get("cpu_per_host", {})]
        if not points:
            continue
        drawn = True
        ax.plot([p[0] for p in points], [p[1] for p in points], "-", color=color, marker="o", markersize=3, linewidth=1.4, label=label)
        last = points[-1]
        ax.annotate(f"{last[1]:.3f}", last, textcoords="offset points", xytext=(4, 0), fontsize=6.5, va="center")
    if not drawn:
        ax.set_axis_off()
        return
    hosts = sorted({r["hosts"] for r in rows})
    ax.set_xscale("log")
    ax.set_xticks(hosts, [str(h) for h in hosts])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated hosts (connection local; log scale)")
    ax.set_ylabel("controller CPU s per host (median run / hosts)")
    forks = sorted({r["forks"] for r in rows})
    ax.set_title(f"how the cost grows: CPU per host, idempotent (forks {', '.join(map(str, forks))})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


def draw_ratios(ax, results: dict) -> None:
    """Idempotent laptop and fleet mode as a multiple of the floor, with issue 22's targets.

    Local hosts (the 20-host run, forks 5 when measured): against the one-ping play, pipelining
    off. SSH fleet: against the ping with become of the same pipelining setting, off and on.
    """
    groups = []  # (label, {series: (ratio, target or None)})
    local20 = [c for c in results["configs"] if c["kind"] == "local" and c["hosts"] == 20]
    local = next((c for c in local20 if c["forks"] == 5), local20[0] if local20 else None)
    if local is not None:
        s = local["summary"]
        values = {}
        for key, name, target in (("byok_idem", "laptop mode", 1.4), ("fleet_idem", "fleet mode (byok_users)", 1.5)):
            ratio = s.get(key, {}).get("ratio_floor")
            if ratio is not None:
                values[name] = (ratio, target)
        if values:
            groups.append((f"local {local['hosts']} hosts, forks {local['forks']}\nx one-ping play", values))
    for c in results["configs"]:
        if c["kind"] != "ssh":
            continue
        s = c["summary"]
        values = {}
        for key, name in (("byok_idem", "laptop mode"), ("fleet_idem", "fleet mode (byok_users)")):
            for pipe in ("", "+pipe"):
                ratio = s.get(key + pipe, {}).get("ratio_floor_become")
                if ratio is not None:
                    target = 1.35 if (key == "fleet_idem" and pipe) else None
                    values[name + (", pipelining" if pipe else "")] = (ratio, target)
        if values:
            groups.append((f"SSH {c['hosts']} hosts, sudo become\nx ping with become", values))
    if not groups:
        ax.set_axis_off()
        return
    series = sorted({k for _l, v in groups for k in v}, key=lambda k: ("fleet" in k, "pipelining" in k))
    colors = {
        "laptop mode": "tab:cyan",
        "laptop mode, pipelining": "tab:blue",
        "fleet mode (byok_users)": "plum",
        "fleet mode (byok_users), pipelining": "tab:purple",
    }
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        for g, (_label, values) in enumerate(groups):
            if name not in values:
                continue
            x = g + (i - (len(series) - 1) / 2) * width
            ratio, target = values[name]
            ax.bar(x, ratio, width * 0.95, color=colors.get(name), label=name if name not in ax.get_legend_handles_labels()[1] else None)
            ax.text(x, ratio + 0.03, f"{ratio:.2f}", ha="center", fontsize=6.5)
            if target is not None:
                ax.hlines(target, x - width / 2, x + width / 2, colors="red", linestyles="--", linewidth=1.2)
                ax.text(x, target - 0.03, f"target {target}x", color="red", fontsize=6, ha="center", va="top")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label for label, _v in groups], fontsize=8)
    top = max(r for _l, v in groups for r, _t in v.values())
    ax.set_ylim(0, max(top, 1.5) * 1.45)  # room for the legend above the bars
    ax.set_ylabel("idempotent run / floor (x), wall time")
    ax.set_title("laptop vs fleet mode against the floor; red: issue 22's targets", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)


if __name__ == "__main__":
    sys.exit(main())
