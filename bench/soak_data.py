"""The soak's own data, added inside the app on top of the small demo data.

* ``soak<n>@example.org``: practitioners, each booked on one training session that ended in
  the last few days; half of those sessions have their register taken already (everybody
  attended, so the questionnaire after it is open), the other half wait for a trainer;
* ``soak-trainer<n>@example.org``: trainers running every soak training session;
* ``soak-moderator<n>@example.org``: members of the soak moderation panel, which has
  submitted award applications assigned to it, each declared free of conflict by every
  member, so all of them can be assessed at once;
* upcoming training sessions with small capacities (some starting within the reminder
  window), so booking, cancelling and "fully booked" all happen.

Rows are written directly, like the demo data; everything the soak does afterwards goes
through the web pages. Passwords use a cheap hash so signing in is quick.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from bench.common import PASSWORD

SEED = 915


def practitioner_email(number: int) -> str:
    return f"soak{number}@example.org"


def trainer_email(number: int) -> str:
    return f"soak-trainer{number}@example.org"


def moderator_email(number: int) -> str:
    return f"soak-moderator{number}@example.org"


def prepare(people: int, trainers: int, future_sessions: int, applications: int) -> dict:
    """Add the soak's people, training sessions and award applications; commit and return
    their ids (run inside an app context, after the demo data)."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from awards.models import (
        Application,
        ApplicationStatus,
        Declaration,
        Evidence,
        EvidenceKind,
        MemberType,
        Panel,
        PanelMember,
        SelfAssessment,
    )
    from awards.schemes import get_scheme
    from trainer.booking import (
        Attendance,
        Booking,
        BookingStatus,
        refresh_reach,
        twilight_from,
    )
    from trainer.catalogue import Course, Meeting, TrainingSession, Venue, session_trainer
    from trainer.db import db, utcnow
    from trainer.people import Role, Setting, User
    from trainer.times import LONDON

    rng = random.Random(SEED)
    now = utcnow()
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    settings = list(db.session.scalars(sa.select(Setting).order_by(Setting.id)))
    courses = list(db.session.scalars(sa.select(Course).order_by(Course.id)))
    venues = list(db.session.scalars(sa.select(Venue).order_by(Venue.id)))

    def person(email: str, name: str, role: Role, job_role: str, setting=None) -> User:
        user = User(email=email, name=name, password_hash=hashed, job_role=job_role,
                    email_verified_at=now, setting=setting)
        user.grant(role)
        db.session.add(user)
        return user

    practitioners = [person(practitioner_email(n), f"Soak Practitioner {n}", Role.PRACTITIONER,
                            "early_years_practitioner", rng.choice(settings))
                     for n in range(people)]
    trainer_users = [person(trainer_email(n), f"Soak Trainer {n}", Role.TRAINER, "trainer")
                     for n in range(trainers)]
    moderators = [person(moderator_email(n), f"Soak Moderator {n}", Role.MODERATOR,
                         "parent_carer" if n % 2 else "la_staff") for n in range(people)]

    def london(day, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=LONDON).astimezone(UTC)

    def training_session(course, starts: list[datetime], capacity: int) -> TrainingSession:
        mode = rng.choice(["in_person", "online", "hybrid"])
        venue = rng.choice(venues) if mode != "online" and venues else None
        session = TrainingSession(
            course=course, capacity=capacity, mode=mode,
            booking_closes_at=starts[0] - timedelta(hours=2),
            region_id=venue.local_authority.region_id if venue and venue.local_authority
            else None)
        for part, start in enumerate(starts, start=1):
            session.meetings.append(Meeting(
                starts_at=start, ends_at=start + timedelta(hours=1, minutes=30), venue=venue,
                online_url=None if mode == "in_person"
                else f"https://meet.example.org/soak-{rng.randrange(10**6)}",
                title=f"Part {part} of {len(starts)}" if len(starts) > 1 else None))
        session.refresh_times(twilight_from())
        db.session.add(session)
        return session

    today = datetime.now(LONDON).date()
    upcoming = []
    for number in range(future_sessions):
        if number < 3:  # inside the 48-hour reminder window: tick sends reminders
            first = now + timedelta(hours=20 + 6 * number)
        else:
            first = london(today + timedelta(days=rng.randint(3, 45)),
                           rng.choice([time(9, 30), time(18, 30)]))
        starts = [first] if number % 5 else [first, first + timedelta(weeks=1)]
        upcoming.append(training_session(courses[number % len(courses)], starts,
                                         rng.choice([3, 4, 6, 8, 10, 12])))
    past_count = max(2, people // 6)
    ended = []
    for number in range(past_count):
        first = now - timedelta(days=1 + number % 4, hours=3)
        ended.append(training_session(courses[(number + 2) % len(courses)], [first],
                                      people // past_count + 6))
    db.session.flush()
    db.session.execute(session_trainer.insert(), [
        {"training_session_id": session.id, "user_id": trainer.id}
        for session in upcoming + ended for trainer in trainer_users])

    past_bookings = {}
    for number, practitioner in enumerate(practitioners):
        session = ended[number % past_count]
        booked = session.starts_at - timedelta(days=7)
        booking = Booking(training_session=session, user=practitioner,
                          status=BookingStatus.CONFIRMED, created_at=booked, confirmed_at=booked)
        db.session.add(booking)
        db.session.flush()
        # Every other ended session's register is still to be taken: the first trainers to
        # save it write its marks at the same moment.
        for meeting in session.meetings if number % past_count % 2 else []:
            db.session.add(Attendance(booking=booking, meeting_id=meeting.id, attended=True,
                                      recorded_at=session.ends_at))
        past_bookings[number] = [session.id, booking.id]
    db.session.flush()
    refresh_reach([booking_id for _session_id, booking_id in past_bookings.values()])

    panel = Panel(name="Soak moderation panel", created_at=now - timedelta(days=30))
    for number, moderator in enumerate(moderators):
        panel.members.append(PanelMember(
            user=moderator, is_chair=number == 0,
            member_type=MemberType.PARENT_CARER.value if number % 2
            else MemberType.PROFESSIONAL.value))
    db.session.add(panel)
    schemes = [get_scheme("inclusion_kite_mark"), get_scheme("communication_award")]
    taken = set(db.session.scalars(sa.select(Application.setting_id)))
    free_settings = [setting for setting in settings if setting.id not in taken]
    made = []
    for number in range(applications):
        scheme = schemes[number % 2]
        window = scheme.window_on(today) or (today - timedelta(days=30),
                                             today + timedelta(days=60))
        submitted = now - timedelta(days=5)
        application = Application(
            scheme_key=scheme.key, setting=free_settings[number % len(free_settings)],
            status=ApplicationStatus.SUBMITTED.value, district="Soak", panel=panel,
            window_opens=window[0], window_closes=window[1], created_at=submitted,
            updated_at=submitted, submitted_at=submitted)
        for criterion in scheme.criteria:
            application.answers.append(SelfAssessment(
                criterion_key=criterion.key, score=rng.choice([1, 2]),
                narrative="Every room team plans support with families each term.",
                updated_at=submitted))
            application.evidence.append(Evidence(
                criterion_key=criterion.key, kind=EvidenceKind.TEXT.value, caption="What we do",
                text="Our SENCO meets each room team monthly.", created_at=submitted))
        for moderator in moderators:
            application.declarations.append(Declaration(
                user=moderator, has_conflict=False, declared_at=now - timedelta(days=1)))
        db.session.add(application)
        made.append(application)
    db.session.commit()
    return {
        "upcoming": [session.id for session in upcoming],
        "ended": {str(session.id): [meeting.id for meeting in session.meetings]
                  for session in ended},
        "past_bookings": past_bookings,
        "courses": [course.id for course in courses],
        "applications": [application.id for application in made],
        "browse_sessions": list(db.session.scalars(
            sa.select(TrainingSession.id).where(TrainingSession.starts_at > now)
            .order_by(TrainingSession.starts_at).limit(200))),
    }
