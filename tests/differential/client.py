# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real droid client as a judge of settings files, many files per client call.

droid reads ``settings.json`` from ``~/.factory`` and from every ``.factory`` folder between the
git root and the working directory, and drops a file it cannot read while keeping the others. So
one sandbox HOME holding a git repository nested K folders deep judges K files with two calls:

- ``droid exec --list-tools -m custom:does-not-exist`` lists every custom model it loaded: a file
  loaded iff its own marker model (display name ``DIFF<i>``) is listed;
- ``droid doctor --config --json`` gives, for each file it rejects, the client's own reason and
  position (``line 1, col 9: PropertyNameExpected``).

Verdicts are cached by the SHA-256 of the file's bytes (plus client version) under
``$LLMCLOUD_CACHE_DIR/differential/<version>/``, outside the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

MARKER_NAME = "DIFF%d"
# droid 0.225.2 loaded 8000 nested arrays; doctor crashed (RangeError) on 29000, the listing on 50000
DEEP = 10000
NEW_NAME = "NEW%d"


def marker_entry(index):
    """The custom model that tells whether file ``index`` of a batch was loaded."""
    return {"model": "diff/marker", "provider": "anthropic", "baseUrl": "http://127.0.0.1:9/", "apiKey": "not-a-key", "displayName": MARKER_NAME % index}


def _bracket_depth(data):
    """Deepest running count of opening brackets (strings and comments not skipped: an estimate for scheduling)."""
    if len(data) < DEEP:
        return 0
    depth = deepest = 0
    for byte in data:
        if byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class Judge(object):
    def __init__(self, binary, version, cache_dir, batch_size=40, workers=2, timeout=120):
        self.binary = binary
        self.version = version
        self.cache_dir = os.path.join(cache_dir, "differential", version)
        self.batch_size = batch_size
        self.workers = workers
        self.timeout = timeout
        self.calls = 0
        self.call_seconds = 0.0
        os.makedirs(self.cache_dir, exist_ok=True)

    # -------------------------------------------------------------- cache
    def _cache_path(self, data, index):
        digest = hashlib.sha256(data + b"\0%d" % index).hexdigest()
        return os.path.join(self.cache_dir, digest[:2], digest + ".json")

    def cached(self, data, index):
        try:
            with open(self._cache_path(data, index)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def _store(self, data, index, verdict):
        path = self._cache_path(data, index)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temp = path + ".%d.tmp" % os.getpid()
        with open(temp, "w") as handle:
            json.dump(verdict, handle, sort_keys=True)
        os.replace(temp, path)

    # -------------------------------------------------------------- runs
    def _run(self, home, cwd, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORY_", "LLMCLOUD_"))}
        env.update({"HOME": home, "NO_COLOR": "1", "CI": "1"})
        started = time.monotonic()
        done = subprocess.run([self.binary] + list(args), stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=cwd, timeout=self.timeout, check=False)
        self.calls += 1
        self.call_seconds += time.monotonic() - started
        return done.stdout.decode("utf-8", "replace") + "\n" + done.stderr.decode("utf-8", "replace")

    def judge_batch(self, files):
        """Verdicts for ``files`` = [(data, index)]: {'loaded', 'new': marker names listed, 'doctor': reason or None}.

        File ``index`` sits at nesting level ``index`` below the repository root (level 0 is the root's
        own .factory) and should name its marker ``DIFF<index>`` when it has one.
        """
        base = tempfile.mkdtemp(prefix="droid-differential-")
        try:
            home = os.path.join(base, "home")
            repo = os.path.join(home, "r")
            os.makedirs(os.path.join(home, ".factory"))
            depth = max(index for _data, index in files)
            folder = repo
            folders = []
            for level in range(depth + 1):
                folders.append(folder)
                folder = os.path.join(folder, "d%d" % (level + 1))
            os.makedirs(folder)
            subprocess.run(["git", "init", "-q", repo], check=True, stdin=subprocess.DEVNULL)
            for data, index in files:
                os.makedirs(os.path.join(folders[index], ".factory"), exist_ok=True)
                with open(os.path.join(folders[index], ".factory", "settings.json"), "wb") as handle:
                    handle.write(data)
            listing = self._run(home, folder, "exec", "--list-tools", "-m", "custom:does-not-exist")
            if "Available custom models:" not in listing and "No custom models configured" not in listing:
                if "RangeError" in listing or "Maximum call stack" in listing:
                    return None  # a file crashed the client: the caller splits the batch
                raise RuntimeError("droid --list-tools gave no model listing:\n" + listing[-2000:])
            listed = set(re.findall(r"custom:\S+ \(((?:DIFF|NEW)\d+)\)", listing))
            doctor_out = self._run(home, folder, "doctor", "--config", "--json")
            try:
                report = json.loads(doctor_out[doctor_out.index("{") : doctor_out.rindex("}") + 1])
            except ValueError:
                if "RangeError" in doctor_out or "Maximum call stack" in doctor_out:
                    return None  # doctor crashes on a shallower file than the listing does
                raise RuntimeError("droid doctor gave no JSON report:\n" + doctor_out[-2000:]) from None
            failures = {}
            for result in report["results"]:
                if not result["id"].startswith("configuration") or result.get("status") == "pass":
                    continue
                path = (result.get("data") or {}).get("path") or result.get("label", "")
                match = re.search(r"/r((?:/d\d+)*)/\.factory/settings\.json$", path)
                if match:
                    failures[match.group(1).count("/d")] = result.get("detail")
            verdicts = []
            for data, index in files:
                verdict = {
                    "loaded": (MARKER_NAME % index) in listed,
                    "new": (NEW_NAME % index) in listed,
                    "doctor": failures.get(index),
                    "client": self.version,
                }
                self._store(data, index, verdict)
                verdicts.append(verdict)
            return verdicts
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def _judge_split(self, files):
        """judge_batch, halving a batch that crashed the client until the crashing file stands alone."""
        verdicts = self.judge_batch(files)
        if verdicts is not None:
            return verdicts
        if len(files) == 1:
            data, index = files[0]
            verdict = {"loaded": False, "new": False, "doctor": None, "crash": True, "client": self.version}
            self._store(data, index, verdict)
            return [verdict]
        half = len(files) // 2
        return self._judge_split(files[:half]) + self._judge_split(files[half:])

    def judge_all(self, datas):
        """Verdicts for a list of ``(data, index)`` (cache first; the rest in batches run in parallel)."""
        from concurrent.futures import ThreadPoolExecutor

        results = [self.cached(data, index) for data, index in datas]
        todo = [i for i, verdict in enumerate(results) if verdict is None]
        # one batch holds each nesting level once; a file nested deep enough to crash droid goes alone
        batches = []
        for position in todo:
            index = datas[position][1]
            if _bracket_depth(datas[position][0]) > DEEP:
                batches.append([position])
                continue
            for batch in batches:
                if len(batch) < self.batch_size and all(datas[p][1] != index for p in batch) and _bracket_depth(datas[batch[0]][0]) <= DEEP:
                    batch.append(position)
                    break
            else:
                batches.append([position])
        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            outcomes = pool.map(lambda batch: (batch, self._judge_split([datas[p] for p in batch])), batches)
            for batch, verdicts in outcomes:
                for position, verdict in zip(batch, verdicts):
                    results[position] = verdict
        return results, len(todo)
