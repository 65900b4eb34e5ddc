"""hacking/doc_blocks.py --check: a documented block that is neither run by a test nor marked as
not run here fails `make lint`, and the coverage it prints counts only blocks a test really takes."""

from __future__ import annotations

import io

import doc_blocks
from conftest import ROOT

TEST = 'from conftest import block\n\ndef test_it():\n    assert block("%s")\n'


def _tree(tmp_path, readme, test_ids=("hello",)):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "hacking").mkdir()
    (tmp_path / "tests" / "docs").mkdir(parents=True)
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\nNo blocks here.\n")
    (tmp_path / "tests" / "docs" / "test_x.py").write_text("".join(TEST % i for i in test_ids))
    blocks = doc_blocks.verify(doc_blocks.all_blocks(tmp_path), tmp_path)
    out = io.StringIO()
    problems = doc_blocks.report(blocks, out)
    return blocks, problems, out.getvalue()


def test_an_unmarked_block_fails(tmp_path):
    _blocks, problems, out = _tree(tmp_path, "# T\n\n```bash\necho hello\n```\n")
    assert problems == 1 and "README.md:3: no marker" in out
    assert "doc blocks: 0 of 1 command blocks run by tests" in out


def test_a_run_marker_needs_a_test_that_takes_the_block(tmp_path):
    readme = "# T\n\n<!-- doc-test: hello run-by tests/docs/test_x.py -->\n```bash\necho hello\n```\n"
    _blocks, problems, out = _tree(tmp_path, readme, test_ids=("other",))
    assert problems == 1 and "never takes the block 'hello'" in out
    assert "0 of 1" in out
    _blocks, problems, out = _tree(tmp_path / "ok", readme)
    assert problems == 0 and "doc blocks: 1 of 1 command blocks run by tests" in out


def test_a_missing_test_file_fails(tmp_path):
    readme = "# T\n\n<!-- doc-test: hello run-by tests/docs/test_gone.py -->\n```bash\necho hello\n```\n"
    _blocks, problems, out = _tree(tmp_path, readme)
    assert problems == 1 and "no such test file" in out


def test_not_run_needs_a_visible_reason_and_a_stand_in(tmp_path):
    good = "# T\n\n_Not run here: it needs a real Mac. Stands in: the Linux test._ <!-- doc-test: mac-launchctl -->\n```bash\nlaunchctl list\n```\n"
    blocks, problems, out = _tree(tmp_path, good)
    assert problems == 0 and blocks[0].status == "not run" and "doc blocks: 0 of 1 command blocks run by tests, 1 not run here" in out
    bad = "# T\n\n<!-- doc-test: mac-launchctl -->\n```bash\nlaunchctl list\n```\n"
    _blocks, problems, out = _tree(tmp_path / "bad", bad)
    assert problems == 1 and "malformed marker" in out


def test_one_id_in_two_places_must_be_the_same_command(tmp_path):
    readme = (
        "# T\n\n<!-- doc-test: hello run-by tests/docs/test_x.py -->\n```bash\necho hello\n```\n\n"
        "<!-- doc-test: hello run-by tests/docs/test_x.py -->\n```bash\necho hello world\n```\n"
    )
    _blocks, problems, out = _tree(tmp_path, readme)
    assert problems == 2 and "marks blocks that differ" in out


def test_the_repository_passes_and_runs_the_blocks_it_claims():
    blocks = doc_blocks.verify(doc_blocks.all_blocks(ROOT), ROOT)
    out = io.StringIO()
    assert doc_blocks.report(blocks, out) == 0, out.getvalue()
    run = {b.block_id for b in blocks if b.status == "run"}
    assert {"pull", "pull-vault-setup", "readme-demo", "byok-check", "build-check:ansible-pull"} <= run
    assert all(b.status for b in blocks)


def _checked(tmp_path, readme, test_source):
    """README.md with ``readme`` and tests/docs/test_x.py with ``test_source``: (blocks, problems, output)."""
    (tmp_path / "tests" / "docs").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "tests" / "docs" / "test_x.py").write_text(test_source)
    blocks = doc_blocks.verify(doc_blocks.all_blocks(tmp_path), tmp_path)
    out = io.StringIO()
    return blocks, doc_blocks.report(blocks, out), out.getvalue()


def test_an_id_merely_quoted_in_the_test_does_not_count(tmp_path):
    # "ok" is a value of the test, the block is never taken: too generic and not taken
    readme = "# T\n\n<!-- doc-test: ok run-by tests/docs/test_x.py -->\n```bash\necho hello\n```\n"
    _blocks, problems, out = _checked(tmp_path, readme, 'def test_it():\n    assert {"status": "ok"}["status"] == "ok"\n')
    assert problems == 2 and "too short or too generic" in out and "never takes the block 'ok'" in out
    readme = "# T\n\n<!-- doc-test: hello-world run-by tests/docs/test_x.py -->\n```bash\necho hello\n```\n"
    _blocks, problems, out = _checked(tmp_path / "named", readme, 'NAME = "hello-world"\n\ndef test_it():\n    assert NAME\n')
    assert problems == 1 and "never takes the block 'hello-world'" in out and "0 of 1" in out


def test_the_ways_the_tests_take_blocks_by_id_count(tmp_path):
    readme = "".join("<!-- doc-test: %s run-by tests/docs/test_x.py -->\n```bash\necho %s\n```\n\n" % (i, i) for i in ("one-a", "two-b", "three-c", "four-d"))
    source = (
        "import doc_blocks\nimport pytest\nIDS = ('two-b', 'three-c')\n\n"
        "def test_one():\n    assert doc_blocks.block('one-a')\n\n"
        "def test_ids():\n    assert [doc_blocks.block(block_id) for block_id in IDS]\n\n"
        "@pytest.mark.parametrize('block_id', ['four-d'])\ndef test_param(block_id):\n    assert block(block_id)\n"
    )
    _blocks, problems, out = _checked(tmp_path, readme, source)
    assert problems == 0 and "doc blocks: 4 of 4" in out, out


def test_fences_in_list_items_and_pre_blocks_must_be_marked_too(tmp_path):
    readme = (
        "# T\n\n1. Step one:\n\n    ```bash\n    echo indented\n    ```\n\n"
        "- Step two:\n\n        ```yaml\n        a: 1\n        ```\n\n"
        "<pre>\nrm -rf ~/.factory &amp;&amp; echo gone\n</pre>\n"
    )
    blocks, problems, out = _checked(tmp_path, readme, "")
    assert [(b.line, b.info) for b in blocks] == [(5, "bash"), (11, "yaml"), (15, "pre")]
    assert problems == 3 and out.count("no marker") == 3
    marked = (
        "# T\n\n1. Step one:\n\n    <!-- doc-test: step-one run-by tests/docs/test_x.py -->\n    ```bash\n    echo indented\n    ```\n\n"
        "_Not run here: it deletes your settings. Stands in: nothing._ <!-- doc-test: wipe-factory -->\n"
        "<pre>\nrm -rf ~/.factory &amp;&amp; echo gone\n</pre>\n"
    )
    blocks, problems, out = _checked(tmp_path / "marked", marked, "import doc_blocks\n\ndef test_it():\n    assert doc_blocks.block('step-one')\n")
    assert problems == 0, out
    assert [b.text for b in blocks] == ["echo indented\n", "rm -rf ~/.factory && echo gone\n"]
