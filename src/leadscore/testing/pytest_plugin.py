"""pytest plugin: engine fixtures, and the ``test`` blocks of ``.lead`` files as pytest tests.

Options, each also an ini setting (in ``pyproject.toml`` under ``[tool.pytest.ini_options]``):

``--leadscore-rules PATH`` / ``leadscore_rules``
    Rule files for the ``leadscore_engine`` fixture, and the rules that every
    collected ``.lead`` file is compiled with. The option may be repeated. Paths in the
    ini setting are relative to the ini file, and paths on the command line to the
    current folder.
``--leadscore-collect`` / ``leadscore_collect = true``
    Collect the test blocks of ``.lead`` files. It is off by default, so example rule
    files in a repository are not collected by accident.

A collected ``.lead`` file is compiled together with the ``leadscore_rules`` files, as
``leadscore test`` combines files, and each of its test blocks becomes one test named
after the block. A file that does not parse or check is a collection error that shows
file, line, column and a caret, not a traceback.

Fixtures: ``leadscore_engine`` (the engine of ``leadscore_rules``) and ``load_engine``,
a function that compiles the files it is given, relative to the rootdir, once per
session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from leadscore.engine import Engine
from leadscore.errors import ConfigError, RuleCheckError, RuleError
from leadscore.language import syntax as ast
from leadscore.testing.assertions import ScoreMismatch
from leadscore.testing.blocks import check_test_blocks, run_test_block
from leadscore.testing.files import load_rule_files
from leadscore.testing.report import quote

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

__all__ = ["LeadFile", "LeadTestItem", "LeadscoreRuleWarning", "leadscore_engine", "load_engine"]

_ENGINES = pytest.StashKey[dict[tuple[str, ...], Engine]]()


class LeadscoreRuleWarning(pytest.PytestWarning):
    """A warning about rules or test blocks, such as an activity type that no rule reads."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leadscore", "leadscore rule files")
    group.addoption(
        "--leadscore-rules",
        action="append",
        default=[],
        metavar="PATH",
        help="a rule file for the leadscore_engine fixture and for collected .lead files; "
        "repeat for several files",
    )
    group.addoption(
        "--leadscore-collect",
        action="store_true",
        default=False,
        help="collect the test blocks of .lead files as tests",
    )
    parser.addini(
        "leadscore_rules",
        type="paths",
        default=[],
        help="rule files for the leadscore_engine fixture and for collected .lead files",
    )
    parser.addini(
        "leadscore_collect",
        type="bool",
        default=False,
        help="collect the test blocks of .lead files as tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ENGINES] = {}


def _rule_paths(config: pytest.Config) -> list[Path]:
    """Return the configured rule files: the command-line option, else the ini setting."""
    given: list[str] = config.getoption("leadscore_rules") or []
    if given:
        folder = config.invocation_params.dir
        return [(folder / path).resolve() for path in given]
    return [Path(path).resolve() for path in config.getini("leadscore_rules")]


def _engine(config: pytest.Config, paths: Sequence[Path]) -> Engine:
    """Compile ``paths`` together once per session; raises RuleError or ConfigError."""
    key = tuple(str(path) for path in paths)
    engines = config.stash[_ENGINES]
    if key not in engines:
        engines[key] = load_rule_files(paths, relative_to=config.rootpath)
    return engines[key]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> LeadFile | None:
    config = parent.config
    if file_path.suffix != ".lead":
        return None
    if not (config.getoption("leadscore_collect") or config.getini("leadscore_collect")):
        return None
    file: LeadFile = LeadFile.from_parent(parent, path=file_path)
    return file


class LeadFile(pytest.File):
    """A ``.lead`` file whose test blocks are collected as tests."""

    def collect(self) -> Iterator[LeadTestItem]:
        own = self.path.resolve()
        paths = [path for path in _rule_paths(self.config) if path != own] + [own]
        engine = _engine(self.config, paths)
        blocks = [block for block in engine.program.tests if _is_in(block, own, self.config)]

        for warning in engine.warnings:
            self.warn(LeadscoreRuleWarning(str(warning)))
        problems = check_test_blocks(engine, blocks)
        errors = [problem for problem in problems if problem.severity == "error"]
        if errors:
            raise RuleCheckError(errors)
        for problem in problems:
            self.warn(LeadscoreRuleWarning(str(problem)))

        for block in blocks:
            yield LeadTestItem.from_parent(self, name=block.name, block=block, engine=engine)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        # Rule errors already name the file, line and column, and show a caret.
        if isinstance(excinfo.value, RuleError | ConfigError):
            return str(excinfo.value)
        if isinstance(excinfo.value, OSError):
            return _os_error_text(excinfo.value)
        return super().repr_failure(excinfo)


def _os_error_text(error: OSError) -> str:
    return f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")


def _is_in(block: ast.TestBlock, path: Path, config: pytest.Config) -> bool:
    source = Path(block.span.origin.source)
    if not source.is_absolute():
        source = config.rootpath / source
    return source.resolve() == path


class LeadTestItem(pytest.Item):
    """One test block of a ``.lead`` file."""

    def __init__(self, *, block: ast.TestBlock, engine: Engine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = block
        self.engine = engine

    def runtest(self) -> None:
        outcome = run_test_block(self.engine, self.block)
        if outcome.mismatch is not None:
            raise outcome.mismatch

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScoreMismatch):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, self.block.span.line - 1, f"test {quote(self.block.name)}"


@pytest.fixture(scope="session")
def load_engine(pytestconfig: pytest.Config) -> Callable[..., Engine]:
    """Return a function that compiles rule files together, relative to the rootdir, once per session.

    Example: ``engine = load_engine("rules/product-a.lead", "rules/product-a-tests.lead")``.
    A file that does not parse or check fails the test with the rule error.
    """

    def load(*paths: str | os.PathLike[str]) -> Engine:
        if not paths:
            raise ValueError("load_engine needs at least one rule file")
        resolved = [(pytestconfig.rootpath / path).resolve() for path in paths]
        try:
            return _engine(pytestconfig, resolved)
        except (RuleError, ConfigError) as error:
            pytest.fail(str(error), pytrace=False)
        except OSError as error:
            pytest.fail(_os_error_text(error), pytrace=False)

    return load


@pytest.fixture(scope="session")
def leadscore_engine(pytestconfig: pytest.Config) -> Engine:
    """Return the engine compiled from the ``--leadscore-rules`` files or the ``leadscore_rules`` ini setting."""
    paths = _rule_paths(pytestconfig)
    if not paths:
        pytest.fail(
            "the leadscore_engine fixture needs rule files: pass --leadscore-rules PATH, "
            "or set leadscore_rules in the pytest configuration",
            pytrace=False,
        )
    try:
        return _engine(pytestconfig, paths)
    except (RuleError, ConfigError) as error:
        pytest.fail(str(error), pytrace=False)
    except OSError as error:
        pytest.fail(_os_error_text(error), pytrace=False)
