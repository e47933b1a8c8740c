"""Awards once made: making them, the register of current holders, withdrawal, expiry
reminders, the annual celebration report and the waiting-list incentive.

An award is current from ``awarded_on`` to ``expires_on`` inclusive (London days) unless it
has been withdrawn; an award of N months ends the day before the same date N months on, so a
two-year award made on 3 March 2026 is current until 2 March 2028.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import url_for

from awards import audit
from awards.errors import Refused
from awards.models import Application, Award
from awards.permissions import APPLICANT_JOB_ROLES, is_admin
from awards.schemes import Outcome, get_scheme, outcome_label, scheme_name
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.mail import link_context, send_template
from trainer.people import LocalAuthority, Setting, User
from trainer.times import day as day_text
from trainer.times import to_london

REMINDER_DAYS = (90, 30)


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later; a day the month lacks becomes its last day
    (31 January + 1 month is 28 or 29 February)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def expiry_for(awarded_on: date, months: int) -> date:
    """The last day an award of ``months`` made on ``awarded_on`` is current: the day before
    the same date ``months`` later (3 March 2026, 24 months: 2 March 2028). When that month
    has no such date (an award made on 29 February, or 31 January for one month) the
    anniversary is taken to be the first of the next month, so the award runs to the end of
    the short month (29 February 2028, 12 months: 28 February 2029)."""
    anniversary = add_months(awarded_on, months)
    if anniversary.day < awarded_on.day:
        return anniversary
    return anniversary - timedelta(days=1)


def london_today(now: datetime | None = None) -> date:
    return to_london(now or utcnow()).date()


# -- making and withdrawing ----------------------------------------------------------------------


def make_award(application: Application, outcome: Outcome, now: datetime) -> Award:
    """Make the award ``outcome`` gives ``application``'s setting, in the caller's transaction
    (no commit here): current from London today for ``outcome.award_months`` months, with the
    setting's LA and the application's district as they are now. Writes "award.made"."""
    if not outcome.awards:
        raise ValueError(f"outcome {outcome.key!r} makes no award")
    awarded_on = london_today(now)
    setting = application.setting or db.session.get(Setting, application.setting_id)
    award = Award(
        application=application, scheme_key=application.scheme_key,
        setting_id=application.setting_id, local_authority_id=setting.local_authority_id,
        district=application.district, outcome_key=outcome.key, awarded_on=awarded_on,
        expires_on=expiry_for(awarded_on, outcome.award_months),
    )
    db.session.add(award)
    db.session.flush()
    audit.record("award.made", actor=None, application=application, award=award,
                 detail=f"{outcome.label}, current until {day_text(award.expires_on)}")
    return award


def award_status(award: Award, today: date) -> str:
    """``"valid"``, ``"expired"`` or ``"withdrawn"`` on ``today``. An award not yet begun
    (made later in a day than ``today``) counts as valid."""
    status = award.status_on(today)
    return "valid" if status == "not_yet" else status


def withdraw_award(award_id: int, admin: User, reason: str, now: datetime | None = None) -> Award:
    """Withdraw an award (admins only, once, with a reason). It leaves the register at once,
    its verification page says it was withdrawn, and the setting's applicants are emailed."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not is_admin(admin):
        raise Refused("Only administrators can withdraw an award.")
    if not reason:
        raise Refused("Enter the reason for withdrawing the award", field="reason")
    with write_transaction():
        award = lock_row(Award, award_id)
        if award is None:
            raise Refused("There is no such award.")
        if award.withdrawn_at is not None:
            raise Refused(f"This award was already withdrawn on {day_text(award.withdrawn_at)}.")
        award.withdrawn_at = now
        award.withdrawn_reason = reason
        audit.record("award.withdrawn", actor=admin, application=award.application,
                     award=award, detail=reason)
        scheme = get_scheme(award.scheme_key)
        with link_context():
            for person in applicants_of(award.setting_id):
                send_template(person, f"Your {scheme_name(award.scheme_key)} has been withdrawn",
                              "awards/award_withdrawn", award=award, scheme=scheme,
                              scheme_name=scheme_name(award.scheme_key), reason=reason,
                              withdrawn_on=day_text(now),
                              verify_url=url_for("awards.verify",
                                                 code=award.verification_code, _external=True))
    return award


def applicants_of(setting_id: int) -> list[User]:
    """The setting's active applicants (manager, SENCO, childminder), by name."""
    return list(db.session.scalars(
        sa.select(User).where(User.setting_id == setting_id, User.active.is_(True),
                              User.job_role.in_(sorted(APPLICANT_JOB_ROLES)))
        .order_by(User.name, User.id)))


# -- the register --------------------------------------------------------------------------------


def current_awards(today: date, local_authority_id: int | None = None,
                   scheme_key: str | None = None) -> sa.Select:
    """Awards current on ``today`` (not withdrawn, awarded on or before it and expiring on or
    after it), ordered by LA name, district (those without one last), then setting name."""
    statement = (
        sa.select(Award)
        .join(LocalAuthority, LocalAuthority.id == Award.local_authority_id)
        .join(Setting, Setting.id == Award.setting_id)
        .where(Award.withdrawn_at.is_(None), Award.awarded_on <= today,
               Award.expires_on >= today)
        .order_by(LocalAuthority.name, Award.district.is_(None), Award.district, Setting.name,
                  Award.id)
    )
    if local_authority_id is not None:
        statement = statement.where(Award.local_authority_id == local_authority_id)
    if scheme_key:
        statement = statement.where(Award.scheme_key == scheme_key)
    return statement


# -- expiry reminders ----------------------------------------------------------------------------


def send_expiry_reminders(now: datetime) -> int:
    """Email the applicants of each current award 90 and then 30 days before it expires,
    with a link to start the renewal. Each reminder is claimed in its own write transaction
    (``UPDATE ... WHERE reminded_X_at IS NULL``) before its emails are queued, so two ticks at
    once, or one after a long gap, never send one twice. An award already within 30 days
    gets only the 30-day reminder. Expired and withdrawn awards get none. Returns how many
    reminders (awards reminded, not emails) were sent."""
    today = london_today(now)
    far, near = REMINDER_DAYS
    due: list[tuple[int, int]] = []
    rows = db.session.execute(
        sa.select(Award.id, Award.expires_on, Award.reminded_90_at, Award.reminded_30_at)
        .where(Award.withdrawn_at.is_(None), Award.awarded_on <= today,
               Award.expires_on >= today, Award.expires_on <= today + timedelta(days=far))
        .order_by(Award.id)).all()
    db.session.rollback()
    for award_id, expires_on, reminded_far, reminded_near in rows:
        days_left = (expires_on - today).days
        if days_left <= near:
            if reminded_near is None:
                due.append((award_id, near))
        elif reminded_far is None:
            due.append((award_id, far))
    sent = 0
    for award_id, days in due:
        sent += _remind(award_id, days, now)
    return sent


def _remind(award_id: int, days: int, now: datetime) -> int:
    column = Award.reminded_30_at if days == REMINDER_DAYS[1] else Award.reminded_90_at
    today = london_today(now)
    with write_transaction():
        claimed = db.session.execute(
            sa.update(Award).where(Award.id == award_id, column.is_(None),
                                   Award.withdrawn_at.is_(None), Award.expires_on >= today)
            .values({column.key: now}).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            return 0
        award = db.session.get(Award, award_id)
        db.session.refresh(award)
        name = scheme_name(award.scheme_key)
        with link_context():
            renew_url = url_for("awards.application", application_id=award.application_id,
                                _external=True)
            for person in applicants_of(award.setting_id):
                send_template(person, f"Your {name} expires on {day_text(award.expires_on)}",
                              "awards/expiry_reminder", award=award, scheme_name=name,
                              expires_on=day_text(award.expires_on),
                              days_left=(award.expires_on - today).days,
                              renew_url=renew_url)
        audit.record("award.reminder_sent", application=award.application, award=award,
                     detail=f"{days}-day reminder: expires {day_text(award.expires_on)}")
    return 1


# -- the celebration report ----------------------------------------------------------------------


@dataclass
class Celebration:
    """Awards made in one calendar year (London): counts by scheme and outcome, by LA (and
    scheme), and the total."""

    year: int
    by_outcome: list[tuple[str, str, int]] = field(default_factory=list)  # scheme, outcome
    by_authority: list[tuple[str, str, int]] = field(default_factory=list)  # LA, scheme
    by_scheme: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0


def celebration(year: int) -> Celebration:
    """Awards made in ``year`` (withdrawn ones included: they were made), counted by scheme
    and outcome, by LA and scheme, and by scheme, with the total. Names are the schemes'
    names and outcome labels, falling back to their keys when a scheme file has gone."""
    rows = db.session.execute(
        sa.select(Award.scheme_key, Award.outcome_key, LocalAuthority.name,
                  sa.func.count(Award.id))
        .join(LocalAuthority, LocalAuthority.id == Award.local_authority_id)
        .where(Award.awarded_on >= date(year, 1, 1), Award.awarded_on <= date(year, 12, 31))
        .group_by(Award.scheme_key, Award.outcome_key, LocalAuthority.name)).all()
    outcomes: dict[tuple[str, str], int] = {}
    authorities: dict[tuple[str, str], int] = {}
    schemes: dict[str, int] = {}
    for scheme_key, outcome_key, authority, count in rows:
        name, label = scheme_name(scheme_key), outcome_label(scheme_key, outcome_key)
        outcomes[name, label] = outcomes.get((name, label), 0) + count
        authorities[authority, name] = authorities.get((authority, name), 0) + count
        schemes[name] = schemes.get(name, 0) + count
    return Celebration(
        year=year,
        by_outcome=[(s, o, n) for (s, o), n in sorted(outcomes.items())],
        by_authority=[(a, s, n) for (a, s), n in sorted(authorities.items())],
        by_scheme=sorted(schemes.items()),
        total=sum(schemes.values()),
    )


def award_years() -> list[int]:
    """The years in which awards were made, latest first (every year between the first and
    the last, so a quiet year still shows its empty report)."""
    first, last = db.session.execute(
        sa.select(sa.func.min(Award.awarded_on), sa.func.max(Award.awarded_on))).one()
    if first is None:
        return []
    return list(range(last.year, first.year - 1, -1))


# -- the waiting-list incentive ------------------------------------------------------------------


def waitlist_priority(user, today: date) -> float | None:
    """How far ``user`` moves up training waiting lists: the highest ``waitlist_priority`` of
    the schemes in which their setting holds a current award; ``None`` when they have no
    setting or it holds none (or only in schemes giving no priority)."""
    setting_id = getattr(user, "setting_id", None)
    if setting_id is None:
        return None
    keys = set(db.session.scalars(
        current_awards(today).where(Award.setting_id == setting_id)
        .with_only_columns(Award.scheme_key).order_by(None)))
    priorities = [scheme.waitlist_priority for key in keys
                  if (scheme := get_scheme(key)) is not None and scheme.waitlist_priority]
    return float(max(priorities)) if priorities else None
