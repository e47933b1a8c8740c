"""CSV imports: an administrator uploads settings, training sessions, attendance records and
questionnaire answers. Every row is checked first; any problem is listed by line and column
and nothing is saved; importing the same file again changes nothing."""

from __future__ import annotations

import csv
import html as html_text
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import csrf_token
from trainer import imports
from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, Meeting, TrainingSession, Venue
from trainer.db import db, utcnow
from trainer.hookspecs import hookimpl
from trainer.people import LocalAuthority, Role, Setting, User
from trainer.plugins.confidence.models import Rating, RecordedHow, Respondent, Response

ADMIN = "ada.admin@example.org"
TITLE = "Supporting speech, language and communication"


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def admin(make_user, auth):
    make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    auth.sign_in(ADMIN)
    return ADMIN


def csv_bytes(rows: list[list[str]], bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def upload(client, kind: str, data: bytes, filename: str = "file.csv"):
    """Send ``data`` from the import page's form, as a browser would; the page after."""
    form = client.get(f"/admin/imports/{kind}")
    assert form.status_code == 200
    return client.post(
        f"/admin/imports/{kind}",
        data={"csrf_token": csrf_token(form.get_data(as_text=True)),
              "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def text_of(response) -> str:
    """The page's text without tags, spacing squeezed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def imported(response, created: int, updated: int, unchanged: int) -> bool:
    page = text_of(response)
    return ("Import complete" in page
            and f"{created} created, {updated} updated, {unchanged} unchanged" in page)


def problems_of(response) -> list[tuple[str, str, str]]:
    """The (line, column, problem) rows of the page's table of problems."""
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr class="govuk-table__row" id="problem-\d+">(.*?)</tr>', html, re.S)
    found = []
    for row in rows:
        cells = [" ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found.append(tuple(cells))
    return found


def counts(app, *models) -> dict[str, int]:
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in models}


EVERYTHING = (Setting, Venue, TrainingSession, Meeting, Booking, Attendance, User, Respondent,
              Response, Rating)


def started_session(app, reference="EYIP-2026-041", capacity=20, days_ago=3, meetings=1,
                    title=TITLE) -> int:
    """A session of ``title`` with ``meetings`` weekly meetings, the first ``days_ago`` days
    ago (negative: in the future)."""
    with app.app_context():
        start = utcnow().replace(microsecond=0) - timedelta(days=days_ago)
        course = db.session.scalar(sa.select(Course).where(Course.title == title))
        made = factories.training_session(
            [start + timedelta(weeks=week) for week in range(meetings)], capacity=capacity,
            course_=course or factories.course(title), reference=reference)
        db.session.commit()
        return made.id


def book(app, session_id: int, email: str, name: str = "Booked Person") -> int:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, password_hash="x")
            db.session.add(user)
        booking = Booking(training_session_id=session_id, user=user,
                          status=BookingStatus.CONFIRMED)
        db.session.add(booking)
        db.session.commit()
        return booking.id


# -- the pages --------------------------------------------------------------------------------


def test_the_imports_page_documents_every_kind(client, admin):
    page = client.get("/admin/imports/")
    assert page.status_code == 200
    text = text_of(page)
    for title in ("Settings", "Training sessions", "Attendance records",
                  "Questionnaire answers"):
        assert f"Import {title.lower()}" in text
    for column in ("setting_type", "urn", "reference", "start_time", "online_url", "attended",
                   "meeting_date", "stage", "statement", "rating"):
        assert f"<code>{column}</code>" in page.get_data(as_text=True)
    assert "How rows are matched" in text
    for kind in ("settings", "training-sessions", "attendance", "questionnaire-answers"):
        assert f'href="/admin/imports/{kind}/template.csv"' in page.get_data(as_text=True)
    assert "Imports" in text_of(client.get("/admin/"))


@pytest.mark.parametrize("kind", ["settings", "training-sessions", "attendance",
                                  "questionnaire-answers"])
def test_each_template_has_the_header_and_an_example_row(client, admin, app, kind):
    response = client.get(f"/admin/imports/{kind}/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="{kind}-template.csv"' in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # a byte order mark, for spreadsheets
    header, example = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    with app.test_request_context():
        importer = imports.importers()[kind]
    assert header == importer.column_names
    assert example == [column.example for column in importer.columns]
    assert any(example)


def test_an_unknown_kind_is_not_found(client, admin):
    assert client.get("/admin/imports/people").status_code == 404
    assert client.get("/admin/imports/people/template.csv").status_code == 404


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER,
                                  Role.MODERATOR])
def test_only_administrators_may_import(app, client, make_user, auth, role):
    make_user("someone@example.org", roles=[role])
    auth.sign_in("someone@example.org")
    token = csrf_token(client.get("/dashboard").get_data(as_text=True))
    assert client.get("/admin/imports/").status_code == 403
    assert client.get("/admin/imports/settings").status_code == 403
    assert client.get("/admin/imports/settings/template.csv").status_code == 403
    before = counts(app, Setting)
    response = client.post("/admin/imports/settings", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(
                               b"name,setting_type,local_authority,postcode\n"
                               b"Oak,nursery,Leeds,LS1 4AP\n"), "s.csv")})
    assert response.status_code == 403
    assert counts(app, Setting) == before


def test_a_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/imports/settings")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]


def test_the_form_needs_its_csrf_token(app, client, admin):
    response = client.post("/admin/imports/settings", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"name\n"), "s.csv")})
    assert response.status_code == 400
    assert counts(app, Setting) == {"Setting": 0}


# -- settings ---------------------------------------------------------------------------------

SETTINGS = [
    ["name", "setting_type", "urn", "local_authority", "postcode"],
    ["Little Acorns Nursery", "nursery", "EY987654", "E08000035", "LS1 4AP"],
    ["Rainbow Pre-school", "Pre-school", "", "Leeds", "ls6 2aa"],
    ["Sam Smith (childminder)", "childminder", "EY555001", "Manchester", "M1 1AE"],
]


def test_settings_are_imported_and_importing_again_changes_nothing(app, client, admin):
    first = upload(client, "settings", csv_bytes(SETTINGS))
    assert imported(first, created=3, updated=0, unchanged=0), text_of(first)
    with app.app_context():
        rainbow = db.session.scalar(sa.select(Setting).where(Setting.name == "Rainbow Pre-school"))
        assert rainbow.setting_type == "pre_school"
        assert rainbow.postcode == "LS6 2AA"
        assert rainbow.urn is None
        assert rainbow.local_authority.name == "Leeds"
        acorns = db.session.scalar(sa.select(Setting).where(Setting.urn == "EY987654"))
        assert acorns.local_authority.ons_code == "E08000035"
    before = counts(app, *EVERYTHING)
    again = upload(client, "settings", csv_bytes(SETTINGS))
    assert imported(again, created=0, updated=0, unchanged=3), text_of(again)
    assert counts(app, *EVERYTHING) == before


def test_a_changed_setting_is_updated_by_its_key(app, client, admin):
    upload(client, "settings", csv_bytes(SETTINGS))
    changed = [row[:] for row in SETTINGS]
    changed[1][0] = "Little Acorns Day Nursery"  # same URN: renamed
    changed[2][2] = "EY123001"  # no URN before: found by name and postcode, given the URN
    response = upload(client, "settings", csv_bytes(changed))
    assert imported(response, created=0, updated=2, unchanged=1), text_of(response)
    with app.app_context():
        names = set(db.session.scalars(sa.select(Setting.name)))
        assert names == {"Little Acorns Day Nursery", "Rainbow Pre-school",
                         "Sam Smith (childminder)"}
        assert db.session.scalar(sa.select(Setting.urn).where(
            Setting.name == "Rainbow Pre-school")) == "EY123001"


def test_one_bad_row_among_good_ones_saves_nothing_and_every_problem_is_listed(app, client,
                                                                             admin):
    rows = SETTINGS + [
        ["Tiny Steps", "zoo", "", "Atlantis", "not a postcode"],
        ["", "nursery", "", "Leeds", "LS1 4AP"],
        ["Little Acorns Again", "nursery", "EY987654", "Leeds", "LS1 4AP"],
    ]
    before = counts(app, *EVERYTHING)
    response = upload(client, "settings", csv_bytes(rows))
    assert counts(app, *EVERYTHING) == before
    page = text_of(response)
    assert "The file has 5 problems; nothing was saved" in page
    assert "Import complete" not in page
    assert problems_of(response) == [
        ("5", "setting_type", "Enter a setting type: nursery, pre_school, childminder, "
                              "school_nursery_class, childrens_centre, other"),
        ("5", "local_authority", "There is no local authority called “Atlantis”. Give its "
                                 "ONS code, like E08000035, or its name, like Leeds"),
        ("5", "postcode", "Enter a real postcode, like LS1 4AP"),
        ("6", "name", "Enter the name"),
        ("7", "urn", "Line 2 is about the same setting: each may appear only once"),
    ]
    # The summary at the top names the line and the column too.
    assert "Line 5, column setting_type: Enter a setting type" in page


@pytest.mark.parametrize("header, expected", [
    (["name", "setting_type", "local_authority"],
     [("1", "postcode", "The file has no “postcode” column")]),
    (["name", "setting_type", "local_authority", "postcode", "colour"],
     [("1", "", "The column “colour” is not one this import uses. The columns are: name, "
                "setting_type, urn, local_authority, postcode")]),
    (["name", "setting_type", "local_authority", "postcode", "Name"],
     [("1", "name", "The column “name” appears more than once")]),
])
def test_header_problems_are_named(app, client, admin, header, expected):
    response = upload(client, "settings", csv_bytes([header, ["Oak", "nursery", "Leeds",
                                                              "LS1 4AP", "x"]]))
    assert problems_of(response) == expected
    assert counts(app, Setting) == {"Setting": 0}


def test_header_names_ignore_capitals_and_spaces(app, client, admin):
    rows = [["Name", "Setting Type", "Local authority", " POSTCODE "],
            ["Oak Tree Nursery", "Nursery", "Leeds", "LS1 4AP"]]
    assert imported(upload(client, "settings", csv_bytes(rows)), 1, 0, 0)


def test_a_file_saved_by_excel_with_a_byte_order_mark_is_read(app, client, admin):
    response = upload(client, "settings", csv_bytes(SETTINGS, bom=True))
    assert imported(response, created=3, updated=0, unchanged=0), text_of(response)


@pytest.mark.parametrize("data, message", [
    (b"", "The selected file is empty"),
    (b"\r\n\r\n", "The selected file is empty"),
    (b"name,setting_type,local_authority,postcode\r\n",
     "The file has a header row but no rows of data"),
    ("name,setting_type,local_authority,postcode\nCafé Crèche,nursery,Leeds,LS1 4AP\n"
     .encode("latin-1"), "Line 2 is not UTF-8 text, so the file cannot be read"),
    ("name\n".encode("utf-16"), "not a CSV file of UTF-8 text"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "is a spreadsheet workbook, not a CSV file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file of UTF-8 text"),
])
def test_bad_files_get_a_clear_answer(app, client, admin, data, message):
    response = upload(client, "settings", data)
    assert response.status_code == 200
    page = text_of(response)
    assert message in page
    assert "nothing was saved" in page
    assert counts(app, Setting) == {"Setting": 0}


def test_no_file_chosen(client, admin):
    form = client.get("/admin/imports/settings")
    response = client.post("/admin/imports/settings", content_type="multipart/form-data",
                           data={"csrf_token": csrf_token(form.get_data(as_text=True))})
    assert "Select a CSV file" in text_of(response)


def test_a_file_too_big_is_refused_before_it_is_read(app_factory, make_user):
    app = app_factory(IMPORT_MAX_BYTES=1000)
    client = app.test_client()
    with app.app_context():
        user = User(email=ADMIN, name="Ada", password_hash="x")
        user.set_password("correct-horse-battery")
        user.email_verified_at = utcnow()
        user.grant(Role.ADMIN)
        db.session.add(user)
        db.session.commit()
    form = client.get("/auth/sign-in")
    client.post("/auth/sign-in", data={"csrf_token": csrf_token(form.get_data(as_text=True)),
                                       "email": ADMIN, "password": "correct-horse-battery"})
    big = csv_bytes(SETTINGS) + b"x" * 200_000
    response = upload(client, "settings", big)
    assert response.status_code == 200
    assert "The selected file must be smaller than 1 KB" in text_of(response)
    slightly = csv_bytes(SETTINGS) + b"Oak,nursery,,Leeds,LS1 4AP\r\n" * 40
    assert "must be smaller than 1 KB" in text_of(upload(client, "settings", slightly))
    assert counts(app, Setting) == {"Setting": 0}


def test_too_many_rows_are_refused(app_factory, make_user):
    app = app_factory(IMPORT_MAX_ROWS=2)
    with app.test_request_context():
        result = imports.run(imports.importers()["settings"], csv_bytes(SETTINGS))
    assert [problem.message for problem in result.problems] == [
        "The file has more than 2 rows. Split it into files of 2 rows or fewer"]


def test_line_numbers_count_lines_in_the_file(app):
    data = (b"name,setting_type,local_authority,postcode\r\n"
            b"\r\n"
            b"\"Oak\r\nTree\",nursery,Leeds,LS1 4AP\r\n"
            b"Elm,shop,Leeds,LS1 4AP\r\n"
            b",,,\r\n"
            b"Ash,nursery,Leeds,LS1 4AP,surprise\r\n")
    with app.test_request_context():
        result = imports.run(imports.importers()["settings"], data)
    assert [(problem.line, problem.column) for problem in result.problems] == [
        (5, "setting_type"), (7, None)]
    assert "column 5, which has no heading" in result.problems[1].message


def test_hostile_cells_are_stored_as_text_and_shown_escaped(app, client, admin):
    formula = '=HYPERLINK("http://evil.example","Click")'
    markup = "<script>alert(1)</script> Nursery"
    rows = [SETTINGS[0], [formula, "nursery", "", "Leeds", "LS1 4AP"],
            [markup, "nursery", "", "Leeds", "LS2 7AA"]]
    assert imported(upload(client, "settings", csv_bytes(rows)), 2, 0, 0)
    with app.app_context():
        assert set(db.session.scalars(sa.select(Setting.name))) == {formula, markup}
    # A problem that quotes a cell shows it as text, never as markup.
    bad = [SETTINGS[0], ["Oak", "nursery", "", "<b>Leeds</b><script>x()</script>", "LS1 4AP"]]
    response = upload(client, "settings", csv_bytes(bad))
    html = response.get_data(as_text=True)
    assert "<script>x()</script>" not in html
    assert "&lt;b&gt;Leeds&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;" in html


def test_a_long_list_of_problems_is_capped(app, client, admin):
    rows = [SETTINGS[0]] + [[f"Setting {n}", "zoo", "", "Leeds", "LS1 4AP"]
                            for n in range(130)]
    response = upload(client, "settings", csv_bytes(rows))
    text = text_of(response)
    assert "The file has 130 problems; nothing was saved" in text
    assert len(problems_of(response)) == 100
    assert "and 30 more problems not shown" in text
    assert "and 120 more, listed below" in text


# -- training sessions ------------------------------------------------------------------------

SESSIONS_HEADER = ["reference", "course", "capacity", "mode", "date", "start_time",
                   "end_time", "venue_name", "venue_postcode", "online_url",
                   "local_authority", "region"]


def future_day(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


@pytest.fixture
def course_id(app):
    with app.app_context():
        made = factories.course(TITLE)
        db.session.commit()
        return made.id


def session_rows(day: str) -> list[list[str]]:
    return [
        SESSIONS_HEADER,
        ["eyip-2026-101", TITLE, "20", "in_person", day, "18:30", "20:00",
         "Leeds Children's Centre", "LS2 8BH", "", "", ""],
        ["EYIP-2026-102", TITLE.upper(), "30", "Online", day, "9:30am", "12pm", "", "",
         "https://meet.example.org/102", "Leeds", ""],
        ["EYIP-2026-103", TITLE, "16", "hybrid", day, "13:00", "15:30",
         "Leeds Children's Centre", "ls28bh", "https://meet.example.org/103", "",
         "North West"],
    ]


def test_training_sessions_are_imported_and_importing_again_changes_nothing(app, client,
                                                                           admin, course_id):
    day = future_day()
    response = upload(client, "training-sessions", csv_bytes(session_rows(day)))
    assert imported(response, created=3, updated=0, unchanged=0), text_of(response)
    with app.app_context():
        made = {item.reference: item for item in db.session.scalars(sa.select(TrainingSession))}
        assert set(made) == {"EYIP-2026-101", "EYIP-2026-102", "EYIP-2026-103"}
        first = made["EYIP-2026-101"]
        assert first.course_id == course_id and first.capacity == 20
        start = first.starts_at.astimezone(imports.LONDON)
        assert (start.date().isoformat(), start.hour, start.minute) == (day, 18, 30)
        assert first.twilight is (start.weekday() < 5)
        assert first.meetings[0].venue.postcode == "LS2 8BH"
        online = made["EYIP-2026-102"]
        assert online.mode == "online" and online.local_authority.name == "Leeds"
        assert online.region.name == "Yorkshire and The Humber"
        assert online.meetings[0].online_url == "https://meet.example.org/102"
        hybrid = made["EYIP-2026-103"]
        assert hybrid.meetings[0].venue_id == first.meetings[0].venue_id  # one venue
        assert hybrid.region.name == "North West"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue)) == 1
    before = counts(app, *EVERYTHING)
    again = upload(client, "training-sessions", csv_bytes(session_rows(day)))
    assert imported(again, created=0, updated=0, unchanged=3), text_of(again)
    assert counts(app, *EVERYTHING) == before
    # The sessions can be found and booked like any other.
    page = client.get("/training/?text=speech")
    assert text_of(page).count(TITLE) >= 3


def test_moving_an_imported_session_tells_the_people_booked(app, client, admin, course_id,
                                                            mailbox):
    day = future_day()
    upload(client, "training-sessions", csv_bytes(session_rows(day)))
    with app.app_context():
        session_id = db.session.scalar(sa.select(TrainingSession.id).where(
            TrainingSession.reference == "EYIP-2026-101"))
    book(app, session_id, "booked@example.org")
    mailbox()
    moved = session_rows(day)
    moved[1][5:7] = ["18:00", "19:30"]
    moved[2][2] = "35"
    response = upload(client, "training-sessions", csv_bytes(moved))
    assert imported(response, created=0, updated=2, unchanged=1), text_of(response)
    told = [message for message in mailbox() if "booked@example.org" in message["To"]]
    assert [message["Subject"] for message in told] == [f"Training session changed: {TITLE}"]
    with app.app_context():
        item = db.session.get(TrainingSession, session_id)
        assert item.starts_at.astimezone(imports.LONDON).hour == 18
        assert item.starts_at.astimezone(imports.LONDON).minute == 0
        assert item.sequence == 1


def test_bad_training_sessions_are_listed_and_nothing_is_saved(app, client, admin, course_id):
    day = future_day()
    rows = session_rows(day) + [
        ["EYIP-2026-104", "Knitting for beginners", "twenty", "by post", "31/02/2026",
         "25:00", "8pm", "", "", "", "Atlantis", ""],
        ["EYIP-2026-105", TITLE, "20", "in_person", day, "18:00", "17:00", "",
         "LS2 8BH", "https://meet.example.org/x", "", ""],
        ["eyip-2026-101", TITLE, "20", "online", day, "18:00", "19:00", "", "",
         "not a link", "", ""],
    ]
    before = counts(app, *EVERYTHING)
    response = upload(client, "training-sessions", csv_bytes(rows))
    assert counts(app, *EVERYTHING) == before
    assert problems_of(response) == [
        ("5", "course", "There is no course called “Knitting for beginners”. Add the course "
                        "under Manage training first, or check the title"),
        ("5", "capacity", "Enter a whole number from 0 to 10,000"),
        ("5", "mode", "Enter a mode: online, in_person, hybrid"),
        ("5", "date", "Enter a real date, like 2026-03-12 or 12/03/2026"),
        ("5", "start_time", "Enter a time like 18:30 or 6:30pm"),
        ("5", "local_authority", "There is no local authority called “Atlantis”. Give its ONS "
                                 "code, like E08000035, or its name, like Leeds"),
        ("6", "end_time", "The end time must be after the start time"),
        ("6", "venue_name", "Enter the venue name: the session is in person"),
        ("6", "online_url", "Leave the joining link empty for a session in person, or make "
                            "it hybrid"),
        ("7", "reference", "Line 2 is about the same training session: each may appear only "
                           "once"),
    ]


def test_capacity_cannot_drop_below_the_places_booked(app, client, admin, course_id):
    day = future_day()
    upload(client, "training-sessions", csv_bytes(session_rows(day)))
    with app.app_context():
        session_id = db.session.scalar(sa.select(TrainingSession.id).where(
            TrainingSession.reference == "EYIP-2026-101"))
    for number in range(3):
        book(app, session_id, f"p{number}@example.org")
    rows = session_rows(day)
    rows[1][2] = "2"
    response = upload(client, "training-sessions", csv_bytes(rows))
    assert problems_of(response) == [
        ("2", "capacity", "Capacity cannot be less than the 3 places already booked or held")]
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).capacity == 20


def test_a_time_the_clocks_skip_is_refused(app, client, admin, course_id):
    rows = [SESSIONS_HEADER, ["EYIP-2027-001", TITLE, "20", "online", "2027-03-28", "01:30",
                              "03:00", "", "", "https://meet.example.org/1", "", ""]]
    response = upload(client, "training-sessions", csv_bytes(rows))
    assert problems_of(response) == [
        ("2", "start_time", "There is no 01:30 on Sunday 28 March 2027 in London: the clocks "
                            "go forward that night")]


# -- attendance -------------------------------------------------------------------------------

ATTENDANCE_HEADER = ["reference", "email", "name", "attended", "meeting_date",
                     "local_authority"]


def test_attendance_is_imported_with_bookings_and_new_accounts(app, client, admin, mailbox):
    session_id = started_session(app)
    book(app, session_id, "booked@example.org")
    rows = [ATTENDANCE_HEADER,
            ["EYIP-2026-041", "Booked@Example.org", "", "yes", "", ""],
            ["eyip-2026-041", "new.person@example.net", "New Person", "no", "", "E08000035"]]
    before = counts(app, Booking, Attendance, User)
    response = upload(client, "attendance", csv_bytes(rows))
    assert imported(response, created=2, updated=0, unchanged=0), text_of(response)
    after = counts(app, Booking, Attendance, User)
    assert after == {"Booking": before["Booking"] + 1, "Attendance": 2,
                     "User": before["User"] + 1}
    with app.app_context():
        person = db.session.scalar(sa.select(User).where(User.email == "new.person@example.net"))
        assert person.name == "New Person" and person.local_authority.name == "Leeds"
        assert not person.is_verified and person.has_role(Role.PRACTITIONER)
        assert not person.check_password("")
        marks = {attendance.booking.user.email: attendance.attended
                 for attendance in db.session.scalars(sa.select(Attendance))}
        assert marks == {"booked@example.org": True, "new.person@example.net": False}
        assert all(booking.status == "confirmed" for booking in db.session.scalars(
            sa.select(Booking)))
    # As when a trainer takes the register: who attended is asked how the training went.
    assert [(message["To"], message["Subject"]) for message in mailbox()] == [
        ("Booked Person <booked@example.org>", f"How was the training?: {TITLE}")]

    again = upload(client, "attendance", csv_bytes(rows))
    assert imported(again, created=0, updated=0, unchanged=2), text_of(again)
    assert counts(app, Booking, Attendance, User) == after

    rows[2][3] = "yes"  # the register was wrong
    changed = upload(client, "attendance", csv_bytes(rows))
    assert imported(changed, created=0, updated=1, unchanged=1), text_of(changed)
    assert counts(app, Booking, Attendance, User) == after


def test_a_new_account_can_be_claimed_with_forgotten_password(app, client, admin, mailbox):
    started_session(app)
    rows = [ATTENDANCE_HEADER, ["EYIP-2026-041", "claim@example.net", "Claire", "yes", "", ""]]
    assert imported(upload(client, "attendance", csv_bytes(rows)), 1, 0, 0)
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(
        client.get("/dashboard").get_data(as_text=True))})
    form = client.get("/auth/forgotten-password")
    client.post("/auth/forgotten-password", data={
        "csrf_token": csrf_token(form.get_data(as_text=True)), "email": "claim@example.net"})
    [message] = [m for m in mailbox() if "claim@example.net" in m["To"]
                  and "password" in m["Subject"]]
    assert message["Subject"] == "Choose a new password"


def test_imported_attendance_never_takes_places_beyond_capacity(app, client, admin):
    session_id = started_session(app, capacity=2)
    book(app, session_id, "first@example.org")
    rows = [ATTENDANCE_HEADER,
            ["EYIP-2026-041", "first@example.org", "", "yes", "", ""],
            ["EYIP-2026-041", "second@example.org", "Second", "yes", "", ""],
            ["EYIP-2026-041", "third@example.org", "Third", "yes", "", ""]]
    before = counts(app, *EVERYTHING)
    response = upload(client, "attendance", csv_bytes(rows))
    assert problems_of(response) == [
        ("4", "reference", "The session has only 1 place left (capacity 2), fewer than the "
                           "people in this file who need one. Raise its capacity first")]
    assert counts(app, *EVERYTHING) == before
    # Without the third person everybody fits; then the session is full.
    assert imported(upload(client, "attendance", csv_bytes(rows[:3])), 2, 0, 0)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
            Booking.status == "confirmed")) == 2
    response = upload(client, "attendance", csv_bytes(rows[:1] + rows[3:]))
    assert problems_of(response) == [
        ("2", "reference", "The session is full (capacity 2), so this person cannot be given "
                           "a place. Raise its capacity first")]


def test_attendance_problems_are_listed_and_nothing_is_saved(app, client, admin):
    started_session(app)
    started_session(app, reference="FUTURE-1", days_ago=-5)
    started_session(app, reference="L3-2026-001", days_ago=10, meetings=3)
    rows = [ATTENDANCE_HEADER,
            ["EYIP-2026-041", "ok@example.org", "OK", "yes", "", ""],
            ["NOPE-1", "a@example.org", "A", "maybe", "", ""],
            ["FUTURE-1", "b@example.org", "B", "yes", "", ""],
            ["L3-2026-001", "c@example.org", "", "yes", "", "Atlantis"],
            ["EYIP-2026-041", "not-an-email", "D", "yes", "", ""],
            ["EYIP-2026-041", "OK@example.org", "OK", "no", "", ""]]
    before = counts(app, *EVERYTHING)
    response = upload(client, "attendance", csv_bytes(rows))
    assert counts(app, *EVERYTHING) == before
    assert problems_of(response) == [
        ("3", "reference", "There is no training session with the reference “NOPE-1”"),
        ("3", "attended", "Enter yes or no"),
        ("4", "reference", "This meeting has not started yet, so attendance cannot be "
                           "recorded"),
        ("5", "name", "Enter the person's name: they have no account yet"),
        ("5", "meeting_date", "Enter the meeting date: the session has 3 meetings"),
        ("5", "local_authority", "There is no local authority called “Atlantis”. Give its "
                                 "ONS code, like E08000035, or its name, like Leeds"),
        ("6", "email", "Enter an email address in the correct format, like "
                       "name@example.com"),
        ("7", "email", "Line 2 is about the same person at the same meeting: each may "
                       "appear only once"),
    ]


def test_attendance_at_each_meeting_of_a_longer_course(app, client, admin):
    session_id = started_session(app, reference="L3-2026-001", days_ago=10, meetings=3)
    with app.app_context():
        days = [meeting.starts_at.astimezone(imports.LONDON).date()
                for meeting in db.session.get(TrainingSession, session_id).meetings]
    rows = [ATTENDANCE_HEADER,
            ["L3-2026-001", "c@example.org", "Cara", "yes", days[0].isoformat(), ""],
            ["L3-2026-001", "c@example.org", "Cara", "no", days[1].strftime("%d/%m/%Y"), ""],
            ["L3-2026-001", "c@example.org", "Cara", "yes", days[2].isoformat(), ""]]
    response = upload(client, "attendance", csv_bytes(rows))
    assert problems_of(response) == [
        ("4", "meeting_date", "This meeting has not started yet, so attendance cannot be "
                              "recorded")]
    response = upload(client, "attendance", csv_bytes(rows[:3]))
    assert imported(response, created=2, updated=0, unchanged=0), text_of(response)
    assert counts(app, Booking, Attendance) == {"Booking": 1, "Attendance": 2}


# -- questionnaire answers --------------------------------------------------------------------

ANSWERS_HEADER = ["reference", "email", "stage", "statement", "rating"]
CONFIDENT = ("I feel confident identifying children with speech, language and communication "
             "needs")


def test_questionnaire_answers_are_imported_for_people_booked(app, client, admin):
    session_id = started_session(app)
    book(app, session_id, "sam.jones@example.net", "Sam Jones")
    rows = [ANSWERS_HEADER,
            ["EYIP-2026-041", "sam.jones@example.net", "before", CONFIDENT, "2"],
            ["EYIP-2026-041", "sam.jones@example.net", "after", CONFIDENT.upper(), "4"],
            ["EYIP-2026-041", "sam.jones@example.net", "After",
             "The session was useful and informative", "5"]]
    response = upload(client, "questionnaire-answers", csv_bytes(rows))
    assert imported(response, created=3, updated=0, unchanged=0), text_of(response)
    with app.app_context():
        responses = {item.stage: item for item in db.session.scalars(sa.select(Response))}
        assert set(responses) == {"pre", "post"}
        assert all(item.recorded_how == RecordedHow.IMPORTED for item in responses.values())
        assert [rating.value for rating in responses["pre"].ratings] == [2]
        assert sorted(rating.value for rating in responses["post"].ratings) == [4, 5]
    before = counts(app, *EVERYTHING)
    again = upload(client, "questionnaire-answers", csv_bytes(rows))
    assert imported(again, created=0, updated=0, unchanged=3), text_of(again)
    assert counts(app, *EVERYTHING) == before
    rows[1][4] = "3"
    changed = upload(client, "questionnaire-answers", csv_bytes(rows))
    assert imported(changed, created=0, updated=1, unchanged=2), text_of(changed)
    assert counts(app, *EVERYTHING) == before


def test_questionnaire_answer_problems(app, client, admin):
    session_id = started_session(app, days_ago=-3)
    book(app, session_id, "sam.jones@example.net", "Sam Jones")
    book(app, started_session(app, reference="OTHER-1"), "other@example.org")
    rows = [ANSWERS_HEADER,
            ["EYIP-2026-041", "sam.jones@example.net", "before", CONFIDENT, "3"],
            ["EYIP-2026-041", "other@example.org", "before", CONFIDENT, "3"],
            ["EYIP-2026-041", "nobody@example.org", "during", CONFIDENT, "6"],
            ["EYIP-2026-041", "sam.jones@example.net", "after", CONFIDENT, "3"],
            ["EYIP-2026-041", "sam.jones@example.net", "before",
             "The session was useful and informative", "3"],
            ["EYIP-2026-041", "sam.jones@example.net", "before", "I like cake", "3"],
            ["EYIP-2026-041", "sam.jones@example.net", "Before", f"  {CONFIDENT} ", "4"]]
    before = counts(app, *EVERYTHING)
    response = upload(client, "questionnaire-answers", csv_bytes(rows))
    assert counts(app, *EVERYTHING) == before
    assert problems_of(response) == [
        ("3", "email", "This person is not booked on this training session"),
        ("4", "email", "No account has this email address. Import their attendance first"),
        ("4", "stage", "Enter a stage: before, after or follow-up"),
        ("4", "rating", "Enter a whole number from 1 to 5"),
        ("5", "stage", "Answers after the training can be imported once its last meeting "
                       "has started"),
        ("6", "statement", "Evaluation statements are answered after the training: use the "
                           "stage “after”"),
        ("7", "statement", "This is not one of the statements of this course's "
                           "questionnaire. Copy the wording from the course's questionnaire"),
        ("8", "statement", "Line 2 is about the same rating: each may appear only once"),
    ]


# -- the templates fit together ----------------------------------------------------------------


def template_of(client, kind: str) -> bytes:
    return client.get(f"/admin/imports/{kind}/template.csv").get_data()


def test_every_template_imports_cleanly_in_order(app, client, admin):
    """The example rows describe one story: a setting, the session EYIP-2026-041 of the demo
    course on speech and language, Sam Jones attending it and their answer before it."""
    with app.app_context():
        factories.course(TITLE)
        db.session.commit()
    for kind in ("settings", "training-sessions", "attendance", "questionnaire-answers"):
        response = upload(client, kind, template_of(client, kind), f"{kind}-template.csv")
        assert imported(response, created=1, updated=0, unchanged=0), (kind, text_of(response))
        again = upload(client, kind, template_of(client, kind), f"{kind}-template.csv")
        assert imported(again, created=0, updated=0, unchanged=1), (kind, text_of(again))


# -- plugins add importers ---------------------------------------------------------------------


class Greetings(imports.Importer):
    """A tiny importer from a plugin: it counts rows, and stores nothing."""

    kind = "greetings"
    title = "Greetings"
    description = "Hellos, one per row."
    key = "The word itself."
    columns = (imports.Column("word", "A greeting.", "hello", required=True),)
    seen: list[str] = []

    def validate(self, rows, context):
        problems = imports.Problems()
        for row in rows:
            if row["word"] and row["word"] != "hello":
                problems.add(row, "word", "Say hello")
        return problems

    def apply(self, rows, context):
        Greetings.seen.extend(row["word"] for row in rows)
        return imports.Counts(created=len(rows))


class Impostor(Greetings):
    kind = "settings"  # taken by the core: left out
    title = "Impostor settings"


class GreetingsPlugin:
    @hookimpl
    def trainer_importers(self):
        return [Greetings(), Impostor()]


def test_a_plugin_adds_an_importer(app_factory, make_user):
    app = app_factory(PLUGINS=[GreetingsPlugin()])
    client = app.test_client()
    with app.app_context():
        user = User(email=ADMIN, name="Ada", password_hash="x", email_verified_at=utcnow())
        user.set_password("correct-horse-battery")
        user.grant(Role.ADMIN)
        db.session.add(user)
        db.session.commit()
    form = client.get("/auth/sign-in")
    client.post("/auth/sign-in", data={"csrf_token": csrf_token(form.get_data(as_text=True)),
                                       "email": ADMIN, "password": "correct-horse-battery"})
    index = text_of(client.get("/admin/imports/"))
    assert "Import greetings" in index and "Impostor" not in index
    with app.test_request_context():
        assert type(imports.importers()["settings"]).__name__ == "SettingsImporter"
    response = upload(client, "greetings", b"word\nhello\nhowdy\n")
    assert problems_of(response) == [("3", "word", "Say hello")]
    Greetings.seen.clear()
    assert imported(upload(client, "greetings", b"word\nhello\nhello\n"), 2, 0, 0)
    assert Greetings.seen == ["hello", "hello"]


def test_the_core_imports_with_every_plugin_disabled(app_factory):
    app = app_factory(DISABLED_PLUGINS=["waiting_list", "confidence", "awards", "newsletter"])
    with app.test_request_context():
        assert set(imports.importers()) == {"settings", "training-sessions", "attendance"}


def test_local_authorities_are_found_by_code_or_name(app):
    with app.app_context():
        places = imports.Places()
        assert places.local_authority("e08000035").name == "Leeds"
        assert places.local_authority(" leeds ").ons_code == "E08000035"
        with pytest.raises(ValueError, match="no local authority with the ONS code"):
            places.local_authority("E99999999")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LocalAuthority)) > 100


@pytest.mark.parametrize("text, expected", [
    ("18:30", (18, 30)), ("9.05", (9, 5)), ("18:30:00", (18, 30)), ("6:30pm", (18, 30)),
    ("6pm", (18, 0)), ("12am", (0, 0)), ("12 p.m.", (12, 0)), ("11:59 AM", (11, 59)),
])
def test_times(text, expected):
    found = imports.parse_time(text)
    assert (found.hour, found.minute) == expected


@pytest.mark.parametrize("text", ["24:00", "13pm", "noon", "18:60", "0pm", ""])
def test_times_refused(text):
    with pytest.raises(ValueError):
        imports.parse_time(text)


def test_a_session_without_a_reference_is_found_by_its_number(app, client, admin):
    session_id = started_session(app, reference=None)
    rows = [ATTENDANCE_HEADER, [str(session_id), "n@example.org", "Nia", "yes", "", ""]]
    assert imported(upload(client, "attendance", csv_bytes(rows)), 1, 0, 0)
    page = client.get(f"/manage/sessions/{session_id}")
    assert f"None: CSV imports can use its number, {session_id}" in text_of(page)


def test_a_reference_needs_a_letter(app, client, admin, course_id):
    rows = session_rows(future_day())[:2]
    rows[1][0] = "2026041"
    assert problems_of(upload(client, "training-sessions", csv_bytes(rows))) == [
        ("2", "reference", "Use letters, digits, hyphens, dots, slashes and underscores, with "
                           "at least one letter, like EYIP-2026-041")]


def test_demo_sessions_have_references(app):
    from trainer import demo

    with app.test_request_context():
        demo.create("small", echo=lambda *_: None)
        references = list(db.session.scalars(sa.select(TrainingSession.reference)))
    assert all(re.fullmatch(r"(EYIP|SLT|NCN|AEYT)-20\d\d-\d{3}", item) for item in references)
    assert len(set(references)) == len(references)
