# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential test of json_merge's JSONC reader and writer against the real droid client.

    python tests/differential/run.py --droid <binary> [--count 200] [--seed 12] [--corpus-only]

For every input (the corpus in tests/differential/corpus plus ``--count`` generated files):
1. droid's verdict (tests/differential/client.py: loads it / rejects it with a reason / crashes);
2. the module's verdict (tests/differential/compare.py: json_merge's pipeline reads it and merges
   the role's value into it, or refuses it with line, column and the fix);
3. where both read it: the written file is judged by droid too and must load, with the user's
   models and the merged one; the writer's edits touch no comment and no kept member.

Prints ``inputs compared: N, disagreements: D`` and exits 1 when D > 0.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "collections"))

from client import Judge  # noqa: E402
from compare import BLANK, DEPTH, compare, compare_output, dump_case, module_side, position, read_corpus, write_corpus  # noqa: E402

CORPUS = os.path.join(HERE, "corpus.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--droid", help="the droid binary (0.225.2)")
    parser.add_argument("--version", default=os.environ.get("DROID_VERSION", "0.225.2"))
    parser.add_argument("--count", type=int, default=int(os.environ.get("DIFFERENTIAL_COUNT", "200")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DIFFERENTIAL_SEED", "12")))
    parser.add_argument("--batch", type=int, default=40, help="files judged by one client call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60, help="time budget for generating inputs")
    parser.add_argument(
        "--cache",
        default=os.environ.get("LLMCLOUD_CACHE_DIR")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "llmcloud-factory-droid"),
    )
    parser.add_argument("--corpus-only", action="store_true", help="no droid: the corpus against its recorded verdicts")
    parser.add_argument("--save", metavar="NUMBER=NAME", nargs="*", default=[], help="copy these generated inputs into the corpus (then --record)")
    parser.add_argument("--record", action="store_true", help="write droid's verdicts of the corpus to verdicts.json")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()

    corpus = read_corpus(CORPUS)
    inputs = [(data, verdict["index"], "corpus/" + name, verdict.get("tags", [])) for name, data, verdict in corpus]
    generated = []
    if not args.corpus_only:
        from generate import generate

        generated = generate(args.count, args.batch, args.seed, args.max_seconds)
        inputs += [(data, index, "generated/%d" % number, tags) for number, (data, index, tags) in enumerate(generated)]
    generated_seconds = time.monotonic() - started

    judge = None
    if args.corpus_only:
        clients = [verdict for _name, _data, verdict in corpus]
        fresh = 0
    else:
        judge = Judge(args.droid, args.version, args.cache, batch_size=args.batch, workers=args.workers)
        clients, fresh = judge.judge_all([(data, index) for data, index, _label, _tags in inputs])

    outcomes = {}
    disagreements = []
    positions = [0, 0]
    outputs = []
    modules = []
    for (data, index, label, tags), client in zip(inputs, clients):
        module = module_side(data, index)
        modules.append(module)
        outcome, detail = compare(data, index, client, module)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "disagree":
            disagreements.append((label, tags, detail, data))
        if module.error is not None and client.get("doctor"):
            positions[1] += 1
            if position(client["doctor"]) == (module.error.line, module.error.column):
                positions[0] += 1
        if module.reads and outcome != "disagree":
            outputs.append((label, index, module))
        if args.verbose:
            print("%-14s %-8s %s %s" % (label, outcome, dump_case(data)[:90], detail or ""))

    # the files the module writes must load in droid
    written_checked = 0
    if not args.corpus_only:
        verdicts, fresh_out = judge.judge_all([(module.output, index) for _label, index, module in outputs])
        fresh += fresh_out
        for (label, index, module), verdict in zip(outputs, verdicts):
            written_checked += 1
            problem = compare_output(index, module, verdict)
            if problem:
                disagreements.append((label + " (written)", [], problem, module.output))
        if args.record:
            written_of = dict((label, verdict) for (label, _index, _module), verdict in zip(outputs, verdicts))
            record_corpus(corpus, clients, modules, written_of)
    else:
        from compare import _recorded_output_problems

        for (name, _data, verdict), module in zip(corpus, modules):
            written_checked += "written" in verdict
            disagreements.extend(("corpus/%s (written)" % name, [], problem, module.output or b"") for problem in _recorded_output_problems(module, verdict))

    if args.save:
        cases = dict((name, verdict) for name, _data, verdict in corpus)
        for item in args.save:
            number, name = item.split("=", 1)
            data, index, tags = generated[int(number)]
            cases[name] = {"index": index, "tags": tags, "text": data.decode("utf-8", "surrogateescape")}
        write_corpus(CORPUS, cases)

    for label, tags, detail, data in disagreements:
        print("DISAGREEMENT %s %s: %s\n    input: %s" % (label, tags, detail, dump_case(data)))
    elapsed = time.monotonic() - started
    print(
        "differential: %d corpus + %d generated (seed %d); droid %s: %d client calls (%.1f s of calls), "
        "%d verdicts not in the cache; %d written files judged; generation %.1f s; total %.1f s"
        % (
            len(corpus),
            len(generated),
            args.seed,
            args.version if judge else "(recorded)",
            judge.calls if judge else 0,
            judge.call_seconds if judge else 0,
            fresh,
            written_checked,
            generated_seconds,
            elapsed,
        )
    )
    print("outcomes: " + ", ".join("%s %d" % item for item in sorted(outcomes.items())))
    print(
        "known divergences: %s %d (droid rejects it and loads nothing; the module writes the whole document, "
        "which droid then loads), %s %d (droid loads nesting deeper than the module's MAX_DEPTH)"
        % (BLANK, outcomes.get(BLANK, 0), DEPTH, outcomes.get(DEPTH, 0))
    )
    print("refusals at droid's own line and column: %d of %d" % tuple(positions))
    print("inputs compared: %d, disagreements: %d" % (len(inputs), len(disagreements)))
    return 1 if disagreements else 0


def record_corpus(corpus, clients, modules, written_of):
    """corpus.json: droid's verdict of each case and of the file the module writes into it."""
    cases = {}
    for (name, data, old), client, module in zip(corpus, clients, modules):
        record = {
            "index": old["index"],
            "tags": old.get("tags", []),
            "loaded": client["loaded"],
            "doctor": client.get("doctor"),
            "crash": client.get("crash", False),
            "client": client.get("client"),
            "text": data.decode("utf-8", "surrogateescape"),
        }
        written = written_of.get("corpus/" + name)
        if written is not None:
            record["written"] = {
                "sha256": hashlib.sha256(module.output).hexdigest(),
                "loaded": written["loaded"],
                "new": written["new"],
                "doctor": written.get("doctor"),
                "crash": written.get("crash", False),
            }
        cases[name] = record
    write_corpus(CORPUS, cases)


if __name__ == "__main__":
    sys.exit(main())
