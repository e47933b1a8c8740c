"""Demo training: courses on the usual topics, venues, a past year and a coming term of
sessions, bookings, and registers for what has already happened.

Written with bulk inserts so that the national scale (about 20,000 training sessions and
600,000 bookings) takes minutes. Bookings here are demo data written straight into the
tables, never beyond a session's capacity; real bookings always go through the engine.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from trainer.catalogue import (
    Course,
    CourseAudience,
    CourseTopic,
    Meeting,
    TrainingSession,
    Venue,
    is_twilight,
    session_trainer,
)
from trainer.db import db, utcnow
from trainer.people import DeliveryPartner, LocalAuthority, User
from trainer.times import LONDON

COURSES = [
    ("Supporting speech, language and communication", ["speech_language_communication"],
     ["practitioners", "childminders"], "introductory", 1),
    ("Understanding autism in the early years", ["autism", "early_identification"],
     ["practitioners", "sencos", "parents_carers"], "introductory", 1),
    ("Makaton taster session", ["makaton", "speech_language_communication"],
     ["practitioners", "childminders", "parents_carers"], "introductory", 1),
    ("Getting ready for school: transitions for children with SEND",
     ["transition_to_school"], ["sencos", "managers"], "intermediate", 1),
    ("Working in partnership with parents and carers", ["working_with_parents"],
     ["practitioners", "managers"], "introductory", 1),
    ("Understanding behaviour as communication", ["behaviour"],
     ["practitioners", "childminders"], "intermediate", 1),
    ("The role of the early years SENCO", ["senco_role"], ["sencos", "managers"],
     "intermediate", 2),
    ("Sensory processing in young children", ["sensory_and_physical"],
     ["practitioners", "health_visitors"], "intermediate", 1),
    ("Level 3 Award for the early years SENCO", ["senco_role", "early_identification"],
     ["sencos"], "level_3", 6),
]
SUMMARY = (
    "Practical, free training for people who work with young children with special "
    "educational needs and disabilities. Bring an example from your own practice."
)
DAYTIME = [(time(9, 30), time(12, 0)), (time(13, 0), time(15, 30))]
TWILIGHT = [(time(18, 30), time(20, 0)), (time(17, 30), time(19, 0))]
BATCH = 5000


def _london(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LONDON).astimezone(UTC)


def _insert(table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(table.insert(), rows[start:start + BATCH])


def _ids_after(table, before: int | None) -> list[int]:
    return list(db.session.scalars(
        sa.select(table.c.id).where(table.c.id > (before or 0)).order_by(table.c.id)
    ))


def _max_id(table) -> int | None:
    return db.session.scalar(sa.select(sa.func.max(table.c.id)))


def create(rng: random.Random, sessions: int, bookings: int, echo=print) -> dict[str, int]:
    """Courses, venues, ``sessions`` training sessions and about ``bookings`` bookings."""
    partners = list(db.session.scalars(sa.select(DeliveryPartner).order_by(DeliveryPartner.id)))
    courses = []
    for number, (title, topics, audiences, level, parts) in enumerate(COURSES):
        course = Course(title=title, summary=SUMMARY, level=level,
                        accredited=level == "level_3", credits=12 if level == "level_3" else None,
                        delivery_partner=partners[number % len(partners)])
        course.topic_rows = [CourseTopic(topic=topic) for topic in topics]
        course.audience_rows = [CourseAudience(audience=a) for a in audiences]
        courses.append((course, parts))
        db.session.add(course)
    db.session.flush()

    authorities = list(db.session.scalars(sa.select(LocalAuthority).order_by(LocalAuthority.id)))
    venue_table = Venue.__table__
    before = _max_id(venue_table)
    _insert(venue_table, [
        {"name": f"{authority.name} Children's Centre", "address": "1 High Street",
         "postcode": f"AB{number % 90 + 1} 1AA", "local_authority_id": authority.id,
         "accessibility_notes": "Step-free access from the car park. Accessible toilet. "
                                "Hearing loop in the main room."}
        for number, authority in enumerate(authorities)
    ])
    venues = _ids_after(venue_table, before)
    venue_area = {venue_id: authority for venue_id, authority in zip(venues, authorities,
                                                                      strict=True)}
    trainers = list(db.session.scalars(
        sa.select(User.id).where(User.email == "trainer@example.org")
    ))

    today = datetime.now(LONDON).date()
    term_start = today - timedelta(days=today.weekday()) - timedelta(weeks=2)
    weeks = max(14, sessions // 400)
    session_rows, meeting_plans = [], []
    now = utcnow()
    for number in range(sessions):
        course, parts = courses[number % len(courses)] if number < len(courses) * 3 else \
            rng.choice(courses)
        if number >= len(courses) * 3 and number % 2:
            # Half of the rest ran in the past year, so reports have a year to show.
            day = today - timedelta(days=rng.randrange(14, 365))
            day -= timedelta(days=max(0, day.weekday() - 4))
        else:
            day = term_start + timedelta(weeks=rng.randrange(weeks), days=rng.randrange(5))
        twilight = rng.random() < 0.5
        start_clock, end_clock = rng.choice(TWILIGHT if twilight else DAYTIME)
        mode = rng.choices(["in_person", "online", "hybrid"], [5, 4, 1])[0]
        venue_id = rng.choice(venues) if mode != "online" else None
        region_id = venue_area[venue_id].region_id if venue_id else \
            rng.choice(authorities).region_id
        restricted = venue_area[venue_id].id if venue_id and rng.random() < 0.1 else None
        days = [day + timedelta(weeks=part) for part in range(parts)]
        starts, ends = _london(days[0], start_clock), _london(days[-1], end_clock)
        session_rows.append({
            "course_id": course.id, "capacity": rng.choice([16, 20, 24, 30, 40, 50, 60]),
            "mode": mode, "booking_opens_at": None,
            "booking_closes_at": starts - timedelta(hours=2),
            "local_authority_id": restricted, "region_id": region_id, "status": "scheduled",
            "notes": "", "starts_at": starts, "ends_at": ends,
            "twilight": is_twilight(starts, time(17, 0)), "sequence": 0, "created_at": now,
            "ended_handled_at": ends if ends < now else None,
        })
        meeting_plans.append((days, start_clock, end_clock, venue_id, mode))
    _give_references(session_rows, {course.id: course for course, _ in courses})
    table = TrainingSession.__table__
    before = _max_id(table)
    _insert(table, session_rows)
    session_ids = _ids_after(table, before)
    meetings = []
    for session_id, (days, start_clock, end_clock, venue_id, mode) in zip(
        session_ids, meeting_plans, strict=True
    ):
        for part, day in enumerate(days, start=1):
            meetings.append({
                "training_session_id": session_id, "starts_at": _london(day, start_clock),
                "ends_at": _london(day, end_clock), "venue_id": venue_id,
                "online_url": f"https://meet.example.org/trainer-{session_id}"
                if mode != "in_person" else None,
                "title": f"Part {part} of {len(days)}" if len(days) > 1 else None,
            })
    _insert(Meeting.__table__, meetings)
    if trainers:
        _insert(session_trainer, [
            {"training_session_id": session_id, "user_id": trainers[0]}
            for session_id in session_ids[: min(len(session_ids), 200)]
        ])
    echo(f"  {len(courses)} courses, {len(venues)} venues, {len(session_ids)} training "
         f"sessions, {len(meetings)} meetings")

    made = _bookings(rng, session_ids, session_rows, bookings)
    echo(f"  {made} bookings")
    marks = _registers(rng, now)
    echo(f"  {marks} attendance marks on past meetings")
    from trainer.booking import refresh_reach
    from trainer.db import is_sqlite

    if not is_sqlite():
        # Fresh statistics, or PostgreSQL may plan the update below as if the tables it has
        # just filled were empty (and take many minutes over it).
        db.session.execute(sa.text("ANALYZE"))
    refresh_reach()  # bookings written in bulk: who attended, and from where
    return {"courses": len(courses), "training_sessions": len(session_ids), "bookings": made,
            "attendance_marks": marks}


def _give_references(session_rows: list[dict], courses: dict[int, Course]) -> None:
    """A reference for each session, like ``EYIP-2026-041``: its delivery partner's initials,
    the year it starts and its number among that partner's sessions of the year, by date."""
    numbers: Counter[tuple[str, int]] = Counter()
    codes = {course_id: "".join(word[0] for word in course.delivery_partner.name.split()
                                if word[0].isupper())
             for course_id, course in courses.items()}
    for row in sorted(session_rows, key=lambda row: row["starts_at"]):
        key = (codes[row["course_id"]], row["starts_at"].astimezone(LONDON).year)
        numbers[key] += 1
        row["reference"] = f"{key[0]}-{key[1]}-{numbers[key]:03d}"


def _registers(rng: random.Random, now: datetime) -> int:
    """Registers for meetings already over: about nine in ten people came to each."""
    from trainer.booking import Attendance, Booking

    past = db.session.execute(
        sa.select(Booking.id, Meeting.id)
        .join(Meeting, Meeting.training_session_id == Booking.training_session_id)
        .where(Meeting.ends_at < now, Booking.status == "confirmed")
        .order_by(Booking.id, Meeting.id)
    ).all()
    rows = [{"booking_id": booking_id, "meeting_id": meeting_id,
             "attended": rng.random() < 0.9, "recorded_at": now, "recorded_by_id": None}
            for booking_id, meeting_id in past]
    _insert(Attendance.__table__, rows)
    return len(rows)


def _bookings(rng: random.Random, session_ids, session_rows, wanted: int) -> int:
    from trainer.booking import Booking

    user_ids = list(db.session.scalars(
        sa.select(User.id).where(User.email.like("%@example.net")).order_by(User.id)
    ))
    demo_practitioner = db.session.scalar(
        sa.select(User.id).where(User.email == "practitioner@example.org")
    )
    if not user_ids:
        return 0
    total_capacity = sum(row["capacity"] for row in session_rows) or 1
    fill = min(wanted / total_capacity, 0.95)
    now = utcnow()
    rows, made = [], 0
    for position, (session_id, row) in enumerate(zip(session_ids, session_rows, strict=True)):
        share = min(1.0, max(0.0, rng.gauss(fill, 0.25)))
        if position % 7 == 0:
            share = 1.0  # fully booked
        elif position % 7 == 1:
            share = (row["capacity"] - 1) / row["capacity"]  # one place left
        count = min(int(row["capacity"] * share), len(user_ids))
        people = rng.sample(user_ids, count)
        if demo_practitioner and position in (3, 10) and count < row["capacity"]:
            people.append(demo_practitioner)
        for user_id in people:
            booked = min(now, row["starts_at"] - timedelta(days=rng.randrange(2, 40)))
            rows.append({
                "training_session_id": session_id, "user_id": user_id, "status": "confirmed",
                "access_needs": "", "share_with_la": rng.random() < 0.7, "created_at": booked,
                "confirmed_at": booked, "sequence": 0,
            })
        if len(rows) >= BATCH:
            _insert(Booking.__table__, rows)
            made += len(rows)
            rows = []
    if rows:
        _insert(Booking.__table__, rows)
        made += len(rows)
    return made
