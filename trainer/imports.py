"""CSV imports: what every kind of import shares.

An :class:`Importer` describes one kind of file: its ``kind`` (the slug in addresses), a title
and description, the *key* rows are matched by (in words) and its :class:`Column` s. The core's
importers (settings, training sessions, attendance records) are in :mod:`trainer.importers`;
plugins add theirs with the ``trainer_importers`` hook; :func:`importers` gathers them all.

:func:`run` reads an uploaded file and imports it, all or nothing:

1. the file must be UTF-8 CSV (a byte order mark, as Excel writes, is fine), no bigger than
   ``IMPORT_MAX_BYTES`` and no longer than ``IMPORT_MAX_ROWS`` rows;
2. the header row must name every required column and no unknown one;
3. every row is checked — required cells, lengths, then the importer's own
   :meth:`Importer.validate` — and every problem is reported with its line in the file (the
   header is line 1), its column and a message;
4. only when there is no problem at all does :meth:`Importer.apply` write, in the same
   :func:`trainer.db.write_transaction` as the validation (so what was checked is what is
   written), and the result counts the rows created, updated and unchanged.

Rows are matched to what exists by each importer's key, so importing the same file twice
changes nothing the second time: every row is "unchanged".
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from trainer import hooks
from trainer.catalogue import Meeting, TrainingSession
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.documents import spreadsheet_safe
from trainer.forms import POSTCODE, normalise_postcode, parse_day
from trainer.people import LocalAuthority, Region, User, normalise_email
from trainer.times import LONDON, NoSuchTime, day, london_to_utc

REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]*$")
ONS_CODE = re.compile(r"^E\d{8}$", re.IGNORECASE)
TIME_24 = re.compile(r"(\d{1,2})[:.](\d{2})(?::\d{2})?")
TIME_12 = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?m\.?", re.IGNORECASE)
YES = {"yes", "y", "true", "1", "attended", "present"}
NO = {"no", "n", "false", "0", "absent", "did not attend"}
WORKBOOK_STARTS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx / .ods and old .xls
SAVE_AS_CSV = "In your spreadsheet, save it as “CSV UTF-8 (comma delimited)” and upload that"


# -- describing an import ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import: its name in the header row, whether every row must fill it,
    what it holds, an example value (used in the template) and optionally a length limit."""

    name: str
    description: str
    example: str = ""
    required: bool = False
    max_length: int | None = None


@dataclass(frozen=True)
class Problem:
    """Something wrong with the file: at ``line`` (the header is line 1; ``None`` for the
    file as a whole), in ``column`` (``None`` for the whole line), and what to do about it."""

    line: int | None
    column: str | None
    message: str


@dataclass
class Row:
    """One line of data: its line number in the file and its cells by column name (trimmed;
    ``""`` when empty or when the file has no such column). ``data`` is the importer's to
    keep what :meth:`Importer.validate` found, for :meth:`Importer.apply`."""

    line: int
    values: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class Counts:
    """How many rows created something, changed something, or found it already so."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Context:
    """What an import runs with: the time (``now``, aware UTC) and who runs it (``by``)."""

    now: datetime
    by: User | None = None


class Problems:
    """Problems found while validating, in the order found."""

    def __init__(self):
        self.items: list[Problem] = []

    def add(self, row: Row | int | None, column: str | None, message: str) -> None:
        line = row.line if isinstance(row, Row) else row
        self.items.append(Problem(line, column, message))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


class Importer:
    """One kind of CSV import. Subclass it, fill in the description and write
    :meth:`validate` and :meth:`apply`.

    ``kind`` is a slug unique among importers (it appears in addresses); ``key`` says in
    words which columns identify a row's record, so importing a file again finds the same
    records instead of adding new ones.
    """

    kind: str = ""
    title: str = ""
    description: str = ""
    key: str = ""
    columns: tuple[Column, ...] = ()

    def validate(self, rows: list[Row], context: Context) -> list[Problem] | Problems:
        """Check every row and return every problem (an empty list when all is well).

        Called with all the rows, inside the import's transaction, after each required cell
        was checked to be filled and each cell to be within its column's length (those
        problems are already reported: skip checks on cells that are empty). Look up what
        rows refer to in bulk, lock what counts depend on (:func:`trainer.db.lock_row`),
        report a duplicate key on its second line, and keep what you found in ``row.data``
        for :meth:`apply`. Anything written here is kept only if the import is saved.
        """
        raise NotImplementedError

    def apply(self, rows: list[Row], context: Context) -> Counts:
        """Write every row; called only when :meth:`validate` found no problem, in the same
        transaction (do not commit). Return how many rows created, updated or left a record
        unchanged: a row that matches what is stored changes nothing."""
        raise NotImplementedError

    # -- derived from the description ---------------------------------------------------------

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def template_csv(self) -> str:
        """The header row and one example row, as CSV text."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.column_names)
        writer.writerow([spreadsheet_safe(column.example) for column in self.columns])
        return buffer.getvalue()


def importers() -> dict[str, Importer]:
    """Every importer by kind: the core's, then each plugin's (``trainer_importers``). A
    plugin's importer whose kind is taken already is left out."""
    from trainer.importers import CORE_IMPORTERS  # they build on this module

    found: dict[str, Importer] = {}
    answers = [CORE_IMPORTERS, *hooks.call("trainer_importers")]
    for answer in answers:
        for importer in answer if isinstance(answer, list | tuple) else [answer]:
            found.setdefault(importer.kind, importer)
    return found


# -- running an import ---------------------------------------------------------------------------


@dataclass
class Result:
    """What an import did: its problems (nothing was saved) or its counts."""

    problems: list[Problem]
    counts: Counts | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class _Refused(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def describe_size(size: int) -> str:
    """``5 MB``, ``500 KB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{max(size // 1024, 1)} KB"


def run(importer: Importer, data: bytes, by: User | None = None,
        now: datetime | None = None) -> Result:
    """Read the CSV ``data`` and import it with ``importer``, all or nothing.

    Returns a :class:`Result`: every problem found (and nothing saved), or the counts of rows
    created, updated and unchanged. May raise :class:`trainer.db.Busy` when the database is
    busy; nothing is saved then either.
    """
    rows, problems = read(importer, data)
    if rows is None:
        return Result(problems)
    context = Context(now=now or utcnow(), by=by)
    try:
        with write_transaction():
            found = problems + list(importer.validate(rows, context))
            if found:
                raise _Refused(found)
            counts = importer.apply(rows, context)
            db.session.flush()
    except _Refused as refused:
        return Result(_in_order(refused.problems, importer))
    except IntegrityError:
        return Result([Problem(None, None, "Someone changed the same records while the file "
                                           "was being imported, so nothing was saved. Upload "
                                           "the file again.")])
    return Result([], counts)


def _in_order(problems: Iterable[Problem], importer: Importer) -> list[Problem]:
    """By line, then in the order of the columns (whole-line problems first)."""
    position = {name: number for number, name in enumerate(importer.column_names, start=1)}
    return sorted(problems, key=lambda problem: (problem.line or 0,
                                                 position.get(problem.column or "", 0)))


def header_name(cell: str) -> str:
    """A header cell as a column name: trimmed, lower case, spaces as underscores."""
    return re.sub(r"[\s_]+", "_", cell.replace("\ufeff", "").strip().lower())


def read(importer: Importer, data: bytes) -> tuple[list[Row] | None, list[Problem]]:
    """The file's rows and the problems of their cells (values beyond the header, empty
    required cells, cells too long); or ``None`` and the problems that stop the file being
    read at all: empty, too big, not CSV, not UTF-8, too many rows, a bad header."""
    config = current_app.config
    max_bytes, max_rows = int(config["IMPORT_MAX_BYTES"]), int(config["IMPORT_MAX_ROWS"])

    def refuse(message: str, line: int | None = None) -> tuple[None, list[Problem]]:
        return None, [Problem(line, None, message)]

    if not data or not data.strip():
        return refuse("The selected file is empty")
    if len(data) > max_bytes:
        return refuse(f"The selected file must be smaller than {describe_size(max_bytes)}")
    if data.startswith(WORKBOOK_STARTS):
        return refuse(f"The selected file is a spreadsheet workbook, not a CSV file. "
                      f"{SAVE_AS_CSV}")
    if b"\x00" in data:
        return refuse(f"The selected file is not a CSV file of UTF-8 text. {SAVE_AS_CSV}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return refuse(f"Line {line} is not UTF-8 text, so the file cannot be read. "
                      f"{SAVE_AS_CSV}", line)

    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
                if len(records) > max_rows + 1:
                    return refuse(f"The file has more than {max_rows:,} rows. Split it into "
                                  f"files of {max_rows:,} rows or fewer")
            start = reader.line_num + 1
    except csv.Error as error:
        return refuse(f"Line {start} cannot be read as CSV ({error}). Check its quotation "
                      "marks", start)
    if not records:
        return refuse("The selected file is empty")

    header_line, header = records[0]
    problems = Problems()
    names = [header_name(cell) for cell in header]
    known = set(importer.column_names)
    seen: set[str] = set()
    for name, cell in zip(names, header, strict=True):
        if not name:
            continue
        if name not in known:
            problems.add(header_line, None,
                         f"The column “{cell.strip()}” is not one this import uses. The "
                         f"columns are: {', '.join(importer.column_names)}")
        elif name in seen:
            problems.add(header_line, name, f"The column “{name}” appears more than once")
        seen.add(name)
    for column in importer.columns:
        if column.required and column.name not in seen:
            problems.add(header_line, column.name, f"The file has no “{column.name}” column")
    if len(records) == 1 and not problems:
        problems.add(None, None, "The file has a header row but no rows of data")
    if problems:
        return None, list(problems)

    positions = {name: index for index, name in enumerate(names) if name}
    rows = []
    for line, cells in records[1:]:
        row = Row(line, {name: (cells[index].strip() if index < len(cells) else "")
                         for name, index in positions.items()})
        stray = [index for index, cell in enumerate(cells)
                 if cell.strip() and (index >= len(names) or not names[index])]
        if stray:
            problems.add(row, None,
                         f"This line has a value in column {stray[0] + 1}, which has no "
                         "heading in the header row")
        for column in importer.columns:
            value = row[column.name]
            if column.required and not value:
                problems.add(row, column.name, f"Enter the {column.name.replace('_', ' ')}")
            elif column.max_length and len(value) > column.max_length:
                problems.add(row, column.name,
                             f"Must be {column.max_length} characters or fewer "
                             f"(it has {len(value)})")
        rows.append(row)
    return rows, list(problems)


# -- reading cells -------------------------------------------------------------------------------


def parse_yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError("Enter yes or no")


def parse_whole_number(text: str, lowest: int, highest: int) -> int:
    value = text.strip().replace(",", "")
    if not (value.isascii() and value.isdigit()) or not lowest <= int(value) <= highest:
        raise ValueError(f"Enter a whole number from {lowest:,} to {highest:,}")
    return int(value)


def parse_time(text: str) -> time:
    """``18:30``, ``18.30``, ``18:30:00``, ``6:30pm``, ``6pm``."""
    value = text.strip()
    problem = ValueError("Enter a time like 18:30 or 6:30pm")
    if match := TIME_24.fullmatch(value):
        hour, minute = int(match[1]), int(match[2])
    elif match := TIME_12.fullmatch(value):
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12:
            raise problem
        hour = hour % 12 + (12 if match[3].lower() == "p" else 0)
    else:
        raise problem
    if hour > 23 or minute > 59:
        raise problem
    return time(hour, minute)


def parse_date(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as error:
        raise ValueError("Enter a real date, like 2026-03-12 or 12/03/2026") from error


def london_instant(on: date, clock: time) -> datetime:
    """The UTC instant of a London date and time; a time the clocks skip is a problem."""
    try:
        return london_to_utc(datetime.combine(on, clock))
    except NoSuchTime as error:
        raise ValueError(f"There is no {clock:%H:%M} on {day(on)} in London: the clocks go "
                         "forward that night") from error


def parse_email(text: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError("Enter an email address in the correct format, like "
                         "name@example.com") from error
    return normalise_email(text)


def normalise_reference(text: str) -> str:
    """A training session reference as stored: trimmed, upper case."""
    return text.strip().upper()


def parse_reference(text: str) -> str:
    value = normalise_reference(text)
    if not REFERENCE.fullmatch(value) or not any(character.isalpha() for character in value):
        raise ValueError("Use letters, digits, hyphens, dots, slashes and underscores, with "
                         "at least one letter, like EYIP-2026-041")
    return value


def parse_postcode(text: str) -> str:
    value = normalise_postcode(text)
    if not POSTCODE.match(value):
        raise ValueError("Enter a real postcode, like LS1 4AP")
    return value


def parse_url(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", value, re.IGNORECASE):
        raise ValueError("Enter a web address starting https://, like "
                         "https://meet.example.org/session")
    return value


def plain(text: str) -> str:
    """Text compared ignoring capitals, runs of spaces and curly apostrophes and quotes."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split()).casefold()


class Places:
    """England's local authorities and regions, found by ONS code or by name."""

    def __init__(self):
        self.authorities = {la.ons_code.upper(): la for la in db.session.scalars(
            sa.select(LocalAuthority))}
        self.authority_names: dict[str, list[LocalAuthority]] = defaultdict(list)
        for authority in self.authorities.values():
            self.authority_names[plain(authority.name)].append(authority)
        self.regions = {region.code.upper(): region
                        for region in db.session.scalars(sa.select(Region))}
        self.region_names = {plain(region.name): region for region in self.regions.values()}

    def local_authority(self, text: str) -> LocalAuthority:
        value = text.strip()
        if ONS_CODE.fullmatch(value):
            found = self.authorities.get(value.upper())
            if found is None:
                raise ValueError(f"There is no local authority with the ONS code “{value}”")
            return found
        matches = self.authority_names.get(plain(value), [])
        if len(matches) > 1:
            raise ValueError(f"Several local authorities are called “{value}”: give its ONS "
                             "code")
        if not matches:
            raise ValueError(f"There is no local authority called “{value}”. Give its ONS "
                             "code, like E08000035, or its name, like Leeds")
        return matches[0]

    def region(self, text: str) -> Region:
        value = text.strip()
        found = self.regions.get(value.upper()) or self.region_names.get(plain(value))
        if found is None:
            raise ValueError(f"There is no region called “{value}”. Give one of England's "
                             "nine regions, like Yorkshire and The Humber")
        return found


class Check:
    """Reads cells for :meth:`Importer.validate`: each parser's problem is added to
    ``problems`` against the row and column, and the value is ``None``."""

    def __init__(self, problems: Problems):
        self.problems = problems

    def __call__(self, row: Row, column: str, parser, *args):
        value = row[column]
        if not value:
            return None
        try:
            return parser(value, *args)
        except ValueError as error:
            self.problems.add(row, column, str(error))
            return None


def choice_parser(labels: dict[str, str], what: str, listed: str | None = None):
    """A parser accepting a choice's value or its label, ignoring capitals and spaces; its
    problem lists the values (or says ``listed``)."""
    accepted = {}
    for value, label in labels.items():
        accepted[plain(value)] = str(value)
        accepted[plain(value.replace("_", " "))] = str(value)
        accepted[plain(label)] = str(value)

    def parse(text: str) -> str:
        found = accepted.get(plain(text))
        if found is None:
            raise ValueError(f"Enter a {what}: {listed or ', '.join(map(str, labels))}")
        return found

    return parse


class Duplicates:
    """Reports a key seen before on its second (and later) line."""

    def __init__(self, problems: Problems, what: str):
        self.problems, self.what, self.seen = problems, what, {}

    def check(self, row: Row, key, column: str) -> bool:
        """``True`` when ``key`` is new; else reports the duplicate."""
        if key in self.seen:
            self.problems.add(row, column, f"Line {self.seen[key]} is about the same "
                                           f"{self.what}: each may appear only once")
            return False
        self.seen[key] = row.line
        return True


def sessions_by_reference(references: Iterable[str], lock: bool = False
                          ) -> dict[str, TrainingSession]:
    """Training sessions by reference, or by number (a reference always has a letter, so a
    number is the session's id, as in the address of its page); keyed by the text as
    :func:`normalise_reference` leaves it. With ``lock``, each is locked for the rest of the
    transaction (in id order, so two imports never wait for each other in a circle)."""
    wanted = {normalise_reference(reference) for reference in references if reference}
    numbers = {int(text) for text in wanted if text.isascii() and text.isdigit()
               and len(text) < 10}
    labelled = sorted(text for text in wanted if not text.isdigit())
    if not wanted:
        return {}
    found: dict[str, TrainingSession] = {}
    if labelled:
        found.update({item.reference: item for item in db.session.scalars(
            sa.select(TrainingSession).where(TrainingSession.reference.in_(labelled)))})
    if numbers:
        found.update({str(item.id): item for item in db.session.scalars(
            sa.select(TrainingSession).where(TrainingSession.id.in_(numbers)))})
    if lock:
        for item in sorted({item.id: item for item in found.values()}.values(),
                           key=lambda item: item.id):
            lock_row(TrainingSession, item.id)
    return found


def users_by_email(emails: Iterable[str]) -> dict[str, User]:
    wanted = sorted({normalise_email(email) for email in emails if email})
    if not wanted:
        return {}
    return {user.email: user for user in db.session.scalars(
        sa.select(User).where(User.email.in_(wanted)))}


def meeting_on(training_session: TrainingSession, text: str) -> Meeting:
    """The session's meeting on the London day ``text``; a problem when there is none."""
    wanted = parse_date(text)
    for meeting in training_session.meetings:
        if meeting.starts_at.astimezone(LONDON).date() == wanted:
            return meeting
    days = ", ".join(f"{meeting.starts_at.astimezone(LONDON).date():%Y-%m-%d}"
                     for meeting in training_session.meetings)
    raise ValueError(f"The session has no meeting on {wanted:%Y-%m-%d}. Its meetings are on "
                     f"{days}")
