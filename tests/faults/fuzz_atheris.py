"""Coverage-guided fuzzing of the JSONC reader and writer with atheris (libFuzzer).

    python fuzz_atheris.py [libFuzzer flags] CORPUS_DIR       (run.sh: -max_total_time=60)

Each input is a settings file (bytes) and, after the first two NUL bytes, the choices that
steer an edit (read by atheris' FuzzedDataProvider).
The file must be read or refused with JSONCError (any other exception is a crash). A file that
reads is then written back unchanged (the text must be identical), and rewritten with a value
derived from it by the edit choices: the written text must read back to exactly that value.
libFuzzer prints "Done N runs in S second(s)" at the end; run.sh reports N.
"""

from __future__ import annotations

import math
import os
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "collections"))

with atheris.instrument_imports():
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _jsonc

SEEDS = [
    b'{\n  // my settings\n  "theme": "dark",\n  "customModels": [\n    {"model": "a", "baseUrl": "b"}, /* x */\n  ]\n}\n',
    b'{\n  // my settings\n  "theme": "dark",\n  "customModels": [\n    {"model": "a", "baseUrl": "b", "apiKey": "k"}\n  ]\n}\n',
    b'{"a":[1,2,{"b":null}],"c":{"d":"e\\u00e9"}}',
    b'{\r\n\t"a": 1, /* c */ "b": [true, false]\r\n}\r\n',
    b"/* head */ {} // tail",
]


def _derive(value, fdp, depth=0):
    """A new value for the writer, steered by the fuzzer's bytes."""
    choice = fdp.ConsumeIntInRange(0, 7)
    if isinstance(value, dict) and choice < 5 and depth < 6:
        out = dict(value)
        for _edit in range(fdp.ConsumeIntInRange(0, 3)):
            op = fdp.ConsumeIntInRange(0, 2)
            keys = list(out)
            if op == 0 and keys:
                del out[keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]]
            elif op == 1 and keys:
                k = keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]
                out[k] = _derive(out[k], fdp, depth + 1)
            else:
                out[fdp.ConsumeUnicodeNoSurrogates(6)] = _derive(None, fdp, depth + 1)
        return out
    if isinstance(value, list) and choice < 5 and depth < 6:
        out = list(value)
        if out and fdp.ConsumeBool():
            i = fdp.ConsumeIntInRange(0, len(out) - 1)
            out[i] = _derive(out[i], fdp, depth + 1)
        else:
            out.insert(fdp.ConsumeIntInRange(0, len(out)), _derive(None, fdp, depth + 1))
        return out
    pick = fdp.ConsumeIntInRange(0, 6)
    if pick == 0:
        return None
    if pick == 1:
        return fdp.ConsumeBool()
    if pick == 2:
        return fdp.ConsumeIntInRange(-(2**40), 2**40)
    if pick == 3:
        return fdp.ConsumeUnicodeNoSurrogates(12)
    if pick == 4:
        return [] if depth > 5 else [_derive(None, fdp, depth + 1)]
    if pick == 5:
        f = fdp.ConsumeRegularFloat()
        return f if math.isfinite(f) else 0.5
    return {} if depth > 5 else {fdp.ConsumeUnicodeNoSurrogates(4): _derive(None, fdp, depth + 1)}


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' entry point name)
    # file bytes, then (after the first NUL NUL) the bytes that steer the edit
    raw, _sep, steer = data.partition(b"\x00\x00")
    fdp = atheris.FuzzedDataProvider(steer)
    try:
        doc = _jsonc.parse(_jsonc.decode_bytes(raw))
    except _jsonc.JSONCError:
        return
    if doc.update(doc.value) != doc.text:
        raise AssertionError("writing the unchanged value changed the text: %r" % raw)
    target = _derive(doc.value, fdp)
    if not isinstance(target, dict):
        target = {"v": target}
    out = doc.update(target, indent=[None, 2, 4, "\t"][fdp.ConsumeIntInRange(0, 3)])
    try:
        back = _jsonc.parse(out).value
    except _jsonc.JSONCError as exc:
        raise AssertionError("the writer produced text it cannot read (%s): %r -> %r" % (exc, raw, out)) from exc
    if not _jsonc.json_equal(back, target):
        raise AssertionError("the writer wrote %r, which reads as %r, not %r" % (out, back, target))


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    for folder in corpus:
        os.makedirs(folder, exist_ok=True)
        if not os.listdir(folder):
            for i, seed in enumerate(SEEDS):
                with open(os.path.join(folder, "seed-%d" % i), "wb") as fh:
                    fh.write(seed)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
