"""kill -9 of the module at random moments while it merges into a multi-MiB settings file.

After every kill the file must parse to exactly the old or exactly the new document (never torn,
never empty), keep mode 0600, and no file left beside it may expose the key to anyone but the
owner. The module runs under umask 000, so a temp file created without explicit permissions
would show up as world-readable here. Half the kills land at a uniformly random moment of a run;
the other half wait for the first file the run creates in the folder and then strike during the
rest of the run, so that many land inside the write itself (a temp file left behind proves it).
"""

from __future__ import annotations

import copy
import json
import os
import random
import time

from _support import CANARY, PYTHON, kill_group, listing, mode_of, record, run_module, start_module

KILLS = int(os.environ.get("FAULTS_KILLS", "150"))
SIZE_MIB = float(os.environ.get("FAULTS_KILL_MIB", "4"))
SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))
BASE = "https://llmcloud.studio"
KEYED = {"/customModels": ["model", "baseUrl"]}


def big_document(size_mib: float) -> dict:
    models = [
        {
            "model": "vendor/model-%02d" % i,
            "baseUrl": "https://example.invalid/%d" % i,
            "provider": "openai",
            "displayName": "User model %d" % i,
            "apiKey": "user-key-%d" % i,
        }
        for i in range(20)
    ]
    notes = {}
    i = 0
    target = int(size_mib * 1024 * 1024)
    size = 0
    while size < target:
        text = "note %d " % i + "lorem ipsum dolor sit amet " * 8
        notes["n%06d" % i] = text
        size += len(text) + 20
        i += 1
    return {"theme": "dark", "customModels": models, "notes": notes}


def desired(i: int) -> dict:
    return {
        "faultIteration": i,
        "customModels": [
            {"model": "anthropic/claude-opus-4.6", "baseUrl": BASE, "provider": "anthropic", "displayName": "Claude Opus 4.6", "apiKey": "%s-%d" % (CANARY, i)}
        ],
    }


def expected_after(doc: dict, value: dict) -> dict:
    """What a correct merge of desired(i) yields (object merge, keyed upsert keeping position)."""
    out = copy.deepcopy(doc)
    out["faultIteration"] = value["faultIteration"]
    item = value["customModels"][0]
    for existing in out["customModels"]:
        if existing.get("model") == item["model"] and existing.get("baseUrl") == item["baseUrl"]:
            existing.update(item)
            break
    else:
        out["customModels"].append(dict(item))
    return out


def args_for(path: str, i: int) -> dict:
    return {"path": path, "value": desired(i), "keyed_lists": KEYED, "lock_timeout": 30}


def kill_loop(tmp_path, kills: int, size_mib: float, seed: int, program=None) -> dict:
    """kill -9 the program `kills` times mid-run; assert after each kill; return the figures."""
    rng = random.Random(seed)
    folder = tmp_path / "home" / ".factory"
    folder.mkdir(parents=True, mode=0o700)
    path = folder / "settings.json"
    path.write_text(json.dumps(big_document(size_mib), indent=2) + "\n")
    os.chmod(path, 0o600)

    # Calibrate: one uninterrupted run gives the time window to aim the kills at.
    warm = run_module(args_for(str(path), -1), umask=0o000, program=program)
    assert warm.rc == 0 and warm.data.get("changed") is True, str(warm)
    run_seconds = warm.seconds
    baseline = set(os.listdir(folder))  # settings.json, and the lock file the module keeps

    outcomes = {"old": 0, "new": 0, "finished_before_kill": 0}
    inside_write = 0
    leftovers_seen = 0
    seen = set()
    doc = json.loads(path.read_bytes())
    for i in range(kills):
        old_doc = doc
        new_doc = expected_after(old_doc, desired(i))
        present = set(os.listdir(folder))
        proc = start_module(args_for(str(path), i), umask=0o000, program=program)
        started = time.monotonic()
        if i % 2 == 0:
            time.sleep(rng.uniform(0.0, run_seconds * 1.05))
        else:
            # wait for the run's first new file in the folder, then strike during the rest of the run
            deadline = started + run_seconds * 3
            while time.monotonic() < deadline and proc.poll() is None:
                if set(os.listdir(folder)) - present or path.stat().st_size == 0:
                    break
                time.sleep(0.0002)
            remaining = max(0.0, run_seconds - (time.monotonic() - started))
            time.sleep(rng.uniform(0.0, remaining))
        finished = proc.poll() is not None
        kill_group(proc)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

        data = path.read_bytes()
        assert data, "iteration %d: settings file is empty after kill -9" % i
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise AssertionError("iteration %d: torn settings file after kill -9: %s" % (i, exc)) from None
        if finished:
            outcomes["finished_before_kill"] += 1
        if doc == old_doc:
            outcomes["old"] += 1
        elif doc == new_doc:
            outcomes["new"] += 1
        else:
            raise AssertionError("iteration %d: file is neither the old nor the new document" % i)
        assert mode_of(path) == 0o600, "iteration %d: mode %04o" % (i, mode_of(path))

        extra = {name: meta for name, meta in listing(folder).items() if name not in baseline}
        for name, (mode, size) in extra.items():
            full = folder / name
            assert not os.path.islink(full), "iteration %d: symlink %s left behind" % (i, name)
            assert mode & 0o077 == 0, "iteration %d: %s left beside the settings file with mode %04o under umask 000" % (i, name, mode)
            if name not in seen:
                seen.add(name)
                leftovers_seen += 1
                inside_write += 1 if size else 0
            # leave it: the next run must cope with (and clean up) what a killed run left
    # A stale lock or temp must not block or break the next normal run.
    last = run_module(args_for(str(path), kills), umask=0o000, timeout=60, program=program)
    assert last.rc == 0 and not last.failed, str(last)
    assert json.loads(path.read_bytes()) == expected_after(doc, desired(kills))
    assert mode_of(path) == 0o600
    left = set(os.listdir(folder)) - baseline
    return {
        "outcomes": outcomes,
        "inside_write": inside_write,
        "leftovers_seen": leftovers_seen,
        "run_seconds": run_seconds,
        "size": path.stat().st_size,
        "left_after_clean_run": sorted(left),
    }


def test_kill9_never_tears_the_file(tmp_path):
    figures = kill_loop(tmp_path, KILLS, SIZE_MIB, SEED)
    outcomes = figures["outcomes"]
    record(
        "kill9_kills",
        KILLS,
        size_mib=round(figures["size"] / 2**20, 2),
        seed=SEED,
        run_seconds=round(figures["run_seconds"], 3),
        outcomes=outcomes,
        killed_inside_write=figures["inside_write"],
        leftover_files_checked=figures["leftovers_seen"],
        left_after_clean_run=figures["left_after_clean_run"],
    )
    # The harness must really have hit both sides of the rename, and inside writes, or it proved nothing.
    assert outcomes["old"] > 0, outcomes
    assert outcomes["new"] > 0, outcomes
    assert figures["inside_write"] > 0, "no kill landed inside a write; raise FAULTS_KILL_MIB"


def test_harness_catches_an_in_place_writer(tmp_path):
    """Self-test: the same loop against a tool that writes in place must report a torn file."""
    mutant = [PYTHON, os.path.join(os.path.dirname(__file__), "mutants", "inplace_writer.py")]
    try:
        kill_loop(tmp_path, 60, SIZE_MIB, SEED, program=mutant)
    except AssertionError as exc:
        assert "torn" in str(exc) or "empty" in str(exc), str(exc)
        record("kill9_harness_selftest", "in-place writer caught: %s" % str(exc).splitlines()[0])
        return
    raise AssertionError("60 kills of an in-place writer went unnoticed: the kill harness proves nothing")
