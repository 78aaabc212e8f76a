"""Compile several rule files into one engine, so rules and test blocks can live in separate files.

The files are combined as if they were one file: their scorings, declarations and
test blocks are checked together, in the order the files are given. Each problem
still names the file it is in. A scoring name may be used in only one file, and a
file given twice is read once.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from leadscore.config import rule_file_from_config
from leadscore.engine import Engine, Evaluator
from leadscore.errors import ConfigError, Problem, RuleCheckError, SourceLocation
from leadscore.language import syntax as ast
from leadscore.language.checker import check
from leadscore.language.parser import parse

__all__ = ["CONFIG_SUFFIXES", "load_rule_files", "read_rule_file"]

# Files with these suffixes are config mappings; every other file is rule text.
CONFIG_SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def read_rule_file(path: str | os.PathLike[str], source: str | None = None) -> ast.RuleFile:
    """Parse one rule file, or turn one config file into rules; raises RuleSyntaxError or ConfigError.

    ``source`` is the file name that messages show, ``path`` as given by default.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in CONFIG_SUFFIXES:
        return parse(file.read_text("utf-8"), str(path) if source is None else source)
    config: Any
    if suffix == ".toml":
        with file.open("rb") as stream:
            config = tomllib.load(stream)
    elif suffix == ".json":
        config = json.loads(file.read_text("utf-8"))
    else:
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigError(f"{file} is YAML, which needs PyYAML: pip install pyyaml") from None
        config = yaml.safe_load(file.read_text("utf-8"))
    try:
        return rule_file_from_config(config)
    except ConfigError as error:
        raise ConfigError(f"{source or file}: {error}") from None


def load_rule_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    default_timezone: str | ZoneInfo | None = None,
    evaluator: Evaluator = "compiled",
    relative_to: str | os.PathLike[str] | None = None,
) -> Engine:
    """Compile the scorings, declarations and test blocks of ``paths`` into one engine.

    The engine's ``program.tests`` holds the test blocks of every file, in file order.
    Messages name each file as given, or relative to the folder ``relative_to`` when
    the file is inside it.
    Raises RuleSyntaxError for the first file that does not parse, RuleCheckError
    listing every static error of all files, ConfigError for an invalid config file,
    and OSError for a file that cannot be read.
    """
    seen: set[Path] = set()
    items: list[ast.Item] = []
    for path in paths:
        resolved = Path(path).resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        items.extend(read_rule_file(path, _source_name(path, relative_to)).items)
    if not seen:
        raise ValueError("load_rule_files needs at least one file")

    items, problems = _drop_repeated_scorings(items)
    try:
        program = check(ast.RuleFile(tuple(items)))
    except RuleCheckError as error:
        problems.extend(error.problems)
    if problems:
        raise RuleCheckError(problems)
    return Engine(program, default_timezone=default_timezone, evaluator=evaluator)


def _source_name(path: str | os.PathLike[str], folder: str | os.PathLike[str] | None) -> str:
    if folder is None:
        return str(path)
    try:
        return str(Path(path).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return str(path)


def _drop_repeated_scorings(items: list[ast.Item]) -> tuple[list[ast.Item], list[Problem]]:
    """Report a scoring name used in a second file, and leave that scoring out of the check.

    The checker reports repeats within one file itself, with the line of the first; a
    repeat across files needs the first file's name too.
    """
    first: dict[str, ast.Scoring] = {}
    kept: list[ast.Item] = []
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, ast.Scoring):
            earlier = first.get(item.name)
            if earlier is not None and earlier.span.origin.source != item.span.origin.source:
                problems.append(_repeated_scoring(item, earlier))
                continue
            first.setdefault(item.name, item)
        kept.append(item)
    return kept, problems


def _repeated_scoring(item: ast.Scoring, earlier: ast.Scoring) -> Problem:
    span = item.name_span
    location = SourceLocation(
        source=span.origin.source,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        source_line=span.origin.line(span.line),
        scoring=item.name,
    )
    return Problem(
        "error",
        f"duplicate scoring name '{item.name}'; the first is in {earlier.span.origin.source} "
        f"on line {earlier.span.line}",
        location,
        hint="give the scoring another name, or leave one of the files out",
    )
