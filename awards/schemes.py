"""Award schemes are data: one TOML file per scheme under ``awards/schemes/``.

A scheme names its criteria (with guidance for applicants and for assessors, and the training
topics that help with each), the scale assessors score on, the outcomes a panel may reach (each
with the length of the award it gives), the panel's rules and the application windows. Adding a
scheme is adding a file. :func:`awards.scheme_files.load_schemes` reads every file and refuses
the lot, naming the file, the line and the reason for each problem, when any file is invalid,
so a typo stops the application at start-up rather than confusing an applicant later.

The file format, with every key (those with a default may be left out)::

    name = "Inclusion kite-mark"
    description = "..."
    waitlist_priority = 10        # default 0: how far award holders' staff move up waiting lists

    [panel]
    minimum_assessors = 2         # default 2
    parent_carer_required = true  # default false

    [evidence]                    # both optional; config gives the defaults
    max_files = 30
    max_file_megabytes = 10

    [[scale]]                     # at least two levels, lowest first
    value = 0
    label = "Not yet met"

    [[outcomes]]                  # at least one that awards and one that does not
    key = "two_years"
    label = "Awarded for 2 years"
    award_months = 24             # 0: no award
    action_points = false         # true: the decision must list action points

    [[windows]]                   # at least one
    opens = 2026-09-01
    closes = 2027-03-31
    every_year = true             # default false: the window comes back each year

    [[criteria]]                  # at least one
    key = "universal"
    title = "..."
    applicant_guidance = "..."
    assessor_guidance = "..."
    topics = ["working_with_parents"]   # training topics (trainer.catalogue.Topic)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

SHIPPED_DIRECTORY = Path(__file__).parent / "schemes"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Level:
    """One step of a scoring scale."""

    value: int
    label: str
    description: str = ""


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str
    applicant_guidance: str
    assessor_guidance: str
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A panel's possible decision. ``award_months`` 0 means no award is made."""

    key: str
    label: str
    award_months: int
    action_points: bool = False
    description: str = ""

    @property
    def awards(self) -> bool:
        return self.award_months > 0


@dataclass(frozen=True)
class Window:
    """When applications may be started and submitted. An ``every_year`` window comes back on
    the same days each year (it may run over the new year: September to March)."""

    opens: date
    closes: date
    every_year: bool = False

    def occurrences(self, around: date) -> list[tuple[date, date]]:
        """The dates this window opens and closes near ``around`` (a year either side)."""
        if not self.every_year:
            return [(self.opens, self.closes)]
        found = []
        wraps = (self.closes.month, self.closes.day) < (self.opens.month, self.opens.day)
        for year in (around.year - 1, around.year, around.year + 1):
            opens = self.opens.replace(year=year)
            closes = self.closes.replace(year=year + 1 if wraps else year)
            found.append((opens, closes))
        return found


@dataclass(frozen=True)
class Scheme:
    key: str
    name: str
    description: str
    criteria: tuple[Criterion, ...]
    scale: tuple[Level, ...]
    outcomes: tuple[Outcome, ...]
    windows: tuple[Window, ...]
    minimum_assessors: int = 2
    parent_carer_required: bool = False
    waitlist_priority: float = 0
    max_files: int | None = None
    max_file_megabytes: float | None = None
    source: str = field(default="", compare=False)

    def criterion(self, key: str) -> Criterion | None:
        return next((item for item in self.criteria if item.key == key), None)

    def outcome(self, key: str) -> Outcome | None:
        return next((item for item in self.outcomes if item.key == key), None)

    def level(self, value: int | None) -> Level | None:
        return next((item for item in self.scale if item.value == value), None)

    @property
    def top_score(self) -> int:
        return max(level.value for level in self.scale)

    def window_on(self, day: date) -> tuple[date, date] | None:
        """The window open on ``day`` (its first and last days), or ``None``."""
        open_now = [
            (opens, closes)
            for window in self.windows
            for opens, closes in window.occurrences(day)
            if opens <= day <= closes
        ]
        return max(open_now, key=lambda span: span[1]) if open_now else None

    def next_window(self, day: date) -> tuple[date, date] | None:
        """The next window to open after ``day``, or ``None`` when no more are planned."""
        later = [
            (opens, closes)
            for window in self.windows
            for opens, closes in window.occurrences(day)
            if opens > day
        ]
        return min(later) if later else None


# -- the schemes of the running application ----------------------------------------------------

EXTENSION_KEY = "awards.schemes"


def install(app) -> dict[str, Scheme]:
    """Load the shipped schemes and those in ``AWARDS_SCHEME_DIRS`` onto ``app``; raises
    :class:`awards.scheme_files.SchemeError` (the application does not start) when any file
    is invalid. With ``AWARDS_SHIPPED_SCHEMES`` false only the configured folders are read."""
    directories = [SHIPPED_DIRECTORY] if app.config.get("AWARDS_SHIPPED_SCHEMES", True) else []
    extra = app.config.get("AWARDS_SCHEME_DIRS") or []
    if isinstance(extra, str):
        extra = [part for part in extra.split(",") if part.strip()]
    directories += [Path(directory) for directory in extra]
    from awards.scheme_files import load_schemes

    schemes = load_schemes(directories)
    app.extensions[EXTENSION_KEY] = schemes
    return schemes


def all_schemes() -> list[Scheme]:
    """Every scheme of the running application, by name."""
    from flask import current_app

    return sorted(current_app.extensions[EXTENSION_KEY].values(), key=lambda s: s.name)


def get_scheme(key: str) -> Scheme | None:
    from flask import current_app

    return current_app.extensions[EXTENSION_KEY].get(key)


def scheme_name(key: str) -> str:
    """The scheme's name, or its key when its file has gone (old rows stay readable)."""
    scheme = get_scheme(key)
    return scheme.name if scheme else key


def outcome_label(scheme_key: str, outcome_key: str) -> str:
    """The outcome's label ("Awarded for 2 years"), or its key when no longer defined."""
    scheme = get_scheme(scheme_key)
    outcome = scheme.outcome(outcome_key) if scheme else None
    return outcome.label if outcome else outcome_key
