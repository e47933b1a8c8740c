"""Moderation: panels and their members, assignment, declarations of interest, independent
assessments, the side-by-side moderation table and the chair's decision, released to the
setting by email. Every transition and every refusal, through the operations and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr

import pytest
import sqlalchemy as sa

from awards import moderation, panels
from awards.errors import Refused
from awards.models import (
    Application,
    ApplicationStatus,
    Assessment,
    AuditEvent,
    Award,
    Decision,
    Evidence,
    Panel,
    PanelMember,
    SelfAssessment,
)
from tests.awards_support import (
    TEST_SCHEME,
    make_applicant,
    make_moderator,
    make_setting,
    make_staff,
)
from tests.conftest import body_of, link_in
from trainer.db import db, utcnow
from trainer.people import Role, User
from trainer.times import to_london

EVIDENCE_TEXT = "Families plan the support of each child with their key person every term."


# -- building a world -----------------------------------------------------------------------------


@dataclass
class World:
    setting_id: int
    applicant: tuple[int, str]
    manager: tuple[int, str]
    practitioner: tuple[int, str]
    admin: tuple[int, str]
    chair: tuple[int, str]
    carer: tuple[int, str]
    professional: tuple[int, str]
    outsider: tuple[int, str]
    application_id: int
    panel_id: int


def to(message) -> str:
    """The address a message was sent to."""
    return parseaddr(message["To"])[1]


def within(app, action):
    """Run ``action(user)`` in a request context; ``user(id_or_pair)`` loads a User."""
    with app.test_request_context():
        def user(who):
            return db.session.get(User, who[0] if isinstance(who, tuple) else who)
        return action(user)


def submitted_application(app, setting_id: int, started_by: int | None = None,
                          status: str = ApplicationStatus.SUBMITTED.value) -> int:
    """An application in ``status`` with a self-assessment and text evidence for every
    criterion, made directly as rows."""
    with app.app_context():
        today = to_london(utcnow()).date()
        application = Application(
            scheme_key=TEST_SCHEME, setting_id=setting_id, started_by_id=started_by,
            status=status, window_opens=today - timedelta(days=30),
            window_closes=today + timedelta(days=30),
            submitted_at=utcnow() if status != ApplicationStatus.DRAFT else None)
        db.session.add(application)
        for key, score in (("families", 1), ("environment", 2)):
            application.answers.append(SelfAssessment(
                criterion_key=key, score=score, narrative=f"Our {key} narrative."))
            application.evidence.append(Evidence(
                criterion_key=key, kind="text", caption=f"{key.title()} note",
                text=EVIDENCE_TEXT if key == "families" else "Quiet corners in every room."))
        db.session.commit()
        return application.id


@pytest.fixture
def world(app, make_user) -> World:
    setting_id = make_setting(app)
    other = make_setting(app, "Busy Bees Pre-school", "Bradford")
    applicant = make_applicant(make_user, setting_id, "senco@acorns.example")
    manager = make_applicant(make_user, setting_id, "manager@acorns.example",
                             job_role="setting_manager", name="Mo Manager")
    practitioner = make_staff(make_user, setting_id, "staff@acorns.example")
    make_applicant(make_user, other, "senco@bees.example", name="Bea Elsewhere")
    admin = make_user("admin@example.org", name="Ada Admin", roles=[Role.ADMIN])
    chair = make_moderator(make_user, "chair@example.org", name="Chris Chair")
    carer = make_moderator(make_user, "carer@example.org", name="Pat Parent")
    professional = make_user("prof@example.org", name="Robin Professional")
    outsider = make_moderator(make_user, "outsider@example.org", name="Olive Outsider")
    application_id = submitted_application(app, setting_id, applicant[0])

    def build(user):
        panel = panels.create_panel("North panel", user(admin))
        panels.add_member(panel.id, chair[1], "professional", user(admin))
        panels.add_member(panel.id, carer[1], "parent_carer", user(admin))
        panels.add_member(panel.id, professional[1], "professional", user(admin))
        chair_member = db.session.scalar(sa.select(PanelMember).where(
            PanelMember.user_id == chair[0]))
        panels.make_chair(panel.id, chair_member.id, user(admin))
        return panel.id

    panel_id = within(app, build)
    return World(setting_id, applicant, manager, practitioner, admin, chair, carer,
                 professional, outsider, application_id, panel_id)


def assign(app, world: World) -> None:
    within(app, lambda u: moderation.assign(world.application_id, world.panel_id,
                                            u(world.admin)))


def declare(app, world: World, who, conflict: bool = False, details: str = "") -> None:
    within(app, lambda u: moderation.declare(world.application_id, u(who), conflict, details))


def assess(app, world: World, who, families: int | None = 1, environment: int | None = 1,
           submit: bool = True) -> None:
    scores = {"families": (families, "Strong partnership."),
              "environment": (environment, "Calm rooms.")}
    within(app, lambda u: moderation.save_assessment(world.application_id, u(who), scores,
                                                     submit))


def ready_panel(app, world: World, carer_score: int = 1) -> None:
    """Assigned, everyone declared no conflict, carer and professional submitted."""
    assign(app, world)
    for who in (world.chair, world.carer, world.professional):
        declare(app, world, who)
    assess(app, world, world.carer, families=carer_score)
    assess(app, world, world.professional)


def refused(app, action) -> Refused:
    with pytest.raises(Refused) as caught:
        within(app, action)
    return caught.value


def get_application(app, application_id: int) -> Application:
    with app.app_context():
        application = db.session.get(Application, application_id)
        db.session.expunge_all()
        return application


def actions(app, application_id: int | None = None) -> list[str]:
    with app.app_context():
        statement = sa.select(AuditEvent.action).order_by(AuditEvent.id)
        if application_id is not None:
            statement = statement.where(AuditEvent.application_id == application_id)
        return list(db.session.scalars(statement))


def decide(app, world: World, who=None, outcome: str = "not_yet",
           reasons: str = "Good start; more evidence on families needed.",
           points=(), now: datetime | None = None):
    return within(app, lambda u: moderation.decide(
        world.application_id, u(who or world.chair), outcome, reasons, list(points), now))


# -- panels ---------------------------------------------------------------------------------------


def test_panels_are_created_with_unique_names(app, world):
    assert "panel.created" in actions(app)
    error = refused(app, lambda u: panels.create_panel("north PANEL", u(world.admin)))
    assert "already a panel called" in str(error) and error.field == "name"
    error = refused(app, lambda u: panels.create_panel("   ", u(world.admin)))
    assert str(error) == "Enter a name for the panel"


def test_adding_members_grants_the_role_and_refuses_strangers_and_repeats(app, world):
    with app.app_context():
        assert db.session.get(User, world.professional[0]).has_role(Role.MODERATOR)
    error = refused(app, lambda u: panels.add_member(
        world.panel_id, "nobody@example.org", "professional", u(world.admin)))
    assert error.field == "email" and "no account with the email address" in str(error)
    error = refused(app, lambda u: panels.add_member(
        world.panel_id, world.carer[1], "parent_carer", u(world.admin)))
    assert "Pat Parent is already on North panel" in str(error)
    error = refused(app, lambda u: panels.add_member(
        world.panel_id, world.outsider[1], "visitor", u(world.admin)))
    assert error.field == "member_type"


def test_one_chair_per_panel(app, world):
    def chairs():
        with app.app_context():
            return [m.user.name for m in db.session.get(Panel, world.panel_id).members
                    if m.is_chair]

    assert chairs() == ["Chris Chair"]
    with app.app_context():
        carer_member = db.session.scalar(sa.select(PanelMember.id).where(
            PanelMember.user_id == world.carer[0]))
    within(app, lambda u: panels.make_chair(world.panel_id, carer_member, u(world.admin)))
    assert chairs() == ["Pat Parent"]
    assert "panel.chair_changed" in actions(app)


def test_removing_a_member_keeps_their_submitted_assessment(app, world):
    ready_panel(app, world)
    with app.app_context():
        member_id = db.session.scalar(sa.select(PanelMember.id).where(
            PanelMember.user_id == world.carer[0]))
    message = within(app, lambda u: panels.remove_member(world.panel_id, member_id,
                                                             u(world.admin)))
    assert "Pat Parent has been removed from North panel" in message
    assert "assessments they submitted stay" in message
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Assessment.id)).where(
            Assessment.assessor_id == world.carer[0])) == 1
    error = refused(app, lambda u: panels.remove_member(world.panel_id, member_id,
                                                            u(world.admin)))
    assert "not on this panel" in str(error)


# -- assignment -----------------------------------------------------------------------------------


def test_assigning_emails_every_member_a_link_to_declare(app, world, mailbox, client):
    assign(app, world)
    assert get_application(app, world.application_id).panel_id == world.panel_id
    sent = {to(m): m for m in mailbox() if m["Subject"] == "An award application for your panel"}
    assert set(sent) == {world.chair[1], world.carer[1], world.professional[1]}
    body = body_of(sent[world.carer[1]])
    assert "Little Acorns Nursery" in body and "conflict of interest" in body
    assert link_in(sent[world.carer[1]], "/declaration") == \
        f"/awards/panel/applications/{world.application_id}/declaration"
    assert "application.assigned" in actions(app, world.application_id)


def test_only_submitted_applications_are_assigned(app, world):
    draft = submitted_application(app, world.setting_id, status="draft")
    error = refused(app, lambda u: moderation.assign(draft, world.panel_id, u(world.admin)))
    assert "Only a submitted application" in str(error)


@pytest.mark.parametrize("leave_out, missing", [
    ("carer", "needs a parent or carer member"),
    ("chair", "needs a chair"),
])
def test_panels_that_break_the_schemes_rules_are_refused(app, world, leave_out, missing):
    def build(u):
        panel = panels.create_panel("Small panel", u(world.admin))
        if leave_out != "carer":
            panels.add_member(panel.id, world.carer[1], "parent_carer", u(world.admin))
        panels.add_member(panel.id, world.professional[1], "professional", u(world.admin))
        panels.add_member(panel.id, world.outsider[1], "professional", u(world.admin))
        if leave_out != "chair":
            panels.make_chair(panel.id, panel.members[-1].id, u(world.admin))
        return panel.id

    panel_id = within(app, build)
    error = refused(app, lambda u: moderation.assign(world.application_id, panel_id,
                                                     u(world.admin)))
    assert missing in str(error) and error.field == "panel"


def test_a_panel_needs_the_schemes_minimum_of_members(app, world):
    def build(u):
        panel = panels.create_panel("Tiny panel", u(world.admin))
        member = panels.add_member(panel.id, world.carer[1], "parent_carer", u(world.admin))
        panels.make_chair(panel.id, member.id, u(world.admin))
        return panel.id

    panel_id = within(app, build)
    error = refused(app, lambda u: moderation.assign(world.application_id, panel_id,
                                                     u(world.admin)))
    assert "needs at least 2 members (it has 1)" in str(error)


def test_reassigning_is_allowed_until_an_assessment_is_submitted(app, world):
    def second_panel(u):
        panel = panels.create_panel("South panel", u(world.admin))
        panels.add_member(panel.id, world.carer[1], "parent_carer", u(world.admin))
        member = panels.add_member(panel.id, world.outsider[1], "professional",
                                       u(world.admin))
        panels.make_chair(panel.id, member.id, u(world.admin))
        return panel.id

    south = within(app, second_panel)
    assign(app, world)
    error = refused(app, lambda u: moderation.assign(world.application_id, world.panel_id,
                                                     u(world.admin)))
    assert "already assigned to North panel" in str(error)
    within(app, lambda u: moderation.assign(world.application_id, south, u(world.admin)))
    assert get_application(app, world.application_id).panel_id == south
    declare(app, world, world.carer)
    assess(app, world, world.carer)
    error = refused(app, lambda u: moderation.assign(world.application_id, world.panel_id,
                                                     u(world.admin)))
    assert "an assessment has already been submitted" in str(error)


# -- declarations ---------------------------------------------------------------------------------


def test_declaring_no_conflict_once(app, world):
    assign(app, world)
    declare(app, world, world.carer)
    assert "declaration.no_conflict" in actions(app, world.application_id)
    error = refused(app, lambda u: moderation.declare(world.application_id, u(world.carer),
                                                      True, "Changed my mind"))
    assert "already made your declaration" in str(error)


def test_only_members_of_the_assigned_panel_declare(app, world):
    error = refused(app, lambda u: moderation.declare(world.application_id, u(world.carer),
                                                      False, ""))
    assert "Only members of the panel" in str(error)
    assign(app, world)
    error = refused(app, lambda u: moderation.declare(world.application_id, u(world.outsider),
                                                      False, ""))
    assert "Only members of the panel" in str(error)


def test_a_conflict_needs_details_and_tells_every_admin(app, world, make_user, mailbox):
    make_user("second-admin@example.org", name="Sid Admin", roles=[Role.ADMIN])
    assign(app, world)
    error = refused(app, lambda u: moderation.declare(world.application_id, u(world.carer),
                                                      True, "  "))
    assert error.field == "details" and "Say what your conflict" in str(error)
    declare(app, world, world.carer, conflict=True, details="My son goes there.")
    sent = [m for m in mailbox() if m["Subject"].startswith("Conflict of interest declared")]
    assert {to(m) for m in sent} == {world.admin[1], "second-admin@example.org"}
    body = body_of(sent[0])
    assert "Pat Parent" in body and "My son goes there." in body
    assert link_in(sent[0], "/awards/admin/applications/") == \
        f"/awards/admin/applications/{world.application_id}"
    with app.app_context():
        from awards.permissions import may_view
        application = db.session.get(Application, world.application_id)
        assert not may_view(db.session.get(User, world.carer[0]), application)
    assert "declaration.conflict" in actions(app, world.application_id)


# -- assessments ----------------------------------------------------------------------------------


def test_assessing_needs_a_declaration_of_no_conflict(app, world):
    assign(app, world)
    error = refused(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"families": (1, "")}, False))
    assert "declared no conflict" in str(error)
    declare(app, world, world.carer, conflict=True, details="I work there")
    error = refused(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"families": (1, "")}, False))
    assert "declared no conflict" in str(error)


def test_drafts_submission_and_no_changes_afterwards(app, world):
    assign(app, world)
    declare(app, world, world.carer)
    assess(app, world, world.carer, families=2, environment=None, submit=False)
    with app.app_context():
        saved = db.session.scalar(sa.select(Assessment))
        assert saved.submitted_at is None and saved.score_for("families").score == 2
    error = refused(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"environment": (None, "thinking")}, True))
    assert error.field == "score_environment"
    assert "Choose a score for “The communication environment”" in str(error)
    error = refused(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"environment": (7, "")}, True))
    assert "from the scale" in str(error)
    # The draft's score for families is kept; submitting adds the other.
    within(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"environment": (1, "Fine")}, True))
    with app.app_context():
        saved = db.session.scalar(sa.select(Assessment))
        assert saved.submitted_at is not None
        assert saved.score_for("families").score == 2 and saved.member_type == "parent_carer"
    error = refused(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.carer), {"families": (0, "")}, False))
    assert "already submitted your assessment" in str(error)
    assert actions(app, world.application_id)[-2:] == ["assessment.saved",
                                                       "assessment.submitted"]


def test_others_are_visible_only_after_ones_own_submission(app, world):
    assign(app, world)
    declare(app, world, world.carer)
    declare(app, world, world.professional)
    assess(app, world, world.professional)

    def visible(who):
        return within(app, lambda u: moderation.others_visible(
            db.session.get(Application, world.application_id), u(who)))

    assert not visible(world.carer)
    assess(app, world, world.carer, submit=False)
    assert not visible(world.carer)
    assess(app, world, world.carer)
    assert visible(world.carer) and visible(world.admin)


def test_panel_ready_needs_the_minimum_and_a_parent_or_carer(app, world):
    def ready():
        return within(app, lambda u: moderation.panel_ready(
            db.session.get(Application, world.application_id)))

    assert ready() == (False, "The application has not been assigned to a panel yet.")
    assign(app, world)
    for who in (world.chair, world.carer, world.professional):
        declare(app, world, who)
    assess(app, world, world.professional)
    assert ready() == (False, "1 of the 2 assessments needed have been submitted.")
    assess(app, world, world.chair)
    assert ready() == (False, "An assessment from a parent or carer member is still needed.")
    assess(app, world, world.carer)
    assert ready()[0] is True


def test_moderation_rows_show_scores_side_by_side_with_disagreement(app, world):
    ready_panel(app, world, carer_score=2)
    rows = within(app, lambda u: moderation.moderation_rows(
        db.session.get(Application, world.application_id)))
    families, environment = rows
    assert families.criterion.key == "families" and families.self_score_label == "Met"
    assert [(s.assessor_number, s.member_type_label, s.score_label) for s in families.scores] \
        == [(1, "Parent or carer", "Exceeded"), (2, "Professional", "Met")]
    assert families.disagree is True
    assert environment.disagree is False and environment.self_score_label == "Exceeded"
    assert environment.scores[0].comment == "Calm rooms."


# -- decisions ------------------------------------------------------------------------------------


def test_only_the_chair_decides_and_only_when_ready(app, world):
    assign(app, world)
    for who in (world.chair, world.carer, world.professional):
        declare(app, world, who)
    error = refused(app, lambda u: decide(app, world))
    assert "not ready to decide: 0 of the 2 assessments" in str(error)
    assess(app, world, world.carer)
    assess(app, world, world.professional)
    for who in (world.carer, world.admin, world.outsider):
        error = refused(app, lambda u, who=who: decide(app, world, who=who))
        assert str(error) == "Only the chair of the panel can record the decision"


def test_a_chair_with_a_conflict_cannot_decide(app, world):
    assign(app, world)
    declare(app, world, world.chair, conflict=True, details="I used to manage it")
    for who in (world.carer, world.professional):
        declare(app, world, who)
        assess(app, world, who)
    error = refused(app, lambda u: decide(app, world))
    assert "declared a conflict of interest" in str(error)
    assert "Ask an admin to name another chair" in str(error)


def test_the_chair_must_declare_before_deciding(app, world):
    assign(app, world)
    for who in (world.carer, world.professional):
        declare(app, world, who)
        assess(app, world, who)
    error = refused(app, lambda u: decide(app, world))
    assert "Declare your interests" in str(error)


@pytest.mark.parametrize("outcome, reasons, points, field, message", [
    ("gold", "Reasons", [], "outcome", "Choose the outcome"),
    ("not_yet", "   ", [], "reasons", "Give the reasons"),
    ("one_year", "Reasons", [("", None)], "point_1_text", "needs at least one action point"),
    ("one_year", "Reasons", [("Train staff", date(2020, 1, 1))], "point_1_day",
     "must be in the future"),
    ("one_year", "Reasons", [("", date(2099, 1, 1))], "point_1_text", "clear its due date"),
])
def test_decisions_are_refused_until_complete(app, world, outcome, reasons, points, field,
                                              message):
    ready_panel(app, world)
    error = refused(app, lambda u: decide(app, world, outcome=outcome, reasons=reasons,
                                          points=points))
    assert error.field == field and message in str(error)
    assert get_application(app, world.application_id).status == "submitted"


def test_a_decision_is_released_at_once_to_the_settings_applicants(app, world, mailbox):
    ready_panel(app, world)
    mailbox().clear()
    now = datetime.now(UTC).replace(microsecond=0)
    due = to_london(now).date() + timedelta(days=90)
    decide(app, world, outcome="one_year", reasons="Warm relationships with families.",
           points=[("Train two staff in Makaton.", due), ("Review the SEND policy.", None)],
           now=now)
    application = get_application(app, world.application_id)
    assert application.status == "decided"
    with app.app_context():
        decision = db.session.scalar(sa.select(Decision))
        assert decision.released_at == now and decision.outcome_key == "one_year"
        assert [(p.text, p.due_on) for p in decision.action_points] == [
            ("Train two staff in Makaton.", due), ("Review the SEND policy.", None)]
        award = db.session.scalar(sa.select(Award))
        assert award is not None and award.application_id == world.application_id
    sent = mailbox()
    assert {to(m) for m in sent} == {world.applicant[1], world.manager[1]}
    body = body_of(sent[0])
    assert "Awarded for 1 year with action points" in body
    assert "Warm relationships with families." in body
    assert "Train two staff in Makaton." in body and "Review the SEND policy." in body
    for name in ("Chris Chair", "Pat Parent", "Robin Professional"):
        assert name not in body
    assert link_in(sent[0], "/awards/applications/") == \
        f"/awards/applications/{world.application_id}"
    assert "decision.released" in actions(app, world.application_id)
    error = refused(app, lambda u: decide(app, world))
    assert "already been recorded" in str(error)


def test_a_not_yet_decision_makes_no_award(app, world):
    ready_panel(app, world)
    decide(app, world, outcome="not_yet")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Award.id))) == 0


def test_withdrawn_applications_cannot_be_decided(app, world):
    ready_panel(app, world)
    with app.app_context():
        db.session.get(Application, world.application_id).status = "withdrawn"
        db.session.commit()
    error = refused(app, lambda u: decide(app, world))
    assert "withdrawn" in str(error)


# -- the panel's pages ----------------------------------------------------------------------------


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def urls(world: World) -> dict[str, str]:
    base = f"/awards/panel/applications/{world.application_id}"
    return {"declare": f"{base}/declaration", "assess": base,
            "moderation": f"{base}/moderation"}


def step_for(client, world: World) -> str:
    """The "what to do next" cell of the application's row on the panel home page."""
    html = page(client, "/awards/panel")
    row = html.split("Little Acorns Nursery</td>", 1)[1].split("</tr>", 1)[0]
    return " ".join(row.replace("<", " <").split())


def test_panel_home_says_what_to_do_next(app, world, auth, client):
    auth.sign_in(world.carer[1])
    assert "There are no applications assigned to you" in page(client, "/awards/panel")
    assign(app, world)
    assert "Declare interests" in step_for(client, world)
    declare(app, world, world.carer)
    assert ">Assess" in step_for(client, world)
    assess(app, world, world.carer)
    assert "Waiting for others" in step_for(client, world)
    declare(app, world, world.professional)
    assess(app, world, world.professional)
    assert "Assessment submitted" in step_for(client, world)
    auth.sign_out()
    auth.sign_in(world.chair[1])
    assert "Declare interests" in step_for(client, world)
    declare(app, world, world.chair)
    assert "Ready for moderation" in step_for(client, world)
    decide(app, world)
    assert "Decided" in step_for(client, world)


def test_panel_home_lists_work_to_do_before_decided_applications(app, world, auth, client):
    assign(app, world)
    for member in (world.carer, world.professional, world.chair):
        declare(app, world, member)
    for member in (world.carer, world.professional):
        assess(app, world, member)
    decide(app, world)
    later = submitted_application(app, make_setting(app, "Zebra Pre-school"))
    within(app, lambda u: moderation.assign(later, world.panel_id, u(world.admin)))
    auth.sign_in(world.carer[1])
    html = page(client, "/awards/panel")
    waiting, _, folded = html.partition("Decided applications (1)")
    assert "Zebra Pre-school" in waiting and "Declare interests" in waiting
    assert "Little Acorns Nursery" not in waiting
    assert "Little Acorns Nursery" in folded and "govuk-details" in html
    assert ">Panel<" not in html  # one panel: no column repeating its name


def test_panel_home_shows_a_conflict(app, world, auth, client):
    assign(app, world)
    declare(app, world, world.carer, conflict=True, details="Neighbour")
    auth.sign_in(world.carer[1])
    step = step_for(client, world)
    assert "You declared a conflict" in step and "href" not in step


def test_the_declaration_page_shows_no_evidence(app, world, auth, browser, client):
    assign(app, world)
    auth.sign_in(world.carer[1])
    html = page(client, urls(world)["declare"])
    assert "Little Acorns Nursery" in html and "Leeds" in html
    assert "Test inclusion award" in html
    assert "No, I have no conflict of interest" in html and "Yes, I have a conflict" in html
    assert EVIDENCE_TEXT not in html and "Our families narrative" not in html
    response = browser.submit(urls(world)["declare"], {})
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and "Say whether you have a conflict of interest" in html
    response = browser.submit(urls(world)["declare"], {"conflict": "yes", "details": ""})
    assert "Say what your conflict of interest is" in response.get_data(as_text=True)
    response = browser.submit(urls(world)["declare"], {"conflict": "no"})
    assert response.status_code == 302 and response.location.endswith(urls(world)["assess"])
    assert "You declared no conflict of interest on" in page(client, urls(world)["declare"])


def test_declaring_a_conflict_shuts_the_member_out(app, world, auth, browser, client):
    assign(app, world)
    auth.sign_in(world.carer[1])
    response = browser.submit(urls(world)["declare"],
                              {"conflict": "yes", "details": "My daughter goes there"},
                              follow_redirects=True)
    assert "You have declared a conflict of interest" in response.get_data(as_text=True)
    for url in urls(world).values():
        assert client.get(url).status_code == 403


def test_assessing_through_the_page(app, world, auth, browser, client):
    assign(app, world)
    auth.sign_in(world.carer[1])
    response = client.get(urls(world)["assess"])
    assert response.status_code == 302 and response.location.endswith(urls(world)["declare"])
    declare(app, world, world.carer)
    html = page(client, urls(world)["assess"])
    assert EVIDENCE_TEXT in html and "Our families narrative." in html
    assert "Look for families as partners." in html
    assert "Save draft" in html and "Submit assessment" in html
    response = browser.submit(urls(world)["assess"], {
        "action": "draft", "score_families": "2", "comment_families": "Lovely."},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Your draft has been saved" in html and "Lovely." in html
    response = browser.submit(urls(world)["assess"], {
        "action": "submit", "score_families": "2", "comment_families": "Lovely."})
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert "Choose a score for “The communication environment” before submitting" in html
    assert 'href="#score_environment' in html
    response = browser.submit(urls(world)["assess"], {
        "action": "submit", "score_families": "2", "comment_families": "Lovely.",
        "score_environment": "1"})
    assert response.location.endswith(urls(world)["moderation"])
    html = page(client, urls(world)["assess"])
    assert "You submitted your assessment on" in html and "Save draft" not in html


def test_others_assessments_stay_hidden_until_ones_own_is_submitted(app, world, auth, client):
    assign(app, world)
    declare(app, world, world.carer)
    declare(app, world, world.professional)
    within(app, lambda u: moderation.save_assessment(
        world.application_id, u(world.professional),
        {"families": (0, "Thin on families."), "environment": (1, "")}, True))
    auth.sign_in(world.carer[1])
    assert "Thin on families." not in page(client, urls(world)["assess"])
    html = page(client, urls(world)["moderation"])
    assert "Thin on families." not in html
    assert "once you have submitted your own assessment" in html
    assess(app, world, world.carer, families=2)
    html = page(client, urls(world)["assess"])
    assert "Thin on families." in html and "Assessor 1 (professional)" in html
    assert "Robin Professional" not in html


def test_moderation_table_and_the_chairs_decision(app, world, auth, browser, client):
    assign(app, world)
    for who in (world.chair, world.carer, world.professional):
        declare(app, world, who)
    auth.sign_in(world.chair[1])
    html = page(client, urls(world)["moderation"])
    assert "The panel is not ready to decide yet. 0 of the 2 assessments" in html
    assert "Record the panel" not in html
    assess(app, world, world.carer, families=2)
    assess(app, world, world.professional, families=1)
    html = page(client, urls(world)["moderation"])
    assert "Assessor 1 (parent or carer)" in html and "Assessor 2 (professional)" in html
    assert "Scores differ" in html and "Scores agree" in html
    assert "Pat Parent" not in html
    assert "Record the panel" in html
    form = {"outcome": "one_year", "reasons": "Warm and inclusive."}
    response = browser.submit(urls(world)["moderation"], form)
    html = response.get_data(as_text=True)
    assert "needs at least one action point" in html and 'href="#point_1_text"' in html
    response = browser.submit(urls(world)["moderation"], {
        **form, "point_1_text": "Train staff", "point_1_day": "31", "point_1_month": "2",
        "point_1_year": "2030"})
    html = response.get_data(as_text=True)
    assert "The due date of action point 1 must be a real date" in html
    assert 'href="#point_1_day"' in html
    due = to_london(utcnow()).date() + timedelta(days=60)
    response = browser.submit(urls(world)["moderation"], {
        **form, "point_1_text": "Train staff in Makaton", "point_1_day": str(due.day),
        "point_1_month": str(due.month), "point_1_year": str(due.year)},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The decision has been recorded and sent to the setting" in html
    assert "Awarded for 1 year with action points" in html and "Train staff in Makaton" in html
    assert get_application(app, world.application_id).status == "decided"


def test_members_who_are_not_the_chair_see_no_decision_form(app, world, auth, client):
    ready_panel(app, world)
    auth.sign_in(world.carer[1])
    html = page(client, urls(world)["moderation"])
    assert "Scores agree" in html and "Record the panel" not in html
    auth.sign_out()
    auth.sign_in(world.chair[1])
    html = page(client, urls(world)["moderation"])
    assert "Record the panel" in html
