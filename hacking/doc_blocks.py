# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every fenced block of README.md and docs/**/*.md is run by a test, or says why it is not.

A block's marker sits on the lines right above its opening fence (no blank line between):

* ``<!-- doc-test: ID run-by tests/PATH[, tests/PATH2] -->``: each named test file runs the
  block, taking its text from the document by ID (``block("ID")`` below), so the test runs
  what the reader copies. The check fails unless each file exists and calls ``block("ID")``
  (``doc_blocks.block`` or the tests' ``block``), or ``block(name)`` with ``name`` running over
  literal IDs (a ``pytest.mark.parametrize`` list, a loop or comprehension over a literal tuple
  or list, or a module-level constant of one). An ID is distinctive: 4 characters at least, not a
  generic word (``ok``, ``test``, ``run``...), so that it cannot be met by chance.
  One ID may mark blocks in several documents (one command given in several places): their
  text must then be identical.
* ``<!-- build-check: NAME -->``: tests/build-check.sh runs the block (hacking/doc_examples.py
  writes it out by NAME); the check fails unless build-check reads the document and knows NAME.
* A visible paragraph ``_Not run here: <why>. Stands in: <what runs instead>._`` followed by
  ``<!-- doc-test: ID -->``: the reader sees why (a real Mac, Windows, the real LLMCloud, a
  prompt) and what the tests run in its place.

Blocks are fenced with backticks at any indentation (a fence in a list item, indented 4 spaces
or more, counts too), with tildes at up to 3 spaces, or are ``<pre>`` elements.

``python hacking/doc_blocks.py --check`` (in `make lint`) fails on a block with no marker, a
malformed one, or a test that does not name its ID, and prints the coverage: how many blocks
are run by tests, of how many.
"""

from __future__ import annotations

import ast
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$|^(?P<tindent> {0,3})(?P<tfence>~{3,})(?P<tinfo>.*)$")
PRE = re.compile(r"^\s*<pre(\s[^>]*)?>", re.I)
PRE_END = re.compile(r"</pre\s*>", re.I)
GENERIC_IDS = frozenset(
    "ok yes no true false none null test tests run runs block blocks example code bash sh shell yaml yml json text "
    "main demo setup config cfg todo fixme it this that foo bar baz".split()
)
RUN = re.compile(r"<!-- doc-test: (?P<id>[a-z0-9][a-z0-9-]*) run-by (?P<tests>[^<>]+?) -->")
NOT_RUN = re.compile(r"_Not run here: (?P<why>.+?)\. Stands in: (?P<what>.+?)\._\s*<!-- doc-test: (?P<id>[a-z0-9][a-z0-9-]*) -->")
BUILD_CHECK = re.compile(r"<!-- build-check: (?P<name>\S+) -->")
ANY_MARKER = re.compile(r"doc-test:|build-check:|Not run here")


@dataclass
class Block:
    """One fenced block of a document, with what its marker says."""

    path: str
    line: int
    info: str
    text: str
    block_id: str = ""
    status: str = ""  # "run", "not run" or "" (no marker)
    tests: list[str] = field(default_factory=list)
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    def where(self):
        return "%s:%d" % (self.path, self.line)


def documents(root=ROOT):
    """README.md and every Markdown file under docs/, in a stable order."""
    paths = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    return [path for path in paths if path.is_file()]


def parse(path, root=ROOT):
    """The fenced blocks of one Markdown file, each with its marker read (not yet verified)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    relative = str(Path(path).resolve().relative_to(root)) if Path(path).is_absolute() else str(path)
    blocks = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        pre = PRE.match(lines[index]) if not opening else None
        if not opening and not pre:
            index += 1
            continue
        if pre:
            end = index
            while end < len(lines) and not PRE_END.search(lines[end] if end > index else lines[end][pre.end() :]):
                end += 1
            inner = "\n".join(lines[index : end + 1])
            inner = PRE_END.split(inner[pre.end() :], 1)[0]
            text = html.unescape(re.sub(r"<[^>]+>", "", inner)).strip("\n") + "\n"
            block = Block(relative, index + 1, "pre", text)
        else:
            fence = opening.group("fence") or opening.group("tfence")
            indent = opening.group("indent") if opening.group("fence") else opening.group("tindent")
            info = opening.group("info") if opening.group("fence") else opening.group("tinfo")
            closing = r"^[ \t]*" if fence[0] == "`" else r"^ {0,3}"
            end = index + 1
            while end < len(lines) and not re.match(r"%s%s%s*\s*$" % (closing, re.escape(fence), re.escape(fence[0])), lines[end]):
                end += 1
            body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[index + 1 : end]]
            block = Block(relative, index + 1, info.strip(), "\n".join(body) + "\n")
        above = []
        cursor = index - 1
        while cursor >= 0 and lines[cursor].strip():
            above.insert(0, lines[cursor].strip())
            cursor -= 1
        _read_marker(block, " ".join(above))
        blocks.append(block)
        index = end + 1
    return blocks


def _read_marker(block, above):
    run, not_run, build_check = RUN.search(above), NOT_RUN.search(above), BUILD_CHECK.search(above)
    for found in (run, not_run):
        if found and (len(found.group("id")) < 4 or found.group("id") in GENERIC_IDS):
            block.problems.append("doc-test ID %r is too short or too generic: give the block a distinctive ID (e.g. 'fleet-report-cfg')" % found.group("id"))
    if run and not_run:
        block.problems.append("marked both run and not run")
    elif run:
        block.block_id, block.status = run.group("id"), "run"
        block.tests = [test.strip() for test in run.group("tests").split(",") if test.strip()]
    elif not_run:
        block.block_id, block.status = not_run.group("id"), "not run"
        block.reason = "%s (stands in: %s)" % (not_run.group("why").strip(), not_run.group("what").strip())
    elif build_check:
        block.block_id, block.status = "build-check:" + build_check.group("name"), "run"
        block.tests = ["tests/build-check.sh"]
    elif ANY_MARKER.search(above):
        block.problems.append(
            "malformed marker: use <!-- doc-test: ID run-by tests/... --> or '_Not run here: <why>. Stands in: <what>._ <!-- doc-test: ID -->'"
        )
    else:
        block.problems.append(
            "no marker: a test must run this block (<!-- doc-test: ID run-by tests/... -->), or a visible "
            "'_Not run here: <why>. Stands in: <what>._ <!-- doc-test: ID -->' must say why not"
        )


def all_blocks(root=ROOT):
    return [block for path in documents(root) for block in parse(path, root)]


def verify(blocks, root=ROOT):
    """Add to each block's problems what its marker claims but the repository does not hold."""
    by_id = {}
    for block in blocks:
        if block.block_id:
            by_id.setdefault(block.block_id, []).append(block)
    for block_id, same in by_id.items():
        if len({b.text for b in same}) > 1:
            for block in same:
                block.problems.append(
                    "ID %r marks blocks that differ (%s): one command given in several places must be the same" % (block_id, ", ".join(b.where() for b in same))
                )
        if len({b.status for b in same}) > 1:
            for block in same:
                block.problems.append("ID %r is marked both run and not run" % block_id)
    doc_examples = (root / "hacking" / "doc_examples.py").read_text(encoding="utf-8") if (root / "hacking" / "doc_examples.py").exists() else ""
    for block in blocks:
        for test in block.tests:
            test_path = root / test
            if not test.startswith("tests/") or not test_path.is_file():
                block.problems.append("run-by %s: no such test file under tests/" % test)
                continue
            source = test_path.read_text(encoding="utf-8")
            if block.block_id.startswith("build-check:"):
                name = block.block_id.split(":", 1)[1]
                suffix = "." + name.rsplit(".", 1)[-1] if "." in name else name
                if block.path not in source or "doc_examples.py" not in source:
                    block.problems.append("tests/build-check.sh does not run the examples of %s" % block.path)
                elif name not in source and '"%s"' % suffix not in doc_examples:
                    block.problems.append("tests/build-check.sh and hacking/doc_examples.py do not know the example %r" % name)
            elif block.block_id not in taken_ids(source):
                block.problems.append(
                    'run-by %s: the test never takes the block %r by its ID (it must call block("%s") or doc_blocks.block("%s"))'
                    % (test, block.block_id, block.block_id, block.block_id)
                )
    return blocks


def _strings(node, constants=None):
    """The strings of a literal tuple/list/set of strings (or of a module-level constant naming one), else None."""
    if isinstance(node, ast.Name) and constants is not None:
        return constants.get(node.id)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def _is_call_of(node, name):
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def taken_ids(source):
    """The block IDs a Python test takes: block("ID") / doc_blocks.block("ID"), or block(name) where name
    runs over literal IDs (parametrize, a for loop or comprehension over a literal or a module constant)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values = _strings(node.value)
            if values is not None:
                constants[node.targets[0].id] = values
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            bindings.setdefault(node.target.id, set()).update(_strings(node.iter, constants) or [])
        elif isinstance(node, ast.Call) and _is_call_of(node, "parametrize") and len(node.args) >= 2:
            names = node.args[0].value if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) else ""
            if names and "," not in names:
                bindings.setdefault(names.strip(), set()).update(_strings(node.args[1], constants) or [])
    taken = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_call_of(node, "block") and len(node.args) == 1:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                taken.add(argument.value)
            elif isinstance(argument, ast.Name):
                taken |= bindings.get(argument.id, set())
    return taken


def block(block_id, root=ROOT):
    """The text of the block marked ID (identical wherever it is given), for a test to run."""
    found = [b for b in all_blocks(root) if b.block_id == block_id]
    if not found:
        raise KeyError("no block is marked doc-test %r in README.md or docs/" % block_id)
    texts = {b.text for b in found}
    if len(texts) != 1:
        raise ValueError("the blocks marked %r differ: %s" % (block_id, ", ".join(b.where() for b in found)))
    return texts.pop()


def coverage(blocks):
    run = sum(1 for b in blocks if b.status == "run" and not b.problems)
    return run, len(blocks)


def report(blocks, out=sys.stdout):
    """Print the problems and the coverage; return the number of problems."""
    problems = 0
    for b in blocks:
        for problem in b.problems:
            problems += 1
            print("%s: %s" % (b.where(), problem), file=out)
    per_file = {}
    for b in blocks:
        counts = per_file.setdefault(b.path, [0, 0])
        counts[0] += b.status == "run" and not b.problems
        counts[1] += 1
    for path, (run, total) in per_file.items():
        print("  %-36s %2d of %2d run by tests" % (path, run, total), file=out)
    run, total = coverage(blocks)
    print(
        "doc blocks: %d of %d command blocks run by tests, %d not run here (each says why and what stands in)"
        % (run, total, sum(1 for b in blocks if b.status == "not run")),
        file=out,
    )
    return problems


def main(argv):
    if argv not in (["--check"], ["--list"]):
        print("usage: python hacking/doc_blocks.py --check | --list", file=sys.stderr)
        return 2
    blocks = verify(all_blocks())
    if argv == ["--list"]:
        for b in blocks:
            print("%-34s %-8s %-28s %s" % (b.where(), b.status or "-", b.block_id, ", ".join(b.tests) or b.reason))
    problems = report(blocks)
    if problems:
        print("doc blocks: %d problem(s): mark each block as run by a test that takes it by its ID, or say why it is not run" % problems, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
