"""Find training: filters, London times, places left, pagination, session and course pages,
joining links only for the people booked, calendar downloads, and a constant number of SQL
queries per page of results."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from trainer import booking
from trainer.catalogue import Course, Meeting, TrainingSession, Venue
from trainer.db import db
from trainer.hooks import Panel
from trainer.hookspecs import hookimpl
from trainer.people import DeliveryPartner, LocalAuthority, Role, User
from trainer.times import LONDON

JOIN_URL = "https://meet.example.org/join/secret-room-42"


# -- building test data ---------------------------------------------------------------------------


def london(year, month, day, hour, minute=0) -> datetime:
    """An aware UTC datetime for a London wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def authority_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(LocalAuthority.id).where(LocalAuthority.name == name))


def add_session(
    app,
    *,
    title="Makaton for beginners",
    summary="Signs and symbols to help children communicate.",
    topics=("makaton",),
    audiences=("practitioners",),
    level="introductory",
    accredited=False,
    credits=None,
    partner="Early Years Partnership",
    meetings=None,
    mode="in_person",
    capacity=20,
    venue_name="Riverside Children's Centre",
    venue_authority="Leeds",
    accessibility_notes="Step-free entrance and an accessible toilet.",
    online_url=None,
    restricted_to=None,
    status="scheduled",
    cancel_reason=None,
    trainer_ids=(),
    course_id=None,
) -> int:
    """Create a training session (and its course, partner and venue) and return its id.

    ``meetings`` are (start, end) pairs of aware datetimes (by default Tuesday 5 March 2030,
    6:30pm to 8pm); ``restricted_to`` an LA name.
    """
    if meetings is None:
        meetings = [(london(2030, 3, 5, 18, 30), london(2030, 3, 5, 20))]
    with app.app_context():
        if course_id is not None:
            course = db.session.get(Course, course_id)
        else:
            delivery_partner = db.session.scalar(
                sa.select(DeliveryPartner).where(DeliveryPartner.name == partner)
            ) or DeliveryPartner(name=partner, website="https://partner.example.org")
            course = Course(
                title=title,
                summary=summary,
                level=level,
                accredited=accredited,
                credits=credits,
                delivery_partner=delivery_partner,
            )
            course.topics = list(topics)
            course.audiences = list(audiences)
        venue = None
        if mode != "online":
            venue = Venue(
                name=venue_name,
                address="12 River Street\nHunslet",
                postcode="LS10 1AB",
                accessibility_notes=accessibility_notes,
                local_authority=db.session.scalar(
                    sa.select(LocalAuthority).where(LocalAuthority.name == venue_authority)
                ),
            )
        training_session = TrainingSession(
            course=course,
            capacity=capacity,
            mode=mode,
            status=status,
            cancel_reason=cancel_reason,
            local_authority=(
                db.session.scalar(
                    sa.select(LocalAuthority).where(LocalAuthority.name == restricted_to)
                )
                if restricted_to
                else None
            ),
        )
        for starts_at, ends_at in meetings:
            training_session.meetings.append(
                Meeting(
                    starts_at=starts_at,
                    ends_at=ends_at,
                    venue=venue,
                    online_url=online_url if mode != "in_person" else None,
                )
            )
        training_session.trainers = [db.session.get(User, user_id) for user_id in trainer_ids]
        training_session.refresh_times(booking.twilight_from())
        training_session.region_id = training_session.area_region_id()
        db.session.add(training_session)
        db.session.commit()
        return training_session.id


def add_booking(app, session_id: int, user_id: int | None = None, status="confirmed") -> int:
    """A booking made directly (the booking engine is tested elsewhere)."""
    with app.app_context():
        if user_id is None:
            count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
            user = User(email=f"booker{count}@example.org", name="A Booker", password_hash="x")
            db.session.add(user)
            db.session.flush()
            user_id = user.id
        row = booking.Booking(training_session_id=session_id, user_id=user_id, status=status)
        db.session.add(row)
        db.session.commit()
        return row.id


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return unescape(response.get_data(as_text=True))


def result_titles(html: str) -> list[str]:
    """The course titles of the results, in order."""
    block = html.split('class="govuk-list trainer-results"', 1)
    if len(block) < 2:
        return []
    return [
        re.sub(r"\s+", " ", title).strip()
        for title in re.findall(r'<a class="govuk-link" href="/training/sessions/\d+">([^<]+)</a>',
                                block[1].split("</ul>", 1)[0])
    ]


def result_ids(html: str) -> list[int]:
    block = html.split('class="govuk-list trainer-results"', 1)
    if len(block) < 2:
        return []
    return [int(n) for n in re.findall(r'href="/training/sessions/(\d+)"',
                                       block[1].split("</ul>", 1)[0])]


# -- the find training page -----------------------------------------------------------------------


def test_results_show_london_times_mode_place_and_twilight_soonest_first(app, client):
    later = add_session(
        app,
        title="Autism in the early years",
        topics=["autism"],
        meetings=[(london(2030, 7, 3, 9, 30), london(2030, 7, 3, 12))],
    )
    twilight = add_session(app)  # Tuesday 5 March 2030, 6:30pm to 8pm GMT
    online = add_session(
        app,
        title="The SENCO role",
        topics=["senco_role"],
        mode="online",
        online_url=JOIN_URL,
        meetings=[
            (london(2030, 4, 2, 10), london(2030, 4, 2, 12)),
            (london(2030, 4, 9, 10), london(2030, 4, 9, 12)),
            (london(2030, 4, 16, 10), london(2030, 4, 16, 12)),
        ],
    )
    html = page(client, "/training/")
    assert result_ids(html) == [twilight, online, later]
    assert "3 training sessions" in html
    assert "Tuesday 5 March 2030, 6:30pm to 8pm" in html
    assert "Tuesday 2 April 2030, 10am to 12pm and 2 more dates" in html
    assert "Wednesday 3 July 2030, 9:30am to 12pm" in html  # BST wall-clock time
    assert "In person: Riverside Children's Centre, Leeds" in html
    assert re.search(r">\s*Online\s*</p>", html)
    assert len(re.findall(r">\s*Twilight\s*</strong>", html)) == 1
    assert JOIN_URL not in html


def test_past_and_cancelled_sessions_are_not_listed(app, client):
    now = datetime.now(UTC)
    add_session(app, title="Already happened", meetings=[(now - timedelta(days=2),
                                                          now - timedelta(days=2, hours=-1))])
    add_session(app, title="Called off", status="cancelled")
    add_session(app, title="Still to come")
    assert result_titles(page(client, "/training/")) == ["Still to come"]


def test_each_filter_narrows_the_results(app, client):
    leeds = authority_id(app, "Leeds")
    add_session(app, title="Makaton basics", topics=["makaton"], audiences=["practitioners"])
    add_session(
        app,
        title="Autism and play",
        topics=["autism"],
        audiences=["parents_carers"],
        mode="online",
        online_url=JOIN_URL,
        meetings=[(london(2030, 3, 6, 10), london(2030, 3, 6, 11))],
    )
    add_session(
        app,
        title="Working with parents",
        topics=["working_with_parents"],
        audiences=["sencos", "managers"],
        venue_name="Town Hall",
        venue_authority="Cornwall",
        mode="hybrid",
        meetings=[(london(2030, 3, 7, 10), london(2030, 3, 7, 11))],
    )
    add_session(
        app,
        title="Bespoke Leeds transition",
        topics=["transition_to_school"],
        restricted_to="Leeds",
        venue_authority="Cornwall",
        meetings=[(london(2030, 3, 8, 10), london(2030, 3, 8, 11))],
    )
    with app.app_context():
        south_west = db.session.scalar(
            sa.select(LocalAuthority.region_id).where(LocalAuthority.name == "Cornwall")
        )

    def titles(query):
        return result_titles(page(client, "/training/?" + query))

    assert titles("topic=autism") == ["Autism and play"]
    assert titles("topic=autism&topic=makaton") == ["Makaton basics", "Autism and play"]
    assert titles("audience=sencos") == ["Working with parents"]
    assert titles("mode=online&mode=hybrid") == ["Autism and play", "Working with parents"]
    assert titles(f"region={south_west}") == ["Working with parents"]
    # an LA matches sessions restricted to it and sessions at a venue in it
    assert titles(f"local_authority={leeds}") == ["Makaton basics", "Bespoke Leeds transition"]
    assert titles("text=PLAY") == ["Autism and play"]
    assert titles("text=signs+and+symbols") == [  # every course here has this summary
        "Makaton basics", "Autism and play", "Working with parents", "Bespoke Leeds transition"
    ]
    assert titles("text=nothing-like-this") == []
    assert titles("from=7/3/2030") == ["Working with parents", "Bespoke Leeds transition"]
    assert titles("to=2030-03-06") == ["Makaton basics", "Autism and play"]


def test_twilight_is_a_weekday_start_at_or_after_five_london_time(app, client):
    # 17:30 BST is 16:30 UTC: twilight in London although not in UTC.
    evening = add_session(
        app, title="Evening", meetings=[(london(2030, 7, 3, 17, 30), london(2030, 7, 3, 19))]
    )
    afternoon = add_session(
        app, title="Afternoon", meetings=[(london(2030, 7, 3, 16, 30), london(2030, 7, 3, 18))]
    )
    saturday = add_session(
        app, title="Saturday", meetings=[(london(2030, 7, 6, 18), london(2030, 7, 6, 20))]
    )
    at_five = add_session(
        app, title="At five", meetings=[(london(2030, 3, 5, 17), london(2030, 3, 5, 18))]
    )
    with app.app_context():
        flags = {
            ts.id: ts.twilight for ts in db.session.scalars(sa.select(TrainingSession))
        }
    assert flags == {evening: True, afternoon: False, saturday: False, at_five: True}
    assert result_titles(page(client, "/training/?time_of_day=twilight")) == ["At five", "Evening"]
    assert result_titles(page(client, "/training/?time_of_day=daytime")) == [
        "Afternoon", "Saturday"
    ]
    html = page(client, "/training/?time_of_day=twilight")
    assert re.search(r'value="twilight"\s+checked', html)


def test_date_range_uses_london_days_across_the_end_of_summer_time(app, client):
    # Clocks go back at 2am BST on Sunday 27 October 2030.
    saturday_late = add_session(
        app, title="Sat 23:30 BST",
        meetings=[(london(2030, 10, 26, 23, 30), london(2030, 10, 26, 23, 55))],
    )
    sunday_early = add_session(  # 00:30 BST on the 27th is still the 26th in UTC
        app, title="Sun 00:30 BST",
        meetings=[(london(2030, 10, 27, 0, 30), london(2030, 10, 27, 0, 55))],
    )
    sunday_late = add_session(
        app, title="Sun 23:30 GMT",
        meetings=[(london(2030, 10, 27, 23, 30), london(2030, 10, 27, 23, 55))],
    )
    monday_early = add_session(
        app, title="Mon 00:30 GMT",
        meetings=[(london(2030, 10, 28, 0, 30), london(2030, 10, 28, 0, 55))],
    )
    with app.app_context():
        starts = db.session.get(TrainingSession, sunday_early).starts_at
    assert starts.date().isoformat() == "2030-10-26"  # the UTC day differs from London's
    html = page(client, "/training/?from=2030-10-27&to=2030-10-27")
    assert result_ids(html) == [sunday_early, sunday_late]
    assert "Sunday 27 October 2030, 12:30am to 12:55am" in html
    assert "Sunday 27 October 2030, 11:30pm to 11:55pm" in html
    assert result_ids(page(client, "/training/?to=26/10/2030")) == [saturday_late]
    assert result_ids(page(client, "/training/?from=28/10/2030")) == [monday_early]


def test_results_are_paginated_and_page_links_keep_the_filters(app_factory):
    app = app_factory(PAGE_SIZE=3)
    client = app.test_client()
    ids = [
        add_session(
            app,
            title=f"Autism course {n}",
            topics=["autism"],
            meetings=[(london(2030, 5, n, 10), london(2030, 5, n, 11))],
        )
        for n in range(1, 8)
    ]
    add_session(app, title="Not autism", topics=["behaviour"])
    html = page(client, "/training/?topic=autism&places_left=1")
    assert "7 training sessions match your filters" in html
    assert result_ids(html) == ids[:3]
    assert 'class="govuk-pagination"' in html
    assert "Page 1 of 3" in html
    links = re.findall(r'href="(/training/\?[^"]*page=\d[^"]*)"', html)
    assert links
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert query["topic"] == ["autism"]
        assert query["places_left"] == ["1"]
    next_link = re.search(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next"',
                          html)
    assert next_link, "no next link"
    second = page(client, next_link.group(1))
    assert result_ids(second) == ids[3:6]
    assert result_ids(page(client, "/training/?topic=autism&page=3")) == ids[6:]
    # A page past the end shows the last page; nonsense shows the first.
    assert result_ids(page(client, "/training/?topic=autism&page=99")) == ids[6:]
    assert result_ids(page(client, "/training/?topic=autism&page=abc")) == ids[:3]
    assert result_ids(page(client, "/training/?topic=autism&page=-2")) == ids[:3]


def test_search_url_round_trips_and_the_form_shows_what_was_chosen(app, client):
    wanted = add_session(
        app,
        title="Online autism",
        topics=["autism"],
        mode="online",
        online_url=JOIN_URL,
        meetings=[(london(2030, 3, 12, 18), london(2030, 3, 12, 19))],
    )
    add_session(app, title="In person autism", topics=["autism"])
    url = "/training/?topic=autism&mode=online&from=1/3/2030&to=2030-03-31&text=autism"
    html = page(client, url)
    assert result_ids(html) == [wanted]
    assert re.search(r'value="autism"\s+checked', html)
    assert re.search(r'value="online"\s+checked', html)
    assert 'value="1/3/2030"' in html
    # The feed and API links carry the same (normalised) filters, and give the same sessions.
    feed = re.search(r'href="(/training/feed\.ics\?[^"]+)"', html).group(1)
    assert parse_qs(urlsplit(feed).query) == {
        "topic": ["autism"], "mode": ["online"], "from": ["2030-03-01"], "to": ["2030-03-31"],
        "text": ["autism"],
    }
    api = re.search(r'href="(/api/v1/sessions\?[^"]+)"', html).group(1)
    assert [item["id"] for item in client.get(api).get_json()["sessions"]] == [wanted]
    assert result_ids(page(client, "/training/?" + urlsplit(feed).query)) == [wanted]


def test_places_left_and_fully_booked_are_said_in_words(app, client):
    roomy = add_session(app, title="Roomy", capacity=3,
                        meetings=[(london(2030, 3, 4, 10), london(2030, 3, 4, 11))])
    one_left = add_session(app, title="One left", capacity=2,
                           meetings=[(london(2030, 3, 5, 10), london(2030, 3, 5, 11))])
    full = add_session(app, title="Full", capacity=1,
                       meetings=[(london(2030, 3, 6, 10), london(2030, 3, 6, 11))])
    add_booking(app, roomy)
    add_booking(app, roomy, status="cancelled")
    add_booking(app, one_left)
    add_booking(app, full)
    html = page(client, "/training/")
    assert re.findall(r'<strong class="trainer-places">([^<]+)</strong>', html) == [
        "2 places left", "1 place left", "Fully booked"
    ]
    assert result_ids(page(client, "/training/?places_left=1")) == [roomy, one_left]
    assert "Fully booked" in page(client, f"/training/sessions/{full}")
    assert "This training session is fully booked" in page(client, f"/training/sessions/{full}")


def test_places_held_by_plugins_count_against_places_left(app_factory):
    class HoldsTwo:
        @hookimpl
        def trainer_places_held(self, training_session):
            return 2

    app = app_factory(PLUGINS=[HoldsTwo()])
    add_session(app, capacity=3)
    html = page(app.test_client(), "/training/")
    assert "1 place left" in html


def test_bad_filter_values_get_an_error_summary_naming_the_field(app, client):
    add_session(app)
    cases = {
        "region=abc": ("Select a region from the list", "#region"),
        "local_authority=999999": ("Select a local authority from the list", "#local_authority"),
        "from=2026-13-40": ("From date must be a real date", "#from"),
        "to=31/2/2030": ("To date must be a real date", "#to"),
        "from=2030-03-10&to=2030-03-01": (
            "To date must be the same as or after the from date", "#to"
        ),
        "mode=boat": ("Select how the training is delivered from the list", "#mode-0"),
        "topic=astrology": ("Select topics from the list", "#topic-0"),
        "time_of_day=midnight": ("Select a time of day from the list", "#time_of_day-0"),
        "places_left=perhaps": ("Places left must be yes or no", "#places_left"),
        "text=" + "x" * 101: ("Keyword must be 100 characters or fewer", "#text"),
        "course=12abc": ("Course must be a course number", "#course"),
    }
    for query, (message, anchor) in cases.items():
        response = client.get("/training/?" + query)
        assert response.status_code == 200, query
        html = unescape(response.get_data(as_text=True))
        assert "There is a problem" in html, query
        assert f'href="{anchor}">{message}' in html, (query, html[:3000])
        assert "<title>Error: Find training" in html, query
        assert result_ids(html) == [], query
        assert "Correct the problem with the filters" in html


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31", "to=0001-01-01", "from=1/1/99999", "text=%00%01nul", "page=%C2%B2",
        "course=%C2%B2", "course=99999999999999", "region=99999999999999", "topic=&mode=",
        "local_authority=", "places_left=", "from=%20", "text=%25_%25", "page=99999999999",
    ],
)
def test_odd_values_never_cause_a_server_error(client, app, query):
    add_session(app)
    assert client.get("/training/?" + query).status_code == 200
    assert client.get("/training/feed.ics?" + query).status_code in (200, 400)
    assert client.get("/api/v1/sessions?" + query).status_code in (200, 400)


def test_an_empty_catalogue_says_so(client):
    html = page(client, "/training/")
    assert "There is no training to book at the moment" in html
    html = page(client, "/training/?topic=autism")
    assert "No training matches your filters" in html
    assert "Clear all filters" in html


def test_find_training_is_in_the_navigation_for_everyone(app, client, make_user, auth):
    assert 'href="/training/"' in page(client, "/")
    make_user("p@example.org")
    auth.sign_in("p@example.org")
    assert re.search(r'href="/training/"[^>]*>\s*Find training\s*<', page(client, "/dashboard"))


# -- the number of queries ------------------------------------------------------------------------


def _add_sessions(app, first: int, last: int) -> None:
    """Sessions ``first`` to ``last - 1`` of five kinds (at a venue, online, hybrid and in two
    parts, restricted to an LA, with a trainer), some booked, so that every kind of related row
    is loaded on each page."""
    with app.app_context():
        trainer = db.session.scalar(sa.select(User).where(User.email == "tess@example.org"))
        if trainer is None:
            trainer = User(email="tess@example.org", name="Tess Trainer", password_hash="x")
            trainer.grant(Role.TRAINER)
            db.session.add(trainer)
            db.session.commit()
        trainer_id = trainer.id
    for n in range(first, last):
        kind = n % 5
        starts = datetime(2030, 3, 1, 18, tzinfo=UTC) + timedelta(days=n)
        meetings = [(starts, starts + timedelta(hours=1))]
        if kind == 2:
            meetings.append((starts + timedelta(days=7), starts + timedelta(days=7, hours=1)))
        session_id = add_session(
            app,
            title=f"Course {n}",
            partner=f"Partner {n % 3}",
            topics=[["autism"], ["makaton", "behaviour"], ["senco_role"], ["autism"],
                    ["transition_to_school"]][kind],
            mode=["in_person", "online", "hybrid", "in_person", "in_person"][kind],
            meetings=meetings,
            online_url=JOIN_URL,
            restricted_to="Leeds" if kind == 3 else None,
            venue_authority=["Leeds", "Leeds", "Cornwall", "Leeds", "Camden"][kind],
            trainer_ids=[trainer_id] if kind == 4 else [],
        )
        if kind in (0, 4):
            add_booking(app, session_id)


def _count_queries(app, client, url: str) -> int:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
        assert response.status_code == 200, url
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements)


@pytest.mark.parametrize(
    "url",
    [
        "/training/",
        "/training/?places_left=1&mode=in_person&mode=online&mode=hybrid",
        "/api/v1/sessions?per_page=100",
    ],
)
def test_queries_per_page_do_not_grow_with_the_number_of_sessions(app, client, url):
    _add_sessions(app, 0, 5)
    client.get(url)  # warm up
    few = _count_queries(app, client, url)
    _add_sessions(app, 5, 40)
    many = _count_queries(app, client, url)
    assert few == many, (few, many)
    if url.startswith("/api"):
        assert len(client.get(url).get_json()["sessions"]) == 40
    else:
        assert len(result_ids(page(client, url))) == 25


# -- the session page -----------------------------------------------------------------------------


def test_session_page_shows_everything_a_person_needs(app, client, make_user):
    trainer_id, _ = make_user("trainer@example.org", name="Priya Trainer", roles=[Role.TRAINER])
    session_id = add_session(
        app,
        title="Level 3 SENCO award",
        level="level_3",
        accredited=True,
        credits=15,
        meetings=[
            (london(2030, 3, 5, 18, 30), london(2030, 3, 5, 20)),
            (london(2030, 4, 2, 18, 30), london(2030, 4, 2, 20)),  # after the clocks change
        ],
        restricted_to="Leeds",
        trainer_ids=[trainer_id],
        capacity=12,
    )
    add_booking(app, session_id)
    html = page(client, f"/training/sessions/{session_id}")
    assert "<h1 class=\"govuk-heading-l\">Level 3 SENCO award</h1>" in html
    assert "Early Years Partnership" in html
    assert "Tuesday 5 March 2030, 6:30pm to 8pm" in html
    assert "Tuesday 2 April 2030, 6:30pm to 8pm" in html
    assert "Riverside Children's Centre" in html
    assert "12 River Street" in html and "LS10 1AB" in html
    assert "Step-free entrance and an accessible toilet." in html
    assert "In person" in html
    assert "11 places left" in html
    assert "Priya Trainer" in html
    assert "Only for people in Leeds" in html
    assert "15 credits" in html
    assert "Cancelled" not in html
    assert f'href="/training/sessions/{session_id}.ics"' in html


def test_a_cancelled_session_says_so(app, client):
    session_id = add_session(app, status="cancelled", cancel_reason="The trainer is unwell.")
    html = page(client, f"/training/sessions/{session_id}")
    assert "This training session has been cancelled." in html
    assert "The trainer is unwell." in html
    assert "Book a place" not in html


def test_unknown_sessions_and_courses_are_not_found(client):
    for url in ("/training/sessions/999", "/training/sessions/99999999999999",
                "/training/courses/999", "/training/courses/99999999999999",
                "/training/sessions/999.ics"):
        assert client.get(url).status_code == 404, url


def test_book_a_place_links_to_booking(app, client):
    session_id = add_session(app)
    html = page(client, f"/training/sessions/{session_id}")
    if "bookings.book" in app.view_functions:
        assert f'href="/my-training/book/{session_id}"' in html
        assert "Book a place" in html
    else:
        assert "Book a place" not in html


def test_booking_windows_are_explained(app, client):
    opens_later = add_session(app)
    closed = add_session(app, title="Closed")
    with app.app_context():
        db.session.get(TrainingSession, opens_later).booking_opens_at = london(2030, 2, 1, 9)
        db.session.get(TrainingSession, closed).booking_closes_at = london(2020, 1, 1, 9)
        db.session.commit()
    assert "Booking opens on Friday 1 February 2030, 9am." in page(
        client, f"/training/sessions/{opens_later}"
    )
    assert "Booking for this training session has closed." in page(
        client, f"/training/sessions/{closed}"
    )


def test_joining_link_only_for_people_booked_its_trainers_and_admins(
    app, client, make_user, auth
):
    trainer_id, trainer_email = make_user("trainer@example.org", roles=[Role.TRAINER])
    make_user("other-trainer@example.org", roles=[Role.TRAINER])
    make_user("admin@example.org", roles=[Role.ADMIN])
    booked_id, booked_email = make_user("booked@example.org")
    cancelled_id, cancelled_email = make_user("cancelled@example.org")
    make_user("stranger@example.org")
    session_id = add_session(
        app, mode="hybrid", online_url=JOIN_URL, trainer_ids=[trainer_id]
    )
    add_booking(app, session_id, booked_id)
    add_booking(app, session_id, cancelled_id, status="cancelled")
    url = f"/training/sessions/{session_id}"

    assert JOIN_URL not in page(client, url)
    assert "joining link is shown on this page and sent to you once you have booked" in page(
        client, url
    )
    seen = {}
    for email in (
        "stranger@example.org", "cancelled@example.org", "other-trainer@example.org",
        "booked@example.org", trainer_email, "admin@example.org",
    ):
        auth.sign_in(email)
        seen[email] = JOIN_URL in page(client, url)
        auth.sign_out()
    assert seen == {
        "stranger@example.org": False,
        "cancelled@example.org": False,
        "other-trainer@example.org": False,
        "booked@example.org": True,
        "trainer@example.org": True,
        "admin@example.org": True,
    }
    auth.sign_in("booked@example.org")
    assert "You have booked a place on this training." in page(client, url)
    # Never in the public downloads, whoever asks.
    assert JOIN_URL not in client.get(url + ".ics").get_data(as_text=True)
    assert JOIN_URL not in client.get("/training/feed.ics").get_data(as_text=True)
    assert JOIN_URL not in client.get(f"/api/v1/sessions/{session_id}").get_data(as_text=True)


def test_plugins_add_panels_to_the_session_page(app_factory):
    class Notes:
        @hookimpl
        def trainer_page_panels(self, page, obj, user):
            if page == "session":
                return Panel("Waiting list", f"<p class='govuk-body'>Session {obj.id}</p>")
            return None

    app = app_factory(PLUGINS=[Notes()])
    session_id = add_session(app)
    html = page(app.test_client(), f"/training/sessions/{session_id}")
    assert "Waiting list" in html
    assert f"Session {session_id}" in html


# -- the course page ------------------------------------------------------------------------------


def test_course_page_describes_the_course_and_lists_its_upcoming_sessions(app, client):
    first = add_session(
        app,
        title="Speech and language",
        topics=["speech_language_communication", "early_identification"],
        audiences=["practitioners", "childminders"],
        level="level_3",
        accredited=True,
        credits=10,
        meetings=[(london(2030, 3, 5, 18, 30), london(2030, 3, 5, 20))],
    )
    with app.app_context():
        course_id = db.session.get(TrainingSession, first).course_id
    second = add_session(
        app, course_id=course_id, meetings=[(london(2030, 7, 3, 10), london(2030, 7, 3, 12))]
    )
    add_session(app, course_id=course_id, status="cancelled")
    add_session(app, title="Other course")
    html = page(client, f"/training/courses/{course_id}")
    assert "<h1 class=\"govuk-heading-l\">Speech and language</h1>" in html
    assert "Signs and symbols to help children communicate." in html
    assert "Early identification of needs, Speech, language and communication" in html
    assert "Childminders, Early years practitioners" in html
    assert "Level 3 (accredited)" in html
    assert "Yes, 10 credits" in html
    assert "Early Years Partnership" in html
    assert result_ids(html) == [first, second]
    assert "Tuesday 5 March 2030, 6:30pm to 8pm" in html
    assert "Other course" not in html


def test_course_page_without_upcoming_sessions(app, client):
    session_id = add_session(app, status="cancelled")
    with app.app_context():
        course_id = db.session.get(TrainingSession, session_id).course_id
    assert "There are no upcoming dates for this course" in page(
        client, f"/training/courses/{course_id}"
    )


# -- calendar downloads ---------------------------------------------------------------------------


def test_session_ics_has_each_meeting_at_the_right_utc_time(app, client):
    session_id = add_session(
        app,
        mode="online",
        online_url=JOIN_URL,
        meetings=[
            (london(2030, 3, 5, 18, 30), london(2030, 3, 5, 20)),  # GMT
            (london(2030, 7, 3, 18, 30), london(2030, 7, 3, 20)),  # BST
        ],
    )
    response = client.get(f"/training/sessions/{session_id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".ics" in response.headers["Content-Disposition"]
    assert JOIN_URL not in response.get_data(as_text=True)
    calendar = Calendar.from_ical(response.data)
    events = calendar.walk("VEVENT")
    assert len(events) == 2
    starts = sorted(event.decoded("dtstart").astimezone(UTC) for event in events)
    assert starts == [
        datetime(2030, 3, 5, 18, 30, tzinfo=UTC),
        datetime(2030, 7, 3, 17, 30, tzinfo=UTC),
    ]
    ends = sorted(event.decoded("dtend").astimezone(UTC) for event in events)
    assert ends == [datetime(2030, 3, 5, 20, tzinfo=UTC), datetime(2030, 7, 3, 19, tzinfo=UTC)]
    assert all(str(event["summary"]) == "Makaton for beginners" for event in events)


def test_catalogue_feed_takes_the_search_filters(app, client):
    add_session(app, title="Autism", topics=["autism"])
    add_session(
        app, title="Makaton", meetings=[(london(2030, 7, 3, 10), london(2030, 7, 3, 11))]
    )
    add_session(app, title="Cancelled autism", topics=["autism"], status="cancelled")
    response = client.get("/training/feed.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    summaries = sorted(
        str(event["summary"]) for event in Calendar.from_ical(response.data).walk("VEVENT")
    )
    assert summaries == ["Autism", "Makaton"]
    filtered = Calendar.from_ical(client.get("/training/feed.ics?topic=autism").data)
    assert [str(event["summary"]) for event in filtered.walk("VEVENT")] == ["Autism"]
    bad = client.get("/training/feed.ics?region=abc")
    assert bad.status_code == 400
    assert "region: Select a region from the list" in bad.get_data(as_text=True)


def test_empty_feed_is_still_a_calendar(client):
    response = client.get("/training/feed.ics?topic=autism")
    assert response.status_code == 200
    assert Calendar.from_ical(response.data).walk("VEVENT") == []


def test_time_of_day_choices_say_what_they_include(client):
    """Sessions that are not twilight include weekend evenings, and the label says so."""
    page = client.get("/training/").get_data(as_text=True)
    assert "Daytime and weekends" in page
