"""Demo awards: both schemes in use, with a panel, applications in every state, current,
expired and withdrawn awards, and staff audit answers at the demo SENCO's setting.

Written as rows in the demo's own transaction (no emails go out). The demo SENCO
(``practitioner@example.org``) has a draft kite-mark application and a current communication
award due for renewal; the demo moderator (``moderator@example.org``, a parent or carer)
chairs the panel, with one application waiting for their declaration and one ready for their
decision.
"""

from __future__ import annotations

import calendar
import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from awards import evidence
from awards.models import (
    ActionPoint,
    Application,
    ApplicationStatus,
    Assessment,
    AssessmentScore,
    AuditEvent,
    Award,
    Decision,
    Declaration,
    Evidence,
    EvidenceKind,
    MemberType,
    Panel,
    PanelMember,
    SelfAssessment,
    StaffAuditAnswer,
)
from awards.schemes import Scheme, get_scheme
from trainer.db import db, utcnow
from trainer.people import Role, Setting, User
from trainer.times import to_london

DISTRICTS = ["North", "South", "East", "West", "Central"]
NARRATIVES = [
    "Every member of staff has completed inclusion training this year, and our SENCO meets "
    "each room team monthly to plan support.",
    "We use the assess, plan, do, review cycle for every child on SEN support; plans are "
    "written with parents and reviewed each term.",
    "Parents tell us they feel listened to: we hold termly coffee mornings and share "
    "learning journals weekly.",
    "Our inclusion policy is reviewed every year with staff and families, and new staff learn "
    "it in their first week.",
    "Our sensory garden was designed with families and a local occupational therapist.",
]
PROFESSIONALS = [
    ("pat.professional@example.org", "Pat Professional"),
    ("sunita.specialist@example.org", "Sunita Specialist"),
]


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year,
                                                                                    month)[1]))


def _audit(action: str, at: datetime, actor=None, application=None, award=None,
           detail: str = "") -> None:
    db.session.add(AuditEvent(at=at, action=action, actor_id=getattr(actor, "id", None),
                              application_id=getattr(application, "id", None),
                              award_id=getattr(award, "id", None), detail=detail))


def _demo_pdf(title: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 7, NARRATIVES[0])
    return bytes(pdf.output())


class _Maker:
    def __init__(self, rng: random.Random, now: datetime):
        self.rng, self.now = rng, now
        self.today = to_london(now).date()
        self.files = 0

    def application(self, scheme: Scheme, setting: Setting, status: str, started_by,
                    days_ago: int, filled: int | None = None, with_file: bool = False,
                    ) -> Application:
        started = self.now - timedelta(days=days_ago)
        window = scheme.window_on(to_london(started).date()) or scheme.window_on(self.today) \
            or (self.today - timedelta(days=30), self.today + timedelta(days=60))
        application = Application(
            scheme_key=scheme.key, setting=setting, started_by_id=getattr(started_by, "id", None),
            status=status, district=self.rng.choice(DISTRICTS), window_opens=window[0],
            window_closes=window[1], created_at=started, updated_at=started)
        db.session.add(application)
        db.session.flush()
        _audit("application.started", started, started_by, application)
        criteria = scheme.criteria if filled is None else scheme.criteria[:filled]
        for number, criterion in enumerate(criteria):
            application.answers.append(SelfAssessment(
                criterion_key=criterion.key, score=self.rng.choice([1, 1, 2]),
                narrative=NARRATIVES[number % len(NARRATIVES)], updated_at=started))
            application.evidence.append(Evidence(
                criterion_key=criterion.key, kind=EvidenceKind.TEXT.value,
                caption="What we do", text=NARRATIVES[(number + 1) % len(NARRATIVES)],
                added_by_id=getattr(started_by, "id", None), created_at=started))
        if with_file and criteria:
            checked = evidence.CheckedFile("Inclusion policy.pdf", "application/pdf",
                                           _demo_pdf(f"{setting.name}: inclusion policy"))
            stored_name, digest = evidence.store(checked)
            self.files += 1
            application.evidence.append(Evidence(
                criterion_key=criteria[-1].key, kind=EvidenceKind.FILE.value,
                caption="Our inclusion policy", stored_name=stored_name,
                original_name=checked.original_name, content_type=checked.content_type,
                size=checked.size, sha256=digest, added_by_id=getattr(started_by, "id", None),
                created_at=started))
        if status != ApplicationStatus.DRAFT:
            application.submitted_at = started + timedelta(days=10)
            _audit("application.submitted", application.submitted_at, started_by, application)
        return application

    def assess(self, application: Application, scheme: Scheme, member: PanelMember,
               when: datetime) -> None:
        db.session.add(Declaration(application=application, user_id=member.user_id,
                                   has_conflict=False, declared_at=when))
        _audit("declaration.no_conflict", when, member.user, application)
        assessment = Assessment(application=application, assessor_id=member.user_id,
                                member_type=member.member_type, submitted_at=when,
                                updated_at=when)
        for criterion in scheme.criteria:
            assessment.scores.append(AssessmentScore(
                criterion_key=criterion.key, score=self.rng.choice([1, 1, 1, 2, 0]),
                comment="Clear evidence of established practice." if self.rng.random() < 0.7
                else "Would like to see more about how this is reviewed."))
        db.session.add(assessment)
        _audit("assessment.submitted", when, member.user, application)

    def decide(self, application: Application, scheme: Scheme, outcome_key: str,
               chair: User, decided_on: date) -> Award | None:
        outcome = scheme.outcome(outcome_key)
        decided_at = datetime.combine(decided_on, datetime.min.time()).replace(
            tzinfo=self.now.tzinfo) + timedelta(hours=11)
        application.status = ApplicationStatus.DECIDED.value
        decision = Decision(application=application, outcome_key=outcome.key,
                            reasons=("The panel saw strong, consistent evidence of inclusive "
                                     "practice across the setting." if outcome.awards else
                                     "The panel would like to see how support plans are "
                                     "reviewed with families, and evidence from more than one "
                                     "room. Please add these and resubmit."),
                            decided_by_id=chair.id, decided_at=decided_at,
                            released_at=decided_at)
        if outcome.action_points:
            decision.action_points.append(ActionPoint(
                text="Review the SEND policy with parents and carers.",
                due_on=decided_on + timedelta(days=120)))
        db.session.add(decision)
        _audit("decision.released", decided_at, chair, application, detail=outcome.key)
        if not outcome.awards:
            return None
        award = Award(application=application, scheme_key=scheme.key,
                      setting_id=application.setting.id,
                      local_authority_id=application.setting.local_authority_id,
                      district=application.district, outcome_key=outcome.key,
                      awarded_on=decided_on,
                      expires_on=_add_months(decided_on, outcome.award_months) - timedelta(1))
        db.session.add(award)
        db.session.flush()
        _audit("award.made", decided_at, chair, application, award)
        return award


def create(rng: random.Random, echo) -> dict[str, int]:
    """Make the demo awards; returns counts for the summary."""
    kite_mark, communication = get_scheme("inclusion_kite_mark"), get_scheme(
        "communication_award")
    if kite_mark is None or communication is None:
        echo("  awards: the shipped schemes are not loaded; no demo awards")
        return {}
    now = utcnow()
    maker = _Maker(rng, now)
    senco = db.session.scalar(sa.select(User).where(User.email == "practitioner@example.org"))
    chair = db.session.scalar(sa.select(User).where(User.email == "moderator@example.org"))
    if senco is None or chair is None or senco.setting is None:
        return {}
    password_hash = senco.password_hash

    panel = Panel(name="Yorkshire moderation panel", created_at=now - timedelta(days=200))
    panel.members.append(PanelMember(user=chair, member_type=MemberType.PARENT_CARER.value,
                                     is_chair=True))
    for email, name in PROFESSIONALS:
        professional = User(email=email, name=name, password_hash=password_hash,
                            job_role="la_staff", email_verified_at=now)
        professional.grant(Role.MODERATOR)
        db.session.add(professional)
        panel.members.append(PanelMember(user=professional,
                                         member_type=MemberType.PROFESSIONAL.value))
    db.session.add(panel)
    db.session.flush()
    _audit("panel.created", now - timedelta(days=200), detail=panel.name)
    members = panel.members

    # The demo SENCO's own setting: a current communication award due for renewal soon, and
    # a kite-mark application in progress.
    home = senco.setting
    earlier = maker.application(communication, home, ApplicationStatus.SUBMITTED.value, senco,
                                days_ago=700)
    earlier.panel = panel
    for member in members[:2]:
        maker.assess(earlier, communication, member, now - timedelta(days=680))
    maker.decide(earlier, communication, "two_years", chair,
                 maker.today - timedelta(days=730 - 80))
    maker.application(kite_mark, home, ApplicationStatus.DRAFT.value, senco, days_ago=6,
                      filled=2)

    # Staff audit answers from staff at the SENCO's setting (and the SENCO).
    staff = list(db.session.scalars(sa.select(User).where(User.setting_id == home.id)
                                     .order_by(User.id).limit(8)))
    for person in staff:
        for criterion in kite_mark.criteria:
            db.session.add(StaffAuditAnswer(user_id=person.id, scheme_key=kite_mark.key,
                                            criterion_key=criterion.key,
                                            need=rng.choice([1, 2, 2, 3])))

    # Other settings across England: awards current, expired and withdrawn, and applications
    # in every state.
    others = list(db.session.scalars(
        sa.select(Setting).where(Setting.id != home.id).order_by(Setting.id).limit(60)))
    rng.shuffle(others)
    made = {"awards": 1, "applications": 2}
    for number, setting in enumerate(others[:30]):
        scheme = kite_mark if number % 3 else communication
        outcome = "one_year" if number % 4 == 0 else "two_years"
        days_ago = rng.randint(40, 600) if outcome == "two_years" else rng.randint(40, 300)
        application = maker.application(scheme, setting, ApplicationStatus.SUBMITTED.value,
                                        None, days_ago=days_ago + 40)
        application.panel = panel
        for member in members[:2]:
            maker.assess(application, scheme, member, now - timedelta(days=days_ago + 5))
        award = maker.decide(application, scheme, outcome, chair,
                             maker.today - timedelta(days=days_ago))
        made["awards"] += 1
        made["applications"] += 1
        if number == 7 and award is not None:
            award.withdrawn_at = now - timedelta(days=10)
            award.withdrawn_reason = "The setting closed."
            _audit("award.withdrawn", award.withdrawn_at, None, application, award,
                   detail="The setting closed.")
    for number, setting in enumerate(others[30:34]):
        # Expired awards: made more than two years ago.
        application = maker.application(kite_mark, setting, ApplicationStatus.SUBMITTED.value,
                                        None, days_ago=900)
        application.panel = panel
        for member in members[:2]:
            maker.assess(application, kite_mark, member, now - timedelta(days=870))
        maker.decide(application, kite_mark, "two_years", chair,
                     maker.today - timedelta(days=860 + number))
        made["awards"] += 1
        made["applications"] += 1

    waiting = others[34:40]
    # Waiting for the panel's declarations (the chair has not declared yet).
    for setting in waiting[:2]:
        application = maker.application(kite_mark, setting, ApplicationStatus.SUBMITTED.value,
                                        None, days_ago=20, with_file=True)
        application.panel = panel
        _audit("application.assigned", now - timedelta(days=5), None, application,
               detail=panel.name)
    # Ready for the chair's decision: both professionals have assessed.
    ready = maker.application(communication, waiting[2], ApplicationStatus.SUBMITTED.value,
                              None, days_ago=30, with_file=True)
    ready.panel = panel
    for member in members[1:3]:
        maker.assess(ready, communication, member, now - timedelta(days=3))
    # Submitted, not yet assigned; a draft; a withdrawn application; a "not yet" decision.
    maker.application(communication, waiting[3], ApplicationStatus.SUBMITTED.value, None,
                      days_ago=12, with_file=True)
    maker.application(kite_mark, waiting[4], ApplicationStatus.DRAFT.value, None, days_ago=3,
                      filled=1)
    withdrawn = maker.application(kite_mark, waiting[5], ApplicationStatus.WITHDRAWN.value,
                                  None, days_ago=60)
    withdrawn.withdrawn_at = now - timedelta(days=45)
    withdrawn.withdrawn_reason = "Our SENCO has left; we will apply next year."
    _audit("application.withdrawn", withdrawn.withdrawn_at, None, withdrawn)
    if len(others) > 40:
        resubmit = maker.application(kite_mark, others[40], ApplicationStatus.SUBMITTED.value,
                                     None, days_ago=90)
        resubmit.panel = panel
        for member in members[:2]:
            maker.assess(resubmit, kite_mark, member, now - timedelta(days=60))
        maker.decide(resubmit, kite_mark, "not_yet", chair, maker.today - timedelta(days=55))
        made["applications"] += 1
    made["applications"] += 6
    db.session.flush()
    echo(f"  awards: 1 panel, {made['applications']} applications, {made['awards']} awards, "
         f"{maker.files} evidence files")
    return {"award_applications": made["applications"], "awards": made["awards"]}
