"""The local authority dashboard: take-up figures on a small hand-built area, consent to be
named, CSV exports, who may see which area, and the plugins' panels."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import Auth, Browser
from trainer import reports, takeup
from trainer.booking import Attendance, Booking
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.people import LocalAuthority, Role, Setting, User

LEEDS, BRADFORD = "Leeds", "Bradford"
ADMIN = "admin@example.org"
LEEDS_OFFICER = "lena@example.org"
BRADFORD_OFFICER = "brad@example.org"
# People whose attendance in Leeds must never be shown by name.
NOT_CONSENTING = ("Bob Nobody", "Dan Parent")


@dataclass
class Area:
    leeds: int
    bradford: int
    acorn: int
    birch: int
    cedar: int
    autism_session: int
    speech_session: int
    long_session: int
    people: dict[str, int]


def london_midday(days_ago: int) -> datetime:
    return (datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
            - timedelta(days=days_ago))


def build_area(app, make_user) -> Area:
    """Leeds has three settings: Acorn (Alice, Bob, Erin), Birch (Cara, Gina, and Hugo, who
    gave Bradford on his profile but whose setting is in Leeds) and Cedar (nobody). Dan is a
    parent in Leeds with no setting; Fred works in Bradford.

    Attended, in the last twelve months: Alice at all three sessions (named only at the autism
    one; the long one has two meetings, both attended), Bob and Dan at the autism session (not
    named), Cara and Hugo at the speech session (named), Fred at the autism session (named, but
    from Bradford). Erin was booked on the autism session and absent; Gina came to a session
    two years ago."""
    with app.app_context():
        la = {name: db.session.scalar(sa.select(LocalAuthority.id)
                                      .where(LocalAuthority.name == name))
              for name in (LEEDS, BRADFORD)}
        settings = {}
        for name, kind, postcode, where in (
                ("Acorn Day Nursery", "nursery", "LS1 1AA", LEEDS),
                ("Birch Pre-school", "pre_school", "LS2 2BB", LEEDS),
                ("Cedar Childminding", "childminder", "LS3 3CC", LEEDS),
                ("Dale Nursery", "nursery", "BD1 1DD", BRADFORD)):
            setting = Setting(name=name, setting_type=kind, postcode=postcode,
                              local_authority_id=la[where])
            db.session.add(setting)
            db.session.flush()
            settings[name.split()[0]] = setting.id
        autism = factories.course("Understanding autism",
                                  topics=["autism", "early_identification"])
        speech = factories.course("Supporting speech", topics=["speech_language_communication"])
        autism_session = factories.training_session(london_midday(60), course_=autism)
        speech_session = factories.training_session(london_midday(30), course_=speech)
        long_session = factories.training_session([london_midday(100), london_midday(93)],
                                                  course_=autism)
        old_session = factories.training_session(london_midday(730), course_=speech)
        db.session.commit()
        ids = (autism_session.id, speech_session.id, long_session.id, old_session.id)
    people = {
        "alice": make_user("alice@example.org", name="Alice Named", setting_id=settings["Acorn"],
                           job_role="senco")[0],
        "bob": make_user("bob@example.org", name="Bob Nobody", setting_id=settings["Acorn"],
                         job_role="early_years_practitioner")[0],
        "erin": make_user("erin@example.org", name="Erin Absent", setting_id=settings["Acorn"])[0],
        "cara": make_user("cara@example.org", name="Cara Consents",
                          setting_id=settings["Birch"])[0],
        "gina": make_user("gina@example.org", name="Gina Earlier",
                          setting_id=settings["Birch"])[0],
        "hugo": make_user("hugo@example.org", name="Hugo Shares", setting_id=settings["Birch"],
                          local_authority_id=la[BRADFORD])[0],
        "dan": make_user("dan@example.org", name="Dan Parent", job_role="parent_carer",
                         local_authority_id=la[LEEDS])[0],
        "fred": make_user("fred@example.org", name="Fred Bradford",
                          setting_id=settings["Dale"])[0],
    }
    autism_id, speech_id, long_id, old_id = ids
    plan = [  # person, session, consent, attended
        ("alice", autism_id, True, True), ("alice", speech_id, False, True),
        ("alice", long_id, False, True), ("bob", autism_id, False, True),
        ("dan", autism_id, False, True), ("erin", autism_id, True, False),
        ("cara", speech_id, True, True), ("hugo", speech_id, True, True),
        ("fred", autism_id, True, True), ("gina", old_id, True, True),
    ]
    with app.app_context():
        for person, session_id, consent, attended in plan:
            booking = Booking(training_session_id=session_id, user_id=people[person],
                              share_with_la=consent)
            db.session.add(booking)
            db.session.flush()
            for meeting in db.session.get(TrainingSession, session_id).meetings:
                db.session.add(Attendance(booking_id=booking.id, meeting_id=meeting.id,
                                          attended=attended))
        db.session.commit()
    return Area(leeds=la[LEEDS], bradford=la[BRADFORD], acorn=settings["Acorn"],
                birch=settings["Birch"], cedar=settings["Cedar"], autism_session=autism_id,
                speech_session=speech_id, long_session=long_id, people=people)


@pytest.fixture
def area(app, make_user) -> Area:
    return build_area(app, make_user)


def signed_in(app, make_user, email: str, roles, **fields) -> Browser:
    make_user(email, name=email.split("@")[0].title(), roles=roles, **fields)
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in(email).status_code == 302
    return browser


@pytest.fixture
def leeds_officer(app, make_user, area) -> Browser:
    return signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                     local_authority_id=area.leeds, job_role="la_staff")


@pytest.fixture
def admin(app, make_user) -> Browser:
    return signed_in(app, make_user, ADMIN, [Role.ADMIN])


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def main_text(html: str) -> str:
    """The page's main content as text (no navigation, no markup)."""
    main = html[html.index("<main"):html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Cells of each body row of the table ``table_id``, as text."""
    start = html.index(f'id="{table_id}"')
    body = html[html.index("<tbody", start):html.index("</tbody>", start)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
                     for cell in cells])
    return rows


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# -- the figures ----------------------------------------------------------------------------------


def test_the_figures_count_attendances_people_and_consent(app, area):
    with app.app_context():
        period = reports.Range.last_twelve_months()
        summary = takeup.summary(area.leeds, period)
        assert summary.attendances == 7  # Alice 3, Bob, Dan, Cara, Hugo
        assert summary.people == 5
        assert summary.named == 3 and summary.not_named == 4
        assert summary.settings == 3 and summary.settings_attended == 2
        assert summary.no_setting_attendances == 1 and summary.no_setting_people == 1

        by_setting = takeup.by_setting(area.leeds, period)
        assert [(row.name, row.people, row.attendances) for row in by_setting.items] == [
            ("Acorn Day Nursery", 2, 4), ("Birch Pre-school", 2, 2)]
        assert by_setting.total == 2

        without = takeup.without_attendance(area.leeds, period)
        assert [(row.name, row.type_label, row.postcode) for row in without.items] == [
            ("Cedar Childminding", "Childminder", "LS3 3CC")]

        named = takeup.named(area.leeds, period)
        assert sorted((row.person, row.course) for row in named.items) == [
            ("Alice Named", "Understanding autism"), ("Cara Consents", "Supporting speech"),
            ("Hugo Shares", "Supporting speech")]
        assert named.total == 3

        topics = takeup.by_topic(area.leeds, period)
        totals = {row.topic: row.total for row in topics.topics}
        assert totals["autism"] == 4 and totals["early_identification"] == 4
        assert totals["speech_language_communication"] == 3
        assert totals["makaton"] == 0
        assert topics.all_topics.total == 7
        assert len(topics.months) == 12


def test_bradford_counts_only_its_own_people(app, area):
    with app.app_context():
        summary = takeup.summary(area.bradford, reports.Range.last_twelve_months())
        # Fred; Hugo gave Bradford on his profile but his setting is in Leeds.
        assert (summary.attendances, summary.people, summary.named) == (1, 1, 1)


def test_attendances_fall_in_the_month_their_session_started(app, make_user):
    """Month boundaries are London's: a session at 00:30 on 1 July (BST) is July's, though it
    is still 30 June in UTC."""
    with app.app_context():
        leeds = db.session.scalar(sa.select(LocalAuthority).where(LocalAuthority.name == LEEDS))
        setting = Setting(name="Elm Nursery", setting_type="nursery", postcode="LS4 4DD",
                          local_authority_id=leeds.id)
        db.session.add(setting)
        course = factories.course("Makaton taster", topics=["makaton"])
        starts = [datetime(2025, 6, 30, 23, 30, tzinfo=UTC),  # 00:30 on 1 July in London
                  datetime(2025, 6, 30, 22, 30, tzinfo=UTC),  # 23:30 on 30 June in London
                  datetime(2025, 9, 2, 9, 0, tzinfo=UTC)]
        sessions = [factories.training_session(start, course_=course).id for start in starts]
        db.session.commit()
        setting_id, leeds_id = setting.id, leeds.id
    for number, session_id in enumerate(sessions):
        user_id = make_user(f"elm{number}@example.org", setting_id=setting_id)[0]
        with app.app_context():
            booking = Booking(training_session_id=session_id, user_id=user_id)
            db.session.add(booking)
            db.session.flush()
            meeting = db.session.get(TrainingSession, session_id).meetings[0]
            db.session.add(Attendance(booking_id=booking.id, meeting_id=meeting.id,
                                      attended=True))
            db.session.commit()
    with app.app_context():
        table = takeup.by_topic(leeds_id, reports.Range(date(2025, 6, 1), date(2025, 9, 30)))
        assert [takeup.month_label(month) for month in table.months] == [
            "Jun 2025", "Jul 2025", "Aug 2025", "Sep 2025"]
        makaton = next(row for row in table.topics if row.topic == "makaton")
        assert makaton.counts == [1, 1, 0, 1]
        assert table.all_topics.counts == [1, 1, 0, 1]


def test_people_count_where_they_trained_and_erasure_changes_no_figure(app, area):
    """A person who moves counts where they were when they trained; erasing a person takes
    their name off the dashboard and leaves every figure as it was."""
    from trainer import privacy

    def figures(la_id):
        with app.app_context():
            result = takeup.area_figures(la_id, reports.Range.last_twelve_months())
            return (result.summary, [(row.name, row.people, row.attendances)
                                     for row in result.attended])

    leeds, bradford = figures(area.leeds), figures(area.bradford)
    with app.app_context():
        db.session.get(User, area.people["alice"]).setting_id = None
        db.session.get(User, area.people["alice"]).local_authority_id = area.bradford
        db.session.commit()
        privacy.erase_user(db.session.get(User, area.people["cara"]))
    assert figures(area.leeds) == leeds and figures(area.bradford) == bradford
    with app.app_context():
        people = [row.person for row in takeup.named(
            area.leeds, reports.Range.last_twelve_months()).items]
    assert "Cara Consents" not in people and privacy.ERASED_NAME in people


def test_a_person_who_changed_setting_counts_in_each_and_once_in_all(app, area):
    with app.app_context():
        # Alice was at Birch when she booked the speech session.
        db.session.execute(sa.update(Booking).where(
            Booking.user_id == area.people["alice"],
            Booking.training_session_id == area.speech_session).values(setting_id=area.birch))
        db.session.commit()
        figures = takeup.area_figures(area.leeds, reports.Range.last_twelve_months())
    assert [(row.name, row.people, row.attendances) for row in figures.attended] == [
        ("Acorn Day Nursery", 2, 3), ("Birch Pre-school", 3, 3)]
    assert figures.summary.people == 5 and figures.summary.attendances == 7


# -- the page -------------------------------------------------------------------------------------


def test_the_officer_sees_their_area(app, area, leeds_officer):
    response = leeds_officer.get("/la/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/la/{area.leeds}/")
    html = text(leeds_officer.get(f"/la/{area.leeds}/"))
    page = main_text(html)
    assert "Leeds: take-up of training" in page
    assert table_rows(html, "settings-table") == [
        ["Acorn Day Nursery", "Nursery", "LS1 1AA", "2", "4"],
        ["Birch Pre-school", "Pre-school", "LS2 2BB", "2", "2"]]
    assert "Also 1 attendance by 1 person with no setting" in page
    assert table_rows(html, "no-training-table") == [
        ["Cedar Childminding", "Childminder", "LS3 3CC"]]
    named = table_rows(html, "named-table")
    assert sorted(row[:3] for row in named) == [
        ["Alice Named", "Acorn Day Nursery", "Understanding autism"],
        ["Cara Consents", "Birch Pre-school", "Supporting speech"],
        ["Hugo Shares", "Birch Pre-school", "Supporting speech"]]
    assert "4 attendances are not shown by name because the person did not agree" in page
    topics = {row[0]: row for row in table_rows(html, "topics-table")}
    assert topics["Autism"][-1] == "4" and topics["All topics"][-1] == "7"
    assert 'role="img"' in html and "Attendances each month" in html
    for name in NOT_CONSENTING + ("Fred Bradford", "Erin Absent", "Gina Earlier"):
        assert name not in html
    # Nav: the officer's own item.
    assert 'href="/la/"' in html and "Your area" in html


def test_a_named_person_is_not_named_for_attendance_they_kept_private(app, area, leeds_officer):
    html = text(leeds_officer.get(f"/la/{area.leeds}/named"))
    alice = [row for row in table_rows(html, "named-table") if row[0] == "Alice Named"]
    assert [row[2] for row in alice] == ["Understanding autism"]


def test_every_csv_names_only_people_who_agreed(app, area, leeds_officer):
    exports = {table: csv_of(leeds_officer.get(f"/la/{area.leeds}/{table}.csv"))
               for table in ("settings", "topics", "no-training", "named")}
    assert exports["settings"] == [
        ["Setting", "Type", "Postcode", "People who attended", "Attendances"],
        ["Acorn Day Nursery", "Nursery", "LS1 1AA", "2", "4"],
        ["Birch Pre-school", "Pre-school", "LS2 2BB", "2", "2"],
        [takeup.NO_SETTING, "", "", "1", "1"]]
    assert exports["no-training"] == [["Setting", "Type", "Postcode"],
                                      ["Cedar Childminding", "Childminder", "LS3 3CC"]]
    named = exports["named"]
    assert named[0][:3] == ["Person", "Setting", "Course"]
    assert sorted(row[0] for row in named[1:]) == ["Alice Named", "Cara Consents",
                                                   "Hugo Shares"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", named[1][3])
    topics = {row[0]: row for row in exports["topics"]}
    assert len(topics["Topic"]) == 14  # topic, 12 months, total
    assert topics["All topics"][-1] == "7" and topics["Autism"][-1] == "4"
    everything = "".join(response_text for response_text in
                         (str(rows) for rows in exports.values()))
    for name in NOT_CONSENTING:
        assert name not in everything
    response = leeds_officer.get(f"/la/{area.leeds}/named.csv")
    assert 'filename="leeds-named-' in response.headers["Content-Disposition"]


def test_csv_cells_cannot_run_as_formulas(app, area, leeds_officer):
    with app.app_context():
        db.session.get(Setting, area.acorn).name = "=HYPERLINK(\"http://x\")"
        db.session.commit()
    rows = csv_of(leeds_officer.get(f"/la/{area.leeds}/settings.csv"))
    assert rows[1][0].startswith("'=")


def test_a_date_range_narrows_the_figures(app, area, leeds_officer):
    start = (datetime.now(UTC) - timedelta(days=45)).date()
    html = text(leeds_officer.get(f"/la/{area.leeds}/?from={start.isoformat()}"))
    # Only the speech session (30 days ago): Alice, Cara, Hugo.
    assert table_rows(html, "settings-table") == [
        ["Birch Pre-school", "Pre-school", "LS2 2BB", "2", "2"],
        ["Acorn Day Nursery", "Nursery", "LS1 1AA", "1", "1"]]
    rows = csv_of(leeds_officer.get(f"/la/{area.leeds}/settings.csv?from={start.isoformat()}"))
    assert [row[4] for row in rows[1:]] == ["2", "1"]


@pytest.mark.parametrize("query, message", [
    ("from=31/2/2025", "The from date must be a real date"),
    ("from=2025-05-01&to=2025-04-01", "The to date must be the same as or after the from date"),
    ("from=2020-01-01&to=2025-01-01", "Choose dates no more than 2 years apart"),
])
def test_wrong_dates_are_explained_and_the_last_year_shown(app, area, leeds_officer, query,
                                                           message):
    html = text(leeds_officer.get(f"/la/{area.leeds}/?{query}"))
    assert "There is a problem" in html and message in html
    assert len(table_rows(html, "settings-table")) == 2


def test_long_lists_are_paged(app_factory, make_user):
    app = app_factory(PAGE_SIZE=2)
    area = build_area(app, make_user)
    with app.app_context():
        for number in range(4):
            db.session.add(Setting(name=f"Zebra Nursery {number}", setting_type="nursery",
                                   postcode="LS9 9ZZ", local_authority_id=area.leeds))
        db.session.commit()
    officer = signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                        local_authority_id=area.leeds)
    first = text(officer.get(f"/la/{area.leeds}/no-training"))
    assert [row[0] for row in table_rows(first, "no-training-table")] == [
        "Cedar Childminding", "Zebra Nursery 0"]
    assert "page 1 of 3" in first and "?page=2" in first
    third = text(officer.get(f"/la/{area.leeds}/no-training?page=3"))
    assert [row[0] for row in table_rows(third, "no-training-table")] == ["Zebra Nursery 3"]
    assert officer.get(f"/la/{area.leeds}/no-training?page=0").status_code == 404


def test_nothing_to_show_says_so(app, make_user):
    with app.app_context():
        york = db.session.scalar(sa.select(LocalAuthority.id).where(LocalAuthority.name == "York"))
    officer = signed_in(app, make_user, "york@example.org", [Role.LA_OFFICER],
                        local_authority_id=york)
    page = main_text(text(officer.get(f"/la/{york}/")))
    assert "Nobody from York attended training in these dates." in page
    assert "No settings in York are registered yet." in page
    assert "Nobody who attended in these dates agreed to be named." in page


# -- who may see what -----------------------------------------------------------------------------


def test_an_officer_of_another_area_is_refused(app, make_user, area):
    other = signed_in(app, make_user, BRADFORD_OFFICER, [Role.LA_OFFICER],
                      local_authority_id=area.bradford)
    for path in (f"/la/{area.leeds}/", f"/la/{area.leeds}/named",
                 f"/la/{area.leeds}/settings", f"/la/{area.leeds}/no-training",
                 *(f"/la/{area.leeds}/{table}.csv"
                   for table in ("settings", "topics", "no-training", "named"))):
        response = other.get(path)
        assert response.status_code == 403, path
        assert "Alice Named" not in response.get_data(as_text=True)
    assert other.get(f"/la/{area.bradford}/").status_code == 200


def test_an_officer_without_an_area_is_told_to_add_it(app, make_user):
    officer = signed_in(app, make_user, "new@example.org", [Role.LA_OFFICER])
    page = main_text(text(officer.get("/la/")))
    assert "Add your local authority" in page
    assert officer.get("/la/1/").status_code == 403


def test_admins_choose_and_see_any_area(app, area, admin):
    page = text(admin.get("/la/"))
    assert f'href="/la/{area.leeds}/"' in page and f'href="/la/{area.bradford}/"' in page
    assert "Yorkshire and The Humber" in page
    assert "Alice Named" in text(admin.get(f"/la/{area.leeds}/"))
    assert csv_of(admin.get(f"/la/{area.bradford}/named.csv"))[1][0] == "Fred Bradford"
    assert admin.get("/la/999999/").status_code == 404


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.TRAINER, Role.MODERATOR])
def test_other_roles_are_refused(app, make_user, area, role):
    browser = signed_in(app, make_user, "other@example.org", [role],
                        local_authority_id=area.leeds)
    for path in ("/la/", f"/la/{area.leeds}/", f"/la/{area.leeds}/named.csv"):
        assert browser.get(path).status_code == 403, path


def test_visitors_are_sent_to_sign_in(client, area):
    response = client.get(f"/la/{area.leeds}/")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


# -- queries stay few -----------------------------------------------------------------------------


def test_the_page_runs_a_fixed_number_of_queries(app, make_user, area, admin):
    """However many settings and people an area has, the page asks the database the same
    number of questions (no query per row)."""

    def statements() -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert admin.get(f"/la/{area.leeds}/").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    before = statements()
    with app.app_context():
        for number in range(30):
            setting = Setting(name=f"Extra {number}", setting_type="nursery", postcode="LS5 5EE",
                              local_authority_id=area.leeds)
            db.session.add(setting)
            db.session.flush()
            user = User(email=f"extra{number}@example.org", name=f"Extra {number}",
                        password_hash="x", setting_id=setting.id)
            db.session.add(user)
            db.session.flush()
            booking = Booking(training_session_id=area.autism_session, user_id=user.id,
                              share_with_la=number % 2 == 0, created_at=utcnow())
            db.session.add(booking)
            db.session.flush()
            meeting = db.session.get(TrainingSession, area.autism_session).meetings[0]
            db.session.add(Attendance(booking_id=booking.id, meeting_id=meeting.id,
                                      attended=True))
        db.session.commit()
    assert statements() == before
