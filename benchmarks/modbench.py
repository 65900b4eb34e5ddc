"""The json_merge module alone, on JSONC settings files of 1 KiB to 10 MiB.

Each measurement is a fresh child process, as on a target: it imports the module, loads the
arguments the way Ansible hands them over, then runs the module's main() once. "Own work" is the
time of main() alone (argument parsing, read, parse, merge, compare, write, result), without the
interpreter start and imports that every module pays. Peak memory is the child's maximum resident
set size (os.wait4), shown beside a baseline child that imports the module without running it, and
the tracemalloc peak of main() from a separate traced run.

Used by harness.py; `python3 benchmarks/modbench.py child ...` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SIZES = [("1 KiB", 1024), ("100 KiB", 100 * 1024), ("1 MiB", 1024 * 1024), ("10 MiB", 10 * 1024 * 1024)]
LLMCLOUD = "https://llmcloud.studio"
# LLMCloud's catalog, the eight models of its integration guide (the default of byok_catalog in
# roles/byok/meta/argument_specs.yml): (model id, display name, family).
CATALOG = [
    ("anthropic/claude-opus-4.6", "Claude Opus 4.6", "anthropic"),
    ("anthropic/claude-opus-4.5-thinking", "Claude Opus 4.5 Thinking", "anthropic"),
    ("anthropic/claude-sonnet-4.6", "Claude Sonnet 4.6", "anthropic"),
    ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", "anthropic"),
    ("anthropic/claude-sonnet-4.5-thinking", "Claude Sonnet 4.5 Thinking", "anthropic"),
    ("anthropic/claude-haiku-4.5", "Claude Haiku 4.5", "anthropic"),
    ("google/gemini-3-flash-preview", "Gemini 3 Flash Preview", "openai"),
    ("google/gemini-3-pro-preview", "Gemini 3 Pro Preview", "openai"),
]


def desired_document(api_key: str) -> dict:
    """What the role merges: the eight LLMCloud models as the client loads them."""
    models = []
    for model, name, family in CATALOG:
        models.append(
            {
                "model": model,
                "displayName": name,
                "baseUrl": LLMCLOUD if family == "anthropic" else LLMCLOUD + "/v1",
                "apiKey": api_key,
                "provider": family,
            }
        )
    return {"customModels": models}


def module_args(path: Path, api_key: str) -> dict:
    return {
        "path": str(path),
        "value": desired_document(api_key),
        "keyed_lists": {"/customModels": ["model", "baseUrl"]},
        "prune": {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?$"}},
        "mode": "0600",
    }


def make_jsonc(size: int) -> str:
    """A developer's settings.json of about `size` bytes: comments, own models, project history."""
    head = [
        "// Factory Droid settings (benchmark fixture: JSONC with line and block comments)",
        "{",
        "  // my defaults",
        '  "model": "claude-sonnet-4-5-20250929",',
        '  "reasoningEffort": "medium", /* low | medium | high */',
        '  "customModels": [',
        "    // a local model I run with ollama",
        '    {"model": "qwen2.5-coder:7b", "displayName": "Local Qwen",'
        ' "baseUrl": "http://127.0.0.1:11434/v1", "apiKey": "not-needed",'
        ' "provider": "generic-chat-completion-api", "maxOutputTokens": 8192}',
        "  ],",
        "  /* history the client keeps; this is what makes real files large */",
        '  "projects": {',
    ]
    tail = ["  }", "}", ""]
    body: list[str] = []
    length = sum(len(line) + 1 for line in head + tail)
    i = 0
    while length < size or i == 0:
        entry = (
            f"    // project {i}\n"
            f'    "proj-{i:06d}": {{"path": "/home/dev/src/service-{i:06d}", '
            f'"lastOpened": "2025-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", "pinned": {str(i % 7 == 0).lower()}, '
            f'"tags": ["go", "api", "team-{i % 13}"], "stats": {{"sessions": {i}, "tokens": {i * 1379}, '
            f'"cost": {i * 0.0137:.4f}, "lastModel": null}}, '
            f'"note": "unicode \\u00e9 and escapes \\" \\\\ kept"}}'
        )
        body.append(entry)
        length += len(entry) + 2
        i += 1
    return "\n".join(head) + "\n" + ",\n".join(body) + "\n" + "\n".join(tail)


# --------------------------------------------------------------------------- child process
def child(argv: list[str]) -> int:
    args_file, result_file, mode = argv[0], argv[1], argv[2]
    from ansible.module_utils import basic

    basic._ANSIBLE_ARGS = Path(args_file).read_bytes()
    basic._ANSIBLE_PROFILE = "legacy"
    from ansible_collections.llmcloud.factory_droid.plugins.modules import json_merge

    result = {"work_s": 0.0, "cpu_s": 0.0, "traced_peak": 0}
    if mode != "noop":
        if mode == "trace":
            import tracemalloc

            tracemalloc.start()
        profiler = None
        if mode == "profile":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            json_merge.main()
        except SystemExit:
            pass
        result["work_s"] = time.perf_counter() - start
        result["cpu_s"] = time.process_time() - cpu_start
        if profiler is not None:
            import io
            import pstats

            profiler.disable()
            buffer = io.StringIO()
            stats = pstats.Stats(profiler, stream=buffer)
            stats.sort_stats("cumulative").print_stats(r"factory_droid|json|\bre\b|posix", 18)
            result["profile"] = _shorten(buffer.getvalue())
        if mode == "trace":
            import tracemalloc

            result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    Path(result_file).write_text(json.dumps(result))
    return 0


def _shorten(text: str) -> str:
    """pstats output without the header and with paths cut to the collection or library name."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            lines = lines[i:]
            break
    out = []
    for line in lines:
        line = re.sub(r"\S*/ansible_collections/llmcloud/factory_droid/", "", line)
        line = re.sub(r"\S*/lib/python3[.0-9]*/", "", line)
        if line.strip():
            out.append(line.rstrip())
    return "\n".join(out)


def spawn(repo: Path, workdir: Path, args: dict, mode: str) -> dict:
    """One child run: returns own work, wall time, peak RSS and the module's result."""
    args_file = workdir / "args.json"
    result_file = workdir / "result.json"
    out_file = workdir / "stdout.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    result_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "build" / "collections"), env.get("PYTHONPATH", "")])
    with open(out_file, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "child", str(args_file), str(result_file), mode],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_file.read_text(errors="replace")
    if proc.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"module child failed (rc={proc.returncode}): {text[-2000:]}")
    measured = json.loads(result_file.read_text())
    module_result = {}
    if mode != "noop":
        try:
            module_result = json.loads(text[text.index("{") :])
        except ValueError as exc:
            raise RuntimeError(f"module printed no JSON result: {text[-2000:]}") from exc
        if module_result.get("failed"):
            raise RuntimeError(f"module failed: {module_result.get('msg')}")
    return {
        "work_s": measured["work_s"],
        "cpu_s": measured["cpu_s"],
        "wall_s": wall,
        "maxrss_kib": usage.ru_maxrss,
        "traced_peak": measured["traced_peak"],
        "changed": module_result.get("changed"),
        "profile": measured.get("profile", ""),
    }


def run(repo: Path, workdir: Path, repeats: int, log) -> dict:
    if not (repo / "plugins" / "modules" / "json_merge.py").is_file():
        return {"skipped": "plugins/modules/json_merge.py is not written yet"}
    repeats = max(1, repeats)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    key = "llmcloud-bench-not-a-real-key"
    pristine: dict[str, Path] = {}
    merged: dict[str, Path] = {}
    for label, size in SIZES:
        slug = label.replace(" ", "")
        pristine[label] = workdir / f"pristine-{slug}.json"
        pristine[label].write_text(make_jsonc(size))
        merged[label] = workdir / f"merged-{slug}.json"
        shutil.copyfile(pristine[label], merged[label])
        first = spawn(repo, workdir, module_args(merged[label], key), "time")
        if first["changed"] is not True:
            raise RuntimeError(f"the first merge into the {label} file reported changed={first['changed']}")
        check_merge(pristine[label], merged[label], label)
    samples: dict[tuple[str, str], list[dict]] = {}
    target = workdir / "settings.json"
    for rep in range(repeats):
        for label, _size in SIZES:
            for case in ("merge", "rerun"):
                shutil.copyfile(pristine[label] if case == "merge" else merged[label], target)
                os.chmod(target, 0o600)
                sample = spawn(repo, workdir, module_args(target, key), "time")
                expected = case == "merge"
                if sample["changed"] is not expected:
                    raise RuntimeError(f"{case} on {label} reported changed={sample['changed']}")
                samples.setdefault((label, case), []).append(sample)
        log(f"module alone: repetition {rep + 1}/{repeats} done")
    baseline = [spawn(repo, workdir, module_args(target, key), "noop") for _rep in range(repeats)]
    rows = []
    for label, _size in SIZES:
        for case in ("merge", "rerun"):
            shutil.copyfile(pristine[label] if case == "merge" else merged[label], target)
            traced = spawn(repo, workdir, module_args(target, key), "trace")
            runs = samples[(label, case)]
            rows.append(
                {
                    "size_label": label,
                    "bytes": pristine[label].stat().st_size if case == "merge" else merged[label].stat().st_size,
                    "case": case,
                    "work_ms": statistics.median(r["cpu_s"] for r in runs) * 1000,
                    "work_ms_all": [r["cpu_s"] * 1000 for r in runs],
                    "work_wall_ms": statistics.median(r["work_s"] for r in runs) * 1000,
                    "wall_ms": statistics.median(r["wall_s"] for r in runs) * 1000,
                    "maxrss_mib": max(r["maxrss_kib"] for r in runs) / 1024,
                    "traced_peak_mib": traced["traced_peak"] / 1024 / 1024,
                    "changed": runs[0]["changed"],
                }
            )
    # Where the time goes: cProfile of one merge into the 1 MiB file (profiling slows it down).
    shutil.copyfile(pristine["1 MiB"], target)
    profile = spawn(repo, workdir, module_args(target, key), "profile")["profile"]
    return {
        "repeats": repeats,
        "profile_1mib": profile,
        "rows": rows,
        "baseline_maxrss_mib": max(b["maxrss_kib"] for b in baseline) / 1024,
        "baseline_wall_ms": statistics.median(b["wall_s"] for b in baseline) * 1000,
    }


def check_merge(before: Path, after: Path, label: str) -> None:
    """The merge kept the developer's comments and model and added the eight LLMCloud models."""
    text = after.read_text()
    for needle in ("// project 0", "/* low | medium | high */", '"Local Qwen"'):
        if needle not in text:
            raise RuntimeError(f"merging into the {label} file lost {needle!r}")
    if text.count("llmcloud.studio") != len(CATALOG):
        raise RuntimeError(f"merging into the {label} file did not add the {len(CATALOG)} models")
    if len(text) < before.stat().st_size:
        raise RuntimeError(f"merging into the {label} file shrank it")


def describe(mod: dict) -> str:
    return (
        f"Each figure is the median of {mod['repeats']} fresh child processes (the module imported, "
        "arguments loaded as Ansible hands them over, then `main()` timed alone). Own work is the "
        "CPU time of `main()` (time.process_time: other jobs on the machine do not inflate it); "
        "its wall time is beside it. `merge` adds the "
        "eight LLMCloud models to a developer's JSONC file (comments, own model, project history) "
        "and writes it; `rerun` finds them present and writes nothing. Peak RSS is the child's "
        "maximum resident set size (os.wait4); tracemalloc peak is main()'s own allocations, from "
        "one extra traced run."
    )


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        sys.exit(child(sys.argv[2:]))
    sys.exit("usage: modbench.py child ARGS_FILE RESULT_FILE time|trace|profile|noop (used by harness.py)")
