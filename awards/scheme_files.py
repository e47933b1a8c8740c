"""Reading scheme files: TOML parsed with :mod:`tomllib`, then checked key by key, so every
problem is reported with its file, its line and a reason a scheme's author can act on. The
format is described in :mod:`awards.schemes`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from awards.schemes import KEY_PATTERN, Criterion, Level, Outcome, Scheme, Window
from trainer.catalogue import Topic


class SchemeError(Exception):
    """One or more scheme files are invalid. ``problems`` lists ``(file, line, reason)``."""

    def __init__(self, problems: list[tuple[str, int, str]]):
        self.problems = problems
        super().__init__(
            "Award scheme files are invalid:\n"
            + "\n".join(f"  {file}, line {line}: {reason}" for file, line, reason in problems)
        )


# -- reading -----------------------------------------------------------------------------------


def load_schemes(directories: Iterable[str | Path]) -> dict[str, Scheme]:
    """Read every ``*.toml`` in ``directories`` (in order) into schemes keyed by file name.

    Raises :class:`SchemeError` naming every problem in every file, or a clash of names
    between directories; nothing is loaded unless every file is valid.
    """
    schemes: dict[str, Scheme] = {}
    problems: list[tuple[str, int, str]] = []
    for directory in directories:
        for path in sorted(Path(directory).glob("*.toml")):
            scheme, found = read_scheme(path)
            problems.extend(found)
            if scheme is None:
                continue
            if scheme.key in schemes:
                problems.append((str(path), 1, f"a scheme called {scheme.key!r} is already "
                                 f"defined in {schemes[scheme.key].source}"))
                continue
            schemes[scheme.key] = scheme
    if problems:
        raise SchemeError(problems)
    return schemes


def read_scheme(path: Path) -> tuple[Scheme | None, list[tuple[str, int, str]]]:
    """Read one file: the scheme, or ``None`` with its problems."""
    text = path.read_text("utf-8")
    file = str(path)
    key = path.stem
    if not KEY_PATTERN.match(key):
        return None, [(file, 1, "the file name must be lower-case letters, digits and "
                       "underscores, starting with a letter (it becomes the scheme's key)")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        return None, [(file, int(match.group(1)) if match else 1, f"not valid TOML: {error}")]
    reader = _Reader(file, text)
    scheme = reader.scheme(key, data)
    return (None if reader.problems else scheme), reader.problems


class _Reader:
    """Checks one parsed file, collecting problems with the line each one is on."""

    def __init__(self, file: str, text: str):
        self.file = file
        self.lines = text.splitlines()
        self.problems: list[tuple[str, int, str]] = []

    # -- locating ------------------------------------------------------------------------------
    def line_of(self, path: tuple) -> int:
        """The line of ``path`` (``("criteria", 2, "topics")``): the key's own line, else its
        table's header, else 1."""
        start, end = 0, len(self.lines)
        rest = list(path)
        if rest and isinstance(rest[0], str) and len(rest) > 1:
            table = rest.pop(0)
            index = rest.pop(0) if rest and isinstance(rest[0], int) else None
            headers = [
                number for number, line in enumerate(self.lines)
                if re.match(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$", line)
            ]
            if index is not None and index < len(headers):
                start = headers[index]
            elif headers:
                start = headers[0]
            else:
                return self._key_line(table, 0, self._first_header()) or 1
            end = self._next_header(start + 1)
        else:
            end = self._first_header()
        if rest and isinstance(rest[0], str):
            found = self._key_line(rest[0], start, end)
            if found:
                return found
        return start + 1

    def _first_header(self) -> int:
        return self._next_header(0)

    def _next_header(self, start: int) -> int:
        for number in range(start, len(self.lines)):
            if re.match(r"^\s*\[", self.lines[number]):
                return number
        return len(self.lines)

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        for number in range(start, end):
            if re.match(rf"^\s*{re.escape(key)}\s*=", self.lines[number]):
                return number + 1
        return None

    def problem(self, path: tuple, reason: str) -> None:
        self.problems.append((self.file, self.line_of(path), reason))

    # -- values --------------------------------------------------------------------------------
    def text(self, table: dict, path: tuple, required: bool = True, default: str = "") -> str:
        value = table.get(path[-1], None)
        if value is None:
            if required:
                self.problem(path, f"{_name(path)} is missing")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(path, f"{_name(path)} must be some text in quotes")
            return default
        return value.strip()

    def integer(self, table: dict, path: tuple, default: int | None = None,
                minimum: int = 0) -> int | None:
        value = table.get(path[-1], default)
        if value is None:
            if default is None:
                self.problem(path, f"{_name(path)} is missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(path, f"{_name(path)} must be a whole number of at least {minimum}")
            return default
        return value

    def number(self, table: dict, path: tuple, default: float | None) -> float | None:
        value = table.get(path[-1], default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.problem(path, f"{_name(path)} must be a number, 0 or more")
            return default
        return value

    def boolean(self, table: dict, path: tuple, default: bool) -> bool:
        value = table.get(path[-1], default)
        if not isinstance(value, bool):
            self.problem(path, f"{_name(path)} must be true or false")
            return default
        return value

    def tables(self, data: dict, name: str, least: int) -> list[dict]:
        value = data.get(name)
        if value is None:
            self.problem((name,), f"there must be at least {least} [[{name}]]")
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem((name,), f"{name} must be written as [[{name}]] tables")
            return []
        if len(value) < least:
            self.problem((name, 0), f"there must be at least {least} [[{name}]]")
        return value

    def unknown_keys(self, table: dict, allowed: set[str], path: tuple) -> None:
        for key in table:
            if key not in allowed:
                self.problem(path + (key,), f"unknown key {key!r} (expected one of "
                             f"{', '.join(sorted(allowed))})")

    # -- the scheme ----------------------------------------------------------------------------
    def scheme(self, key: str, data: dict[str, Any]) -> Scheme | None:
        self.unknown_keys(data, {"name", "description", "waitlist_priority", "panel",
                                 "evidence", "scale", "outcomes", "windows", "criteria"}, ())
        name = self.text(data, ("name",))
        description = self.text(data, ("description",))
        priority = self.number(data, ("waitlist_priority",), 0) or 0

        panel = data.get("panel", {})
        if not isinstance(panel, dict):
            self.problem(("panel",), "panel must be a [panel] table")
            panel = {}
        self.unknown_keys(panel, {"minimum_assessors", "parent_carer_required"}, ("panel", 0))
        minimum = self.integer(panel, ("panel", 0, "minimum_assessors"), 2, minimum=1)
        parent_carer = self.boolean(panel, ("panel", 0, "parent_carer_required"), False)

        evidence = data.get("evidence", {})
        if not isinstance(evidence, dict):
            self.problem(("evidence",), "evidence must be an [evidence] table")
            evidence = {}
        self.unknown_keys(evidence, {"max_files", "max_file_megabytes"}, ("evidence", 0))
        max_files = self.integer(evidence, ("evidence", 0, "max_files"), 0, minimum=1) or None
        max_megabytes = self.number(evidence, ("evidence", 0, "max_file_megabytes"), None)

        scale = self.scale(data)
        outcomes = self.outcomes(data)
        windows = self.windows(data)
        criteria = self.criteria(data)
        if self.problems:
            return None
        return Scheme(
            key=key, name=name, description=description, criteria=tuple(criteria),
            scale=tuple(scale), outcomes=tuple(outcomes), windows=tuple(windows),
            minimum_assessors=minimum or 2, parent_carer_required=parent_carer,
            waitlist_priority=priority, max_files=max_files,
            max_file_megabytes=max_megabytes or None, source=self.file,
        )

    def scale(self, data: dict) -> list[Level]:
        levels = []
        for index, table in enumerate(self.tables(data, "scale", 2)):
            path = ("scale", index)
            self.unknown_keys(table, {"value", "label", "description"}, path)
            value = self.integer(table, path + ("value",), minimum=0)
            label = self.text(table, path + ("label",))
            detail = self.text(table, path + ("description",), required=False)
            if value is not None and any(level.value == value for level in levels):
                self.problem(path + ("value",), f"scale value {value} is used twice")
            elif levels and value is not None and value < levels[-1].value:
                self.problem(path + ("value",), "scale levels must go from lowest to highest")
            levels.append(Level(value if value is not None else -1, label, detail))
        return levels

    def outcomes(self, data: dict) -> list[Outcome]:
        outcomes: list[Outcome] = []
        before = len(self.problems)
        tables = self.tables(data, "outcomes", 2)
        for index, table in enumerate(tables):
            path = ("outcomes", index)
            self.unknown_keys(table, {"key", "label", "award_months", "action_points",
                                      "description"}, path)
            key = self.key(table, path)
            if key and any(outcome.key == key for outcome in outcomes):
                self.problem(path + ("key",), f"outcome key {key!r} is used twice")
            outcomes.append(Outcome(
                key=key, label=self.text(table, path + ("label",)),
                award_months=self.integer(table, path + ("award_months",), minimum=0) or 0,
                action_points=self.boolean(table, path + ("action_points",), False),
                description=self.text(table, path + ("description",), required=False),
            ))
        if len(tables) >= 2 and len(self.problems) == before:
            if not any(outcome.awards for outcome in outcomes):
                self.problem(("outcomes", 0), "at least one outcome must make an award "
                             "(award_months more than 0)")
            if all(outcome.awards for outcome in outcomes):
                self.problem(("outcomes", 0), "at least one outcome must make no award "
                             "(award_months = 0), so a panel can ask for a resubmission")
        return outcomes

    def windows(self, data: dict) -> list[Window]:
        windows = []
        for index, table in enumerate(self.tables(data, "windows", 1)):
            path = ("windows", index)
            self.unknown_keys(table, {"opens", "closes", "every_year"}, path)
            every_year = self.boolean(table, path + ("every_year",), False)
            opens = self.day(table, path + ("opens",), every_year)
            closes = self.day(table, path + ("closes",), every_year)
            if opens is None or closes is None:
                continue
            if not every_year and closes < opens:
                self.problem(path + ("closes",), "the window must close on or after it opens")
                continue
            if every_year and (closes - opens) > timedelta(days=366):
                self.problem(path + ("closes",), "a window that comes back every year must "
                             "be shorter than a year")
                continue
            windows.append(Window(opens, closes, every_year))
        return windows

    def day(self, table: dict, path: tuple, every_year: bool) -> date | None:
        value = table.get(path[-1])
        if value is None:
            self.problem(path, f"{_name(path)} is missing")
            return None
        if not isinstance(value, date) or hasattr(value, "hour"):
            self.problem(path, f"{_name(path)} must be a date written like 2026-09-01 "
                         "(no quotes)")
            return None
        if every_year and (value.month, value.day) == (2, 29):
            self.problem(path, "a window that comes back every year cannot use 29 February")
            return None
        return value

    def criteria(self, data: dict) -> list[Criterion]:
        criteria: list[Criterion] = []
        known_topics = {str(topic) for topic in Topic}
        for index, table in enumerate(self.tables(data, "criteria", 1)):
            path = ("criteria", index)
            self.unknown_keys(table, {"key", "title", "applicant_guidance",
                                      "assessor_guidance", "topics"}, path)
            key = self.key(table, path)
            if key and any(criterion.key == key for criterion in criteria):
                self.problem(path + ("key",), f"criterion key {key!r} is used twice")
            topics = table.get("topics", [])
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                self.problem(path + ("topics",), "topics must be a list of topic names in "
                             "quotes")
                topics = []
            for topic in topics:
                if topic not in known_topics:
                    self.problem(path + ("topics",), f"{topic!r} is not a training topic "
                                 f"(choose from {', '.join(sorted(known_topics))})")
            criteria.append(Criterion(
                key=key, title=self.text(table, path + ("title",)),
                applicant_guidance=self.text(table, path + ("applicant_guidance",)),
                assessor_guidance=self.text(table, path + ("assessor_guidance",)),
                topics=tuple(t for t in topics if t in known_topics),
            ))
        return criteria

    def key(self, table: dict, path: tuple) -> str:
        key = self.text(table, path + ("key",))
        if key and not KEY_PATTERN.match(key):
            self.problem(path + ("key",), f"key {key!r} must be lower-case letters, digits "
                         "and underscores, starting with a letter")
        return key


SINGLE_TABLES = {"panel", "evidence"}


def _name(path: tuple) -> str:
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            if parts[-1] not in SINGLE_TABLES:
                parts[-1] = f"{parts[-1]}[{part + 1}]"
        else:
            parts.append(part)
    return ".".join(parts) if parts else "the file"
