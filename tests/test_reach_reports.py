"""Reach, oversubscription and the national overview, checked on a small hand-made history
whose every figure is worked out by hand below."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import Auth, Browser
from trainer import booking as engine
from trainer import reports
from trainer.booking import Booking
from trainer.catalogue import TrainingSession
from trainer.db import db
from trainer.hooks import plugin_manager
from trainer.hookspecs import hookimpl
from trainer.people import Role, Setting, User


def NOW() -> datetime:  # noqa: N802 - reads as the constant it stands for
    return datetime.now(UTC).replace(microsecond=0)


def _setting(name: str, la: str) -> int:
    setting = Setting(name=name, setting_type="nursery", postcode="LS1 1AA",
                      local_authority=factories.local_authority(la))
    db.session.add(setting)
    db.session.flush()
    return setting.id


def _past(course, days_ago: int) -> TrainingSession:
    return factories.training_session(starts=NOW() - timedelta(days=days_ago), course_=course)


def _attend(session: TrainingSession, marks: dict[int, bool]) -> None:
    """Book each person on the past session (as a register import would) and mark them."""
    bookings = {}
    for user_id in marks:
        made = Booking(training_session_id=session.id, user_id=user_id)
        db.session.add(made)
        db.session.flush()
        bookings[made.id] = marks[user_id]
    db.session.commit()
    for meeting in session.meetings:
        engine.record_attendance(meeting.id, bookings, None)


@pytest.fixture
def history(app, make_user):
    """Alice (SENCO, Leeds setting), Bob (Camden setting), Carol (parent, Leeds, no setting),
    Dan (nowhere), Erin (another Leeds setting); courses A and B of one partner, C of another.

    In the past year: A1 Alice+Bob (Carol absent), A2 Alice+Carol+Dan, B1 Bob+Erin, C1 Alice.
    400 days ago: A0 Erin (outside the year)."""
    with app.test_request_context():
        leeds_1, camden, leeds_2 = (_setting("Acorns", "Leeds"), _setting("Birches", "Camden"),
                                    _setting("Cedars", "Leeds"))
        db.session.commit()
    people = {
        "alice": make_user("alice@example.org", name="Alice", setting_id=leeds_1,
                           job_role="senco")[0],
        "bob": make_user("bob@example.org", name="Bob", setting_id=camden)[0],
        "carol": make_user("carol@example.org", name="Carol", job_role="parent_carer",
                           local_authority_id=None)[0],
        "dan": make_user("dan@example.org", name="Dan")[0],
        "erin": make_user("erin@example.org", name="Erin", setting_id=leeds_2)[0],
    }
    with app.test_request_context():
        carol = db.session.get(User, people["carol"])
        carol.local_authority = factories.local_authority("Leeds")
        first = factories.partner("First partner")
        second = factories.partner("Second partner")
        course_a = factories.course("Course A", delivery_partner=first)
        course_b = factories.course("Course B", delivery_partner=first, topics=["autism"])
        course_c = factories.course("=Course C", delivery_partner=second)
        a1, a2 = _past(course_a, 20), _past(course_a, 10)
        b1, c1, a0 = _past(course_b, 5), _past(course_c, 3), _past(course_a, 400)
        db.session.commit()
        p = people
        _attend(a1, {p["alice"]: True, p["bob"]: True, p["carol"]: False})
        _attend(a2, {p["alice"]: True, p["carol"]: True, p["dan"]: True})
        _attend(b1, {p["bob"]: True, p["erin"]: True})
        _attend(c1, {p["alice"]: True})
        _attend(a0, {p["erin"]: True})
        ids = {"a1": a1.id, "a2": a2.id, "b1": b1.id, "c1": c1.id, "a0": a0.id,
               "first": first.id, "course_a": course_a.id}
    return people | ids


def signed_in(app, make_user, roles=(Role.ADMIN,), **fields) -> Browser:
    email = f"{roles[0]}-{len(fields)}@example.org"
    make_user(email, roles=list(roles), **fields)
    browser = Browser(app.test_client())
    Auth(browser).sign_in(email)
    return browser


def csv_rows(browser: Browser, url: str) -> list[list[str]]:
    response = browser.get(url)
    assert response.status_code == 200, url
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def by_first(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows[1:]}


def test_reach_counts_attendances_people_and_authorities_distinct_over_the_range(
    app, make_user, history
):
    admin = signed_in(app, make_user)
    page = admin.get("/reports/reach").get_data(as_text=True)
    assert "Local authorities represented" in page
    # 8 attendances by 5 people from 2 local authorities (Leeds, Camden) of 153: 1%.
    assert ">8<" in page and ">5<" in page and "2 of 153 (1%)" in page

    courses = by_first(csv_rows(admin, "/reports/reach/courses.csv"))
    header = ["Sessions with attendance", "Attendances", "People", "Local authorities",
              "Share of all local authorities"]
    assert csv_rows(admin, "/reports/reach/courses.csv")[0][1:] == header
    assert courses["Course A"] == ["2", "5", "4", "2", "1%"]
    assert courses["Course B"] == ["1", "2", "2", "2", "1%"]
    assert courses["'=Course C"] == ["1", "1", "1", "1", "1%"]  # spreadsheet-safe
    # The total counts Alice once, though she came to A and C: 5 people, not 7.
    assert courses["Total (distinct over the range)"] == ["4", "8", "5", "2", "1%"]

    regions = by_first(csv_rows(admin, "/reports/reach/regions.csv"))
    assert regions["Yorkshire and The Humber"] == ["4", "5", "3", "1", "1%"]
    assert regions["London"] == ["2", "2", "1", "1", "1%"]
    assert regions["Not known"] == ["1", "1", "1", "0", "0%"]
    assert regions["North East"] == ["0", "0", "0", "0", "0%"]

    audiences = by_first(csv_rows(admin, "/reports/reach/audiences.csv"))
    assert audiences["Practitioners"] == ["4", "7", "4", "2", "1%"]
    assert audiences["Parents and carers"] == ["1", "1", "1", "1", "1%"]


def test_the_session_table_lists_every_started_session_with_booked_and_attended(
    app, make_user, history
):
    admin = signed_in(app, make_user)
    rows = csv_rows(admin, "/reports/reach/sessions.csv")
    assert rows[0] == ["Date", "Course", "Session", "Booked", "Attendances",
                       "Local authorities", "Share of all local authorities"]
    by_session = {int(row[2]): row for row in rows[1:]}
    assert set(by_session) == {history[name] for name in ("a1", "a2", "b1", "c1")}
    assert by_session[history["a1"]][3:] == ["3", "2", "2", "1%"]  # Carol booked, absent
    assert by_session[history["a2"]][3:] == ["3", "3", "1", "1%"]  # Dan is from nowhere
    assert [int(row[2]) for row in rows[1:]] == [history[name] for name in
                                                 ("c1", "b1", "a2", "a1")]  # latest first


def test_a_range_picks_sessions_by_their_london_start_day(app, make_user, history):
    admin = signed_in(app, make_user)
    start = (NOW() - timedelta(days=401)).date().isoformat()
    end = (NOW() - timedelta(days=399)).date().isoformat()
    totals = by_first(csv_rows(admin, f"/reports/reach/courses.csv?from={start}&to={end}"))
    assert totals["Course A"] == ["1", "1", "1", "1", "1%"]  # only A0, Erin
    assert list(totals) == ["Course A", "Total (distinct over the range)"]


def test_a_trainer_sees_their_partners_courses_only(app, make_user, history):
    trainer = signed_in(app, make_user, roles=(Role.TRAINER,),
                        delivery_partner_id=history["first"])
    courses = by_first(csv_rows(trainer, "/reports/reach/courses.csv"))
    assert set(courses) == {"Course A", "Course B", "Total (distinct over the range)"}
    assert courses["Total (distinct over the range)"] == ["3", "7", "5", "2", "1%"]
    sessions = csv_rows(trainer, "/reports/reach/sessions.csv")
    assert history["c1"] not in {int(row[2]) for row in sessions[1:]}
    assert trainer.get("/reports/overview").status_code == 403


def test_a_person_who_moves_still_counts_where_they_trained(app, make_user, history):
    admin = signed_in(app, make_user)
    before = csv_rows(admin, "/reports/reach/regions.csv")
    with app.app_context():
        alice = db.session.get(User, history["alice"])
        alice.setting_id = db.session.scalar(sa.select(Setting.id).where(Setting.name == "Birches"))
        db.session.commit()
    assert csv_rows(admin, "/reports/reach/regions.csv") == before


def test_a_new_register_shows_at_once(app, make_user, history):
    """Figures are kept between views, but never past a change that moves them."""
    admin = signed_in(app, make_user)
    assert by_first(csv_rows(admin, "/reports/reach/courses.csv"))["Course B"][1] == "2"
    with app.test_request_context():
        booking_id = db.session.scalar(sa.select(Booking.id).where(
            Booking.training_session_id == history["b1"], Booking.user_id == history["bob"]))
        meeting = db.session.get(TrainingSession, history["b1"]).meetings[0]
        engine.record_attendance(meeting.id, {booking_id: False}, None)
    assert by_first(csv_rows(admin, "/reports/reach/courses.csv"))["Course B"][:3] == [
        "1", "1", "1"]


def test_erasing_someone_leaves_reach_unchanged(app, make_user, history):
    from trainer.privacy import erase_user

    admin = signed_in(app, make_user)
    tables = {name: csv_rows(admin, f"/reports/reach/{name}.csv")
              for name in ("courses", "regions", "audiences", "sessions")}
    with app.test_request_context():
        erase_user(db.session.get(User, history["alice"]),
                   by=db.session.scalar(sa.select(User).where(User.email == "admin-0@example.org")))
    for name, rows in tables.items():
        assert csv_rows(admin, f"/reports/reach/{name}.csv") == rows, name


def test_bad_dates_are_named_and_the_default_range_is_shown(app, make_user, history):
    admin = signed_in(app, make_user)
    page = admin.get("/reports/reach?from=2026-02-30&to=banana").get_data(as_text=True)
    assert "There is a problem" in page
    assert "The from date must be a real date" in page
    assert "The to date must be a real date" in page
    assert 'href="#from"' in page
    page = admin.get("/reports/reach?from=2026-03-02&to=2026-03-01").get_data(as_text=True)
    assert "The to date must be the same as or after the from date" in page
    assert admin.get("/reports/reach/nonsense.csv").status_code == 404
    assert admin.get("/reports/reach?page=-3").status_code == 200


def test_the_session_table_is_paged(app, make_user, history):
    admin = signed_in(app, make_user)
    with app.test_request_context():
        course = db.session.get(TrainingSession, history["a1"]).course
        for days in range(30, 90):
            _past(course, days)
        db.session.commit()
    first = admin.get("/reports/reach").get_data(as_text=True)
    assert "64 sessions" in first and 'rel="next"' in first
    second = admin.get("/reports/reach?page=2").get_data(as_text=True)
    assert 'rel="prev"' in second
    assert len(csv_rows(admin, "/reports/reach/sessions.csv")) == 65  # every session


# -- oversubscription -----------------------------------------------------------------------------


@pytest.fixture
def upcoming(app, make_user):
    """U1: 2 places, both booked, one person waiting; U2: 10 places, one booked."""
    people = [make_user(f"p{n}@example.org")[0] for n in range(4)]
    with app.test_request_context():
        course = factories.course("Popular course")
        u1 = factories.training_session(starts=NOW() + timedelta(days=10), capacity=2,
                                        course_=course)
        u2 = factories.training_session(starts=NOW() + timedelta(days=20), capacity=10,
                                        course_=course)
        db.session.commit()
        ids = (u1.id, u2.id)
        for user_id in people[:2]:
            assert engine.book(u1.id, db.session.get(User, user_id)).ok
        assert engine.book(u2.id, db.session.get(User, people[2])).ok
        from trainer.plugins.waiting_list import service

        service.join(u1.id, db.session.get(User, people[3]))
    return ids


def test_oversubscription_shows_fill_rates_full_sessions_and_people_waiting(
    app, make_user, upcoming
):
    admin = signed_in(app, make_user)
    today = NOW().date()
    query = f"?from={today.isoformat()}&to={(today + timedelta(days=90)).isoformat()}"
    page = admin.get(f"/reports/oversubscription{query}").get_data(as_text=True)
    assert "3 of 12 (25% full)" in page
    assert "People waiting now" in page
    courses = csv_rows(admin, f"/reports/oversubscription/courses.csv{query}")
    assert courses[0] == ["Course", "Sessions", "Places", "Booked", "Fill rate",
                          "Sessions full", "People waiting"]
    assert by_first(courses)["Popular course"] == ["2", "12", "3", "25%", "1", "1"]
    sessions = csv_rows(admin, f"/reports/oversubscription/sessions.csv{query}")
    assert [row[2:] for row in sessions[1:]] == [
        [str(upcoming[0]), "2", "2", "100%", "Yes", "1"],  # fullest first
        [str(upcoming[1]), "10", "1", "10%", "No", "0"],
    ]


def test_without_a_waiting_list_nobody_is_counted_as_waiting(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["waiting_list"])
    with app.test_request_context():
        factories.training_session(starts=NOW() + timedelta(days=3), capacity=5)
        db.session.commit()
    with app.app_context():
        admin = User(email="admin@example.org", name="Ada")
        admin.set_password("a-long-password-123")
        admin.email_verified_at = NOW()
        admin.grant(Role.ADMIN)
        db.session.add(admin)
        db.session.commit()
    browser = Browser(app.test_client())
    Auth(browser).sign_in("admin@example.org", "a-long-password-123")
    today = NOW().date()
    query = f"?from={today.isoformat()}&to={(today + timedelta(days=30)).isoformat()}"
    page = browser.get(f"/reports/oversubscription{query}").get_data(as_text=True)
    assert "There is no waiting list" in page and "People waiting" not in page
    assert csv_rows(browser, f"/reports/oversubscription/courses.csv{query}")[0][-1] == \
        "Sessions full"


# -- the national overview ------------------------------------------------------------------------


def test_the_overview_has_headlines_accessible_charts_and_their_tables(
    app, make_user, history, upcoming
):
    admin = signed_in(app, make_user)
    page = admin.get("/reports/overview").get_data(as_text=True)
    for words in ("People trained", "Settings reached", "2 of 153 (1%)",
                  "Attendances by month", "Local authorities reached, by region",
                  "Attendances by topic", "3 of 12 (25% full)"):
        assert words in page, words
    assert page.count('role="img"') == 3
    assert "The same figures are in the table that follows." in page
    regions = by_first(csv_rows(admin, "/reports/overview/regions.csv"))
    assert regions["Yorkshire and The Humber"] == ["15", "1", "7%", "5"]
    assert regions["England"] == ["153", "2", "1%", "8"]
    topics = by_first(csv_rows(admin, "/reports/overview/topics.csv"))
    assert topics["Speech, language and communication"] == ["6", "4"]  # courses A and C
    assert topics["Autism"] == ["2", "2"]
    months = csv_rows(admin, "/reports/overview/months.csv")
    assert len(months) == 1 + 13 + 1 or len(months) == 1 + 12 + 1  # 12 or 13 months, total
    assert months[-1] == ["Total", "4", "8"]
    assert by_first(csv_rows(admin, "/reports/overview/upcoming.csv"))["Total"][:3] == \
        ["2", "12", "3"]


def test_reports_are_for_trainers_and_admins_only(app, client, make_user, auth):
    for url in ("/reports/reach", "/reports/oversubscription", "/reports/overview",
                "/reports/reach/courses.csv"):
        assert client.get(url).status_code == 302, url
    make_user("me@example.org")
    auth.sign_in("me@example.org")
    for url in ("/reports/reach", "/reports/oversubscription", "/reports/overview",
                "/reports/reach/courses.csv", "/reports/overview/regions.csv"):
        assert client.get(url).status_code == 403, url


def test_whole_percent_rounds_half_up():
    assert reports.whole_percent(1, 200) == 1  # 0.5% -> 1%
    assert reports.whole_percent(2, 153) == 1
    assert reports.whole_percent(5, 8) == 63  # 62.5% -> 63%
    assert reports.whole_percent(0, 0) is None


class Interest:
    """A plugin that knows of people waiting elsewhere (say a list kept by an LA)."""

    def __init__(self, session_id: int, count: int):
        self.session_id, self.count = session_id, count

    @hookimpl
    def trainer_people_waiting(self, training_session_ids):
        return {self.session_id: self.count} if self.session_id in training_session_ids else {}


def test_people_waiting_adds_up_every_plugins_answer(app, make_user, upcoming):
    plugin = Interest(upcoming[1], 4)
    plugin_manager(app).register(plugin)
    try:
        admin = signed_in(app, make_user)
        today = NOW().date()
        query = f"?from={today.isoformat()}&to={(today + timedelta(days=90)).isoformat()}"
        courses = by_first(csv_rows(admin, f"/reports/oversubscription/courses.csv{query}"))
        assert courses["Popular course"][-1] == "5"  # 1 on the waiting list + 4 elsewhere
    finally:
        plugin_manager(app).unregister(plugin)
