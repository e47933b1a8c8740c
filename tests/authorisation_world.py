"""A small world of people and the things they own, for probing who may reach what.

Two delivery partners and two local authorities; partner A's course and training sessions
with their trainer; a practitioner ("owner") with bookings, questionnaire answers, a place
on a waiting list, a newsletter subscription and a calendar feed; their setting in LA A with
award applications (decided, submitted and draft, each with an evidence file); a moderation
panel with an assigned member who declared no conflict, a member who declared a conflict, and
a member of another panel; LA officers of both LAs, and a bespoke session request from LA A.

Everything is made through the services the app itself uses (booking engine, questionnaires,
waiting list, awards operations, bespoke requests, newsletter), so the world is one the app
could have reached. :func:`build_world` returns plain ids, tokens and emails; nothing in it
holds on to a database session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from awards import applications, moderation, panels
from awards.models import Application, ApplicationStatus, Award, Evidence, PanelMember
from awards.schemes import get_scheme
from tests import factories
from tests.awards_support import PDF_BYTES, TEST_SCHEME
from tests.conftest import PASSWORD
from trainer import bespoke
from trainer import booking as engine
from trainer.catalogue import Course, TrainingSession
from trainer.db import db, utcnow
from trainer.mail import OutboxMessage
from trainer.people import DeliveryPartner, Role, Setting, User, normalise_email
from trainer.plugins.confidence import service as confidence
from trainer.plugins.confidence.models import Stage, Statement
from trainer.plugins.newsletter import service as newsletter
from trainer.plugins.newsletter.models import Campaign
from trainer.plugins.waiting_list import service as waiting_list
from trainer.plugins.waiting_list.models import WaitlistEntry
from trainer.times import to_london

EVIDENCE_TEXT = "Families plan each child's support with their key person every term."
CRITERIA = ("families", "environment")


@dataclass
class World:
    """Ids, tokens and emails of everything in the world."""

    emails: dict[str, str] = field(default_factory=dict)  # role name -> email
    user_ids: dict[str, int] = field(default_factory=dict)
    partner_a: int = 0
    partner_b: int = 0
    la_a: int = 0
    la_b: int = 0
    setting_a: int = 0
    course_a: int = 0
    course_b: int = 0
    session_a: int = 0
    meeting_a: int = 0
    session_past: int = 0
    session_full: int = 0
    session_b: int = 0
    booking: int = 0  # the owner's booking on session_a
    booking_past: int = 0  # the owner's completed booking (certificate ready)
    entry: int = 0  # the owner's place on session_full's waiting list
    offered_entry: int = 0  # another person's entry, with an open offer
    offer_token: str = ""
    answer_token: str = ""  # the owner's questionnaire link (pre stage of session_a)
    course_statement: int = 0
    evaluation_statement: int = 0
    application_decided: int = 0
    application_submitted: int = 0
    application_draft: int = 0
    evidence_submitted: int = 0  # a file on the submitted application
    evidence_draft: int = 0  # a file on the draft
    evidence_draft_text: int = 0
    award: int = 0
    award_code: str = ""
    panel: int = 0
    other_panel: int = 0
    panel_member: int = 0  # the conflicted member's place on the panel
    session_request: int = 0
    campaign: int = 0
    newsletter_token: str = ""
    calendar_token: str = ""
    message: int = 0  # an outbox message to the owner


# Who is who: the roles of the matrix, the rightful owners of the world's things, and two
# people the world needs (a colleague who fills the full session, someone offered a place).
PEOPLE = {
    "admin": ("Ada Admin", [Role.ADMIN], {}),
    "practitioner": ("Bea Elsewhere", [Role.PRACTITIONER], {"job_role": "senco"}),
    "trainer_b": ("Tom Otherpartner", [Role.TRAINER], {}),
    "la_officer_b": ("Lee Otherarea", [Role.LA_OFFICER], {}),
    "moderator_unassigned": ("Una Otherpanel", [Role.MODERATOR], {}),
    "moderator_conflicted": ("Con Flicted", [Role.MODERATOR], {}),
    "owner": ("Priya Owner", [Role.PRACTITIONER], {"job_role": "senco"}),
    "trainer_a": ("Tara Trainer", [Role.TRAINER], {}),
    "la_officer_a": ("Lou Area", [Role.LA_OFFICER], {}),
    "moderator_assigned": ("Chris Chair", [Role.MODERATOR], {}),
    # Extra people the world needs; never signed in by the matrix.
    "moderator_undeclared": ("Pat Parent", [Role.MODERATOR], {}),
    "colleague": ("Sam Colleague", [Role.PRACTITIONER], {"job_role": "early_years_practitioner"}),
    "waiter": ("Wyn Waiting", [Role.PRACTITIONER], {}),
}


def _people(world: World) -> dict[str, User]:
    users = {}
    for key, (name, roles, fields) in PEOPLE.items():
        email = normalise_email(f"{key.replace('_', '.')}@example.org")
        user = User(email=email, name=name, email_verified_at=utcnow(), **fields)
        user.set_password(PASSWORD)
        for role in roles:
            user.grant(role)
        db.session.add(user)
        users[key] = user
        world.emails[key] = email
    db.session.flush()
    world.user_ids = {key: user.id for key, user in users.items()}
    return users


def build_world(app) -> World:
    """Make the world in ``app``'s database and return what tests need to reach it."""
    world = World()
    with app.test_request_context():
        _places_and_people(world)
        _training(world)
        _awards(world)
        _requests_and_newsletter(world)
        db.session.remove()
    return world


def _places_and_people(world: World) -> None:
    partner_a = factories.partner("Partner A Training")
    partner_b = factories.partner("Partner B Training")
    la_a, la_b = factories.local_authority("Leeds"), factories.local_authority("Bradford")
    setting_a = Setting(name="Little Acorns Nursery", setting_type="nursery", postcode="LS1 1AA",
                        local_authority_id=la_a.id)
    setting_b = Setting(name="Busy Bees Pre-school", setting_type="pre_school",
                        postcode="BD1 1AA", local_authority_id=la_b.id)
    db.session.add_all([setting_a, setting_b])
    db.session.flush()
    users = _people(world)
    users["owner"].setting_id = setting_a.id
    users["owner"].local_authority_id = la_a.id
    users["colleague"].setting_id = setting_a.id
    users["practitioner"].setting_id = setting_b.id
    users["trainer_a"].delivery_partner_id = partner_a.id
    users["trainer_b"].delivery_partner_id = partner_b.id
    users["la_officer_a"].local_authority_id = la_a.id
    users["la_officer_b"].local_authority_id = la_b.id
    db.session.commit()
    world.partner_a, world.partner_b = partner_a.id, partner_b.id
    world.la_a, world.la_b, world.setting_a = la_a.id, la_b.id, setting_a.id


def _user(world: World, key: str) -> User:
    return db.session.get(User, world.user_ids[key])


def _training(world: World) -> None:
    now = utcnow().replace(microsecond=0)
    course_a = factories.course("Partner A's course on inclusion",
                                delivery_partner=db.session.get(
                                    DeliveryPartner, world.partner_a))
    course_b = factories.course("Partner B's course on Makaton",
                                delivery_partner=db.session.get(
                                    DeliveryPartner, world.partner_b))
    trainer_a = _user(world, "trainer_a")
    session_a = factories.training_session(now + timedelta(days=7), course_=course_a,
                                           capacity=10)
    session_a.trainers.append(trainer_a)
    past_start = now - timedelta(days=14)
    session_past = factories.training_session(past_start, course_=course_a, capacity=10)
    session_full = factories.training_session(now + timedelta(days=10), course_=course_a,
                                              capacity=1)
    session_b = factories.training_session(now + timedelta(days=8), course_=course_b)
    db.session.commit()
    world.course_a, world.course_b = course_a.id, course_b.id
    world.session_a, world.session_past = session_a.id, session_past.id
    world.session_full, world.session_b = session_full.id, session_b.id
    world.meeting_a = session_a.meetings[0].id

    owner = _user(world, "owner")
    world.booking = _book(session_a.id, owner)
    world.booking_past = _book(session_past.id, owner, now=past_start - timedelta(days=7))
    for meeting in db.session.get(TrainingSession, world.session_past).meetings:
        engine.record_attendance(meeting.id, {world.booking_past: True}, None)
    _book(world.session_full, _user(world, "colleague"))

    joined = waiting_list.join(world.session_full, owner)
    assert joined.ok, joined.message
    world.entry = joined.entry.id
    waiter = waiting_list.join(world.session_full, _user(world, "waiter"))
    assert waiter.ok, waiter.message
    world.offered_entry = waiter.entry.id
    offered = waiting_list.offer_to(world.offered_entry)
    assert offered.ok, offered.message
    offer = waiting_list.open_offer(db.session.get(WaitlistEntry, world.offered_entry))
    world.offer_token = waiting_list.offer_token(offer)

    course = db.session.get(Course, world.course_a)
    confidence.ensure_statements(course)
    statements = confidence.questionnaire(course, Stage.PRE)
    outcome = confidence.submit(world.session_a, _user(world, "owner"), Stage.PRE,
                                confidence.Answers(ratings={s.id: 2 for s in statements}))
    assert outcome.ok, outcome.message
    world.answer_token = confidence.answer_token(world.session_a, world.user_ids["owner"],
                                                 Stage.PRE)
    world.course_statement = db.session.scalar(
        sa.select(Statement.id).where(Statement.course_id == world.course_a)
        .order_by(Statement.id).limit(1))
    world.evaluation_statement = db.session.scalar(
        sa.select(Statement.id).where(Statement.course_id.is_(None))
        .order_by(Statement.id).limit(1))
    assert world.course_statement and world.evaluation_statement

    owner = _user(world, "owner")
    owner.calendar_token = secrets.token_urlsafe(32)
    db.session.commit()
    world.calendar_token = owner.calendar_token


def _book(session_id: int, user: User, now=None) -> int:
    result = engine.book(session_id, user, now=now)
    assert result.ok, result.message
    return result.booking.id


def _fill(application_id: int, owner: User, with_file: bool = True) -> None:
    for key in CRITERIA:
        applications.save_self_assessment(application_id, key, 1, f"How we meet {key}.",
                                          owner)
    applications.add_text_evidence(application_id, "families", EVIDENCE_TEXT, "A note", owner)
    if with_file:
        applications.add_file_evidence(application_id, "environment", "rooms.pdf", PDF_BYTES,
                                       "application/pdf", "Our rooms", owner)


def _file_of(application_id: int) -> int:
    return db.session.scalar(sa.select(Evidence.id).where(
        Evidence.application_id == application_id, Evidence.kind == "file"))


def _awards(world: World) -> None:
    admin, owner = _user(world, "admin"), _user(world, "owner")
    panel = panels.create_panel("North panel", admin)
    world.panel = panel.id
    for key, kind in (("moderator_assigned", "professional"),
                      ("moderator_undeclared", "parent_carer"),
                      ("moderator_conflicted", "professional")):
        panels.add_member(panel.id, world.emails[key], kind, admin)
    chair = db.session.scalar(sa.select(PanelMember).where(
        PanelMember.user_id == world.user_ids["moderator_assigned"]))
    panels.make_chair(panel.id, chair.id, admin)
    world.panel_member = db.session.scalar(sa.select(PanelMember.id).where(
        PanelMember.user_id == world.user_ids["moderator_conflicted"]))
    other = panels.create_panel("South panel", admin)
    panels.add_member(other.id, world.emails["moderator_unassigned"], "professional", admin)
    world.other_panel = other.id

    # An application assessed by the chair and the parent carer member and awarded, so the
    # setting has an award and its certificate.
    decided = applications.start(TEST_SCHEME, _user(world, "owner"))
    world.application_decided = decided.id
    _fill(decided.id, _user(world, "owner"), with_file=False)
    applications.submit(decided.id, _user(world, "owner"))
    moderation.assign(decided.id, world.panel, _user(world, "admin"))
    scores = {key: (1, "Met.") for key in CRITERIA}
    for key in ("moderator_assigned", "moderator_undeclared"):
        moderation.declare(decided.id, _user(world, key), False, "")
        moderation.save_assessment(decided.id, _user(world, key), scores, submit=True)
    moderation.decide(decided.id, _user(world, "moderator_assigned"), "two_years",
                      "Strong partnership with families.", [])
    award = db.session.scalar(sa.select(Award).where(Award.application_id == decided.id))
    world.award, world.award_code = award.id, award.verification_code

    # The application the panel is working on now: the chair has declared and saved a draft
    # assessment; the conflicted member has declared their conflict.
    submitted = applications.start(TEST_SCHEME, _user(world, "owner"))
    world.application_submitted = submitted.id
    _fill(submitted.id, _user(world, "owner"))
    applications.submit(submitted.id, _user(world, "owner"))
    moderation.assign(submitted.id, world.panel, _user(world, "admin"))
    moderation.declare(submitted.id, _user(world, "moderator_assigned"), False, "")
    moderation.save_assessment(submitted.id, _user(world, "moderator_assigned"),
                               {"families": (1, "A good start.")}, submit=False)
    moderation.declare(submitted.id, _user(world, "moderator_conflicted"), True,
                       "I work at this nursery on Saturdays.")
    world.evidence_submitted = _file_of(submitted.id)

    # A setting has one open application per scheme, so the draft is made as its row and
    # then filled in through the operations.
    scheme = get_scheme(TEST_SCHEME)
    window = scheme.window_on(to_london(utcnow()).date())
    draft = Application(scheme_key=TEST_SCHEME, setting_id=world.setting_a,
                        started_by_id=owner.id, status=ApplicationStatus.DRAFT.value,
                        window_opens=window[0], window_closes=window[1])
    db.session.add(draft)
    db.session.commit()
    world.application_draft = draft.id
    _fill(draft.id, _user(world, "owner"))
    world.evidence_draft = _file_of(draft.id)
    world.evidence_draft_text = db.session.scalar(sa.select(Evidence.id).where(
        Evidence.application_id == draft.id, Evidence.kind == "text"))


def _requests_and_newsletter(world: World) -> None:
    made = bespoke.create(_user(world, "la_officer_a"), bespoke.NewRequest(
        course_id=world.course_a,
        preferred_dates=[to_london(utcnow()).date() + timedelta(days=40)],
        expected_numbers=12, notes="Our SENCO network."))
    world.session_request = made.id
    subscriber = newsletter.subscribe_user(_user(world, "owner"),
                                           newsletter.Preferences(region_ids=[], topics=[]))
    db.session.commit()
    world.newsletter_token = subscriber.token
    now = utcnow()
    campaign = Campaign(subject="Spring training", body="New sessions are open.",
                        created_by_id=world.user_ids["admin"], created_at=now, updated_at=now)
    db.session.add(campaign)
    db.session.commit()
    world.campaign = campaign.id
    world.message = db.session.scalar(
        sa.select(OutboxMessage.id).order_by(OutboxMessage.id).limit(1))
    assert world.message is not None
