"""Run the examples in docs/*.md, so that the documentation cannot drift from the code.

Fenced blocks are chosen by the first word of their info string:

- ``lead [FILE]``: a complete rule file that must compile. The engine must have no
  warnings, unless the block's first line is ``# warning: MESSAGE``, which must then be
  the first warning's message. With a FILE name, the text is also saved under that
  name for the ``python`` blocks below it.
- ``lead-error``: rule text that must raise `leadscore.RuleError`. Its first line is
  ``# error: MESSAGE``, the expected message of the first problem.
- ``python``: run in document order in one namespace per page, like one interactive
  session, in a temporary folder that contains the files saved so far. Only pages that
  contain the line ``<!-- test_docs: run python -->`` run their python blocks, because
  other pages show code that needs credentials or a network service.
- ``toml FILE``, ``json FILE``, ``yaml FILE``: saved under FILE for the ``python`` blocks.

Blocks with any other tag, such as ``text`` or a bare fence, are not run.

A Markdown table with a ``Rule text`` column and a ``First message`` or ``First
warning`` column is checked row by row: the rule text must fail with that first
message, or compile with that first warning. Both cells are code spans.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import CodeType

import attrs
import pytest

import leadscore

try:
    # pytest's own assert rewriting, so a failed assert in a doc shows the values
    # involved. It is internal to pytest, so the examples still run without it.
    from _pytest.assertion.rewrite import rewrite_asserts
except ImportError:  # pragma: no cover - depends on the pytest version
    rewrite_asserts = None

REPOSITORY = Path(__file__).resolve().parents[1]
DOCS = REPOSITORY / "docs"

SAVED_TAGS = frozenset({"lead", "toml", "json", "yaml"})
ERROR_PREFIX = "# error:"
WARNING_PREFIX = "# warning:"

_RUN_PYTHON_MARKER = re.compile(r"^<!--\s*test_docs:\s*run python\s*-->\s*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"^(`+)(?P<code>.+?)\1$")


@attrs.frozen
class Block:
    """A fenced code block: its tag, optional argument (a file name) and text."""

    path: Path
    line: int  # 1-based line of the block's first text line, after the opening fence
    tag: str
    argument: str | None
    text: str

    @property
    def location(self) -> str:
        return f"{_relative(self.path)}:{self.line}"


@attrs.frozen
class TableRow:
    """One row of a checks table: rule text and its expected first error or warning."""

    path: Path
    line: int
    rule_text: str
    expected: str
    severity: str  # "error" or "warning"

    @property
    def location(self) -> str:
        return f"{_relative(self.path)}:{self.line}"


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPOSITORY))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- reading Markdown


def read_blocks(path: Path) -> list[Block]:
    """Return the fenced code blocks of a Markdown file, in order."""
    lines = path.read_text("utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        words = opening.group("info").split()
        start = index + 1
        end = start
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        if end == len(lines):
            raise ValueError(
                f"{_relative(path)}:{index + 1}: the code block that starts here is never closed"
            )
        tag = words[0] if words else ""
        argument = words[1] if len(words) > 1 else None
        text = "\n".join(lines[start:end]) + "\n"
        blocks.append(Block(path, start + 1, tag, argument, text))
        index = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _split_cells(line: str) -> list[str]:
    # GitHub splits table cells at every unescaped '|', even inside code spans.
    cells = re.split(r"(?<!\\)\|", line.strip())
    if cells and cells[0] == "":
        cells = cells[1:]
    if cells and cells[-1] == "":
        cells = cells[:-1]
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _code_span(cell: str, where: str) -> str:
    found = _CODE_SPAN.match(cell)
    if found is None:
        raise ValueError(f"{where}: expected a code span such as `text`, got {cell!r}")
    return found.group("code").strip()


def read_table_rows(path: Path) -> list[TableRow]:
    """Return the rows of every checks table in a Markdown file, outside code blocks."""
    lines = path.read_text("utf-8").splitlines()
    rows: list[TableRow] = []
    in_fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if in_fence is not None:
            if _closes(line, in_fence):
                in_fence = None
            index += 1
            continue
        if fence is not None:
            in_fence = fence.group("fence")
            index += 1
            continue

        is_header = (
            line.lstrip().startswith("|")
            and index + 1 < len(lines)
            and _TABLE_SEPARATOR.match(lines[index + 1]) is not None
        )
        header = _split_cells(line) if is_header else []
        if "Rule text" in header and "First message" in header:
            severity = "error"
            expected_column = header.index("First message")
        elif "Rule text" in header and "First warning" in header:
            severity = "warning"
            expected_column = header.index("First warning")
        else:
            index += 1
            continue

        rule_column = header.index("Rule text")
        index += 2
        while index < len(lines) and lines[index].lstrip().startswith("|"):
            where = f"{_relative(path)}:{index + 1}"
            cells = _split_cells(lines[index])
            if len(cells) != len(header):
                raise ValueError(
                    f"{where}: the row has {len(cells)} cells, the header {len(header)}"
                )
            rule_text = _code_span(cells[rule_column], where)
            expected = _code_span(cells[expected_column], where)
            rows.append(TableRow(path, index + 1, rule_text, expected, severity))
            index += 1
    return rows


# ---------------------------------------------------------------- checking one example


def _expected_comment(block: Block, prefix: str) -> str | None:
    first = block.text.split("\n", 1)[0].strip()
    if not first.startswith(prefix):
        return None
    return first[len(prefix) :].strip()


def check_lead(block: Block) -> leadscore.Engine:
    """Compile a ``lead`` block and compare its warnings with its ``# warning:`` line."""
    try:
        engine = leadscore.compile(block.text, source=block.argument or "<lead block>")
    except leadscore.RuleError as error:
        raise AssertionError(
            f"{block.location}: the lead block does not compile:\n{error}"
        ) from None

    expected = _expected_comment(block, WARNING_PREFIX)
    warnings = [problem.message for problem in engine.warnings]
    if expected is None:
        assert warnings == [], f"{block.location}: the lead block compiles with warnings {warnings}"
    else:
        assert warnings, f"{block.location}: expected the warning {expected!r}, got none"
        assert warnings[0] == expected, f"{block.location}: the first warning differs"
    return engine


def _compile_error(text: str) -> leadscore.RuleError | None:
    """Return the error that compiling ``text`` raises, or None when it compiles."""
    try:
        leadscore.compile(text)
    except leadscore.RuleError as error:
        return error
    return None


def check_lead_error(block: Block) -> None:
    """Compile a ``lead-error`` block and compare its first error with its ``# error:`` line."""
    expected = _expected_comment(block, ERROR_PREFIX)
    assert expected, (
        f"{block.location}: a lead-error block must start with '{ERROR_PREFIX} MESSAGE'"
    )
    error = _compile_error(block.text)
    assert error is not None, (
        f"{block.location}: the lead-error block compiled, expected: {expected}"
    )
    assert error.problems[0].message == expected, (
        f"{block.location}: the first error differs from the '# error:' line:\n{error}"
    )


def check_table_row(row: TableRow) -> None:
    """Compile a checks-table row and compare its first error or warning."""
    if row.severity == "warning":
        try:
            engine = leadscore.compile(row.rule_text)
        except leadscore.RuleError as error:
            raise AssertionError(
                f"{row.location}: expected a warning, the rule text fails:\n{error}"
            ) from None
        warnings = [problem.message for problem in engine.warnings]
        assert warnings, f"{row.location}: expected the warning {row.expected!r}, got none"
        assert warnings[0] == row.expected, f"{row.location}: the first warning differs"
        return

    error = _compile_error(row.rule_text)
    assert error is not None, f"{row.location}: the rule text compiled, expected: {row.expected}"
    assert error.problems[0].message == row.expected, (
        f"{row.location}: the first error differs:\n{error}"
    )


def _compile_python(block: Block) -> CodeType:
    filename = str(block.path)
    tree = ast.parse(block.text, filename=filename)
    if rewrite_asserts is not None:
        rewrite_asserts(tree, block.text.encode("utf-8"), filename)
    return _shift_lines(compile(tree, filename, "exec"), block.line - 1)


def _shift_lines(code: CodeType, offset: int) -> CodeType:
    """Move a code object and the functions in it down by ``offset`` lines.

    Line tables are relative to ``co_firstlineno``, so this makes tracebacks name the
    line in the Markdown file, and pytest shows only the block, not the page above it.
    """
    constants = tuple(
        _shift_lines(constant, offset) if isinstance(constant, CodeType) else constant
        for constant in code.co_consts
    )
    return code.replace(co_firstlineno=code.co_firstlineno + offset, co_consts=constants)


def run_page(blocks: list[Block], folder: Path) -> None:
    """Save a page's files into ``folder`` and run its python blocks there, in order."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    saved: dict[str, Block] = {}
    for block in blocks:
        if block.tag in SAVED_TAGS and block.argument is not None:
            if block.argument in saved:
                first = saved[block.argument].location
                raise AssertionError(
                    f"{block.location}: the file {block.argument} is already shown at {first}"
                )
            saved[block.argument] = block
            (folder / block.argument).write_text(block.text, "utf-8")
        elif block.tag == "python":
            try:
                exec(_compile_python(block), namespace)
            except Exception as error:
                raise AssertionError(
                    f"{block.location}: the python block that starts here failed"
                ) from error


# ---------------------------------------------------------------- collecting the examples


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md")) if DOCS.is_dir() else []


def _blocks_tagged(tag: str) -> list[Block]:
    return [block for page in _pages() for block in read_blocks(page) if block.tag == tag]


def runs_python(path: Path) -> bool:
    """Return whether a page opts in to running its python blocks."""
    return _RUN_PYTHON_MARKER.search(path.read_text("utf-8")) is not None


def _pages_to_run() -> list[Path]:
    return [page for page in _pages() if runs_python(page)]


def _all_table_rows() -> list[TableRow]:
    return [row for page in _pages() for row in read_table_rows(page)]


@pytest.mark.parametrize("block", _blocks_tagged("lead"), ids=lambda block: block.location)
def test_lead_block_compiles(block: Block) -> None:
    check_lead(block)


@pytest.mark.parametrize("block", _blocks_tagged("lead-error"), ids=lambda block: block.location)
def test_lead_error_block_raises(block: Block) -> None:
    check_lead_error(block)


@pytest.mark.parametrize("row", _all_table_rows(), ids=lambda row: row.location)
def test_checks_table_row(row: TableRow) -> None:
    check_table_row(row)


@pytest.mark.parametrize("page", _pages_to_run(), ids=_relative)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(read_blocks(page), tmp_path)


def test_language_reference_has_examples() -> None:
    page = DOCS / "language.md"
    tags = {block.tag for block in read_blocks(page)}
    assert {"lead", "lead-error", "python"} <= tags
    assert runs_python(page)
    assert read_table_rows(page)


# ---------------------------------------------------------------- the harness itself


SAMPLE = """\
# Sample

<!-- test_docs: run python -->

```lead sample.lead
scoring "S" { rule "R" { when contact.country == "CZ" award 10 } }
```

| Check | Rule text | First message |
|---|---|---|
| Floor set twice | `scoring "S" { floor 1 floor 2 }` | `'floor' is set twice in scoring 'S'` |

~~~python
import leadscore
engine = leadscore.load("sample.lead")
assert engine.rules("S") == ("R",)
~~~

```text
not run
```
"""


def test_read_blocks_tags_and_lines(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(SAMPLE, "utf-8")
    blocks = read_blocks(page)
    assert [(block.tag, block.argument, block.line) for block in blocks] == [
        ("lead", "sample.lead", 6),
        ("python", None, 14),
        ("text", None, 20),
    ]
    assert blocks[0].text == 'scoring "S" { rule "R" { when contact.country == "CZ" award 10 } }\n'


def test_read_table_rows_finds_checks(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(SAMPLE, "utf-8")
    [row] = read_table_rows(page)
    assert row.line == 11
    assert row.severity == "error"
    assert row.rule_text == 'scoring "S" { floor 1 floor 2 }'
    check_table_row(row)


def test_run_page_saves_files_for_python(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(SAMPLE, "utf-8")
    assert runs_python(page)
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        run_page(read_blocks(page), folder)
    assert (folder / "sample.lead").is_file()


def test_page_without_marker_does_not_run_python(tmp_path: Path) -> None:
    page = tmp_path / "illustration.md"
    page.write_text(SAMPLE.replace("<!-- test_docs: run python -->", ""), "utf-8")
    assert not runs_python(page)


def test_unclosed_fence_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("text\n\n```python\nassert True\n", "utf-8")
    with pytest.raises(
        ValueError, match=r"broken.md:3: the code block that starts here is never closed"
    ):
        read_blocks(page)


def test_wrong_expected_error_fails(tmp_path: Path) -> None:
    block = Block(
        tmp_path / "page.md",
        7,
        "lead-error",
        None,
        '# error: something else\nscoring "S" { floor 1 floor 2 }\n',
    )
    with pytest.raises(AssertionError, match=r"page.md:7: the first error differs"):
        check_lead_error(block)


def test_lead_error_needs_expected_message(tmp_path: Path) -> None:
    block = Block(tmp_path / "page.md", 3, "lead-error", None, 'scoring "S" { floor 1 floor 2 }\n')
    with pytest.raises(AssertionError, match=r"page.md:3: a lead-error block must start with"):
        check_lead_error(block)


def test_lead_block_with_warning_fails(tmp_path: Path) -> None:
    block = Block(tmp_path / "page.md", 5, "lead", None, 'scoring "S" { }\n')
    with pytest.raises(AssertionError, match=r"page.md:5: the lead block compiles with warnings"):
        check_lead(block)


def test_failing_python_block_names_its_line(tmp_path: Path) -> None:
    block = Block(tmp_path / "page.md", 21, "python", None, "total = 2 + 2\nassert total == 5\n")
    with pytest.raises(
        AssertionError, match=r"page.md:21: the python block that starts here failed"
    ) as caught:
        run_page([block], tmp_path)
    cause = caught.value.__cause__
    assert isinstance(cause, AssertionError)
    assert cause.__traceback__ is not None
    assert cause.__traceback__.tb_next is not None
    assert cause.__traceback__.tb_next.tb_lineno == 22
