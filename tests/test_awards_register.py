"""Awards once made: their length, withdrawal, expiry reminders (once each, even when ticks
overlap), the celebration report's figures and the waiting-list incentive."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from awards import register
from awards.errors import Refused
from awards.models import Application, AuditEvent, Award, Decision
from awards.schemes import get_scheme
from tests import factories
from tests.awards_support import TEST_SCHEME, make_applicant, make_setting, make_staff
from tests.test_waiting_list_concurrency import at_once, emails, request
from trainer import booking as engine
from trainer.db import db, utcnow
from trainer.people import Role, User
from trainer.plugins.waiting_list import service
from trainer.plugins.waiting_list.models import WaitlistEntry
from trainer.times import LONDON, to_london

REMINDER_SUBJECT = "Your Test inclusion award expires on"


# -- making awards as the panel's decision does -------------------------------------------------


def noon(day: date) -> datetime:
    """Midday in London on ``day``, as an aware UTC datetime."""
    return datetime.combine(day, time(12), tzinfo=LONDON).astimezone(UTC)


def award_for(app, setting_id: int, outcome_key: str = "two_years",
              made_at: datetime | None = None, district: str | None = "Headingley",
              scheme_key: str = TEST_SCHEME) -> int:
    """A decided application with its decision and the award it makes; returns the award id."""
    made_at = made_at or utcnow()
    today = to_london(made_at).date()
    with app.app_context():
        application = Application(
            scheme_key=scheme_key, setting_id=setting_id, status="decided", district=district,
            window_opens=today - timedelta(days=60), window_closes=today - timedelta(days=30),
            submitted_at=made_at - timedelta(days=40))
        db.session.add(application)
        db.session.flush()
        db.session.add(Decision(application_id=application.id, outcome_key=outcome_key,
                                reasons="Strong evidence.", decided_at=made_at,
                                released_at=made_at))
        outcome = get_scheme(scheme_key).outcome(outcome_key)
        award = register.make_award(application, outcome, made_at)
        db.session.commit()
        return award.id


def award_expiring(app, setting_id: int, expires_on: date, **fields) -> int:
    """An award (built directly) whose last day is ``expires_on``."""
    with app.app_context():
        application = Application(scheme_key=TEST_SCHEME, setting_id=setting_id,
                                  status="decided", window_opens=date(2020, 1, 1),
                                  window_closes=date(2020, 2, 1))
        db.session.add(application)
        db.session.flush()
        setting_la = db.session.scalar(sa.text(
            "SELECT local_authority_id FROM setting WHERE id = :id"), {"id": setting_id})
        award = Award(application_id=application.id, scheme_key=TEST_SCHEME,
                      setting_id=setting_id, local_authority_id=setting_la,
                      outcome_key="one_year", awarded_on=expires_on - timedelta(days=364),
                      expires_on=expires_on, **fields)
        db.session.add(award)
        db.session.commit()
        return award.id


def get_award(app, award_id: int) -> Award:
    with app.app_context():
        award = db.session.get(Award, award_id)
        db.session.expunge(award)
        return award


def audit_actions(app, award_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action)
                                       .where(AuditEvent.award_id == award_id)
                                       .order_by(AuditEvent.id)))


# -- how long an award lasts --------------------------------------------------------------------


@pytest.mark.parametrize(("awarded", "months", "last_day"), [
    (date(2026, 3, 3), 24, date(2028, 3, 2)),
    (date(2026, 3, 3), 12, date(2027, 3, 2)),
    (date(2026, 1, 1), 12, date(2026, 12, 31)),
    (date(2027, 3, 1), 12, date(2028, 2, 29)),   # the year it runs into is a leap year
    (date(2028, 2, 29), 12, date(2029, 2, 28)),  # made on 29 February: to the end of February
    (date(2028, 2, 29), 24, date(2030, 2, 28)),
    (date(2026, 2, 28), 24, date(2028, 2, 27)),
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
])
def test_award_lasts_its_months_to_the_day_before_the_anniversary(awarded, months, last_day):
    assert register.expiry_for(awarded, months) == last_day


def test_making_an_award_keeps_the_setting_la_and_district(app):
    setting_id = make_setting(app, "Zoë's Nursery", "Bradford")
    award_id = award_for(app, setting_id, "one_year", made_at=noon(date(2026, 3, 3)),
                         district="Shipley")
    award = get_award(app, award_id)
    assert (award.awarded_on, award.expires_on) == (date(2026, 3, 3), date(2027, 3, 2))
    assert award.district == "Shipley"
    assert award.outcome_key == "one_year"
    with app.app_context():
        assert db.session.get(Award, award_id).local_authority.name == "Bradford"
    assert audit_actions(app, award_id) == ["award.made"]


def test_an_award_made_late_in_the_evening_starts_on_that_london_day(app):
    setting_id = make_setting(app)
    # 23:30 on 30 June in London is 22:30 UTC (summer time).
    award_id = award_for(app, setting_id, made_at=datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
    assert get_award(app, award_id).awarded_on == date(2026, 6, 30)


def test_an_outcome_without_an_award_makes_none(app):
    setting_id = make_setting(app)
    with pytest.raises(ValueError):
        award_for(app, setting_id, "not_yet")


# -- withdrawal --------------------------------------------------------------------------------


@pytest.fixture
def admin(make_user):
    return make_user("awards-admin@example.org", name="Ada Admin", roles=[Role.ADMIN])[0]


def withdraw(app, award_id: int, user_id: int, reason: str) -> None:
    with request(app):
        register.withdraw_award(award_id, db.session.get(User, user_id), reason)


def test_withdrawing_tells_the_applicants_and_ends_the_award(app, make_user, admin, mailbox):
    setting_id = make_setting(app)
    senco = make_applicant(make_user, setting_id, "senco@example.org")
    make_applicant(make_user, setting_id, "manager@example.org", job_role="setting_manager")
    make_staff(make_user, setting_id, "staff@example.org")
    award_id = award_for(app, setting_id)
    withdraw(app, award_id, admin, "  Serious concerns raised at inspection.  ")
    award = get_award(app, award_id)
    assert award.withdrawn_reason == "Serious concerns raised at inspection."
    assert register.award_status(award, register.london_today()) == "withdrawn"
    sent = mailbox()
    assert sorted(message["To"].split("<")[-1].rstrip(">") for message in sent) == [
        "manager@example.org", senco[1]]
    assert "Serious concerns raised at inspection." in sent[0].get_body().get_content()
    assert "/awards/verify/" in sent[0].get_body().get_content()
    assert audit_actions(app, award_id) == ["award.made", "award.withdrawn"]
    with app.app_context():
        assert db.session.scalars(register.current_awards(register.london_today())).all() == []


def test_withdrawal_needs_a_reason(app, admin):
    award_id = award_for(app, make_setting(app))
    with pytest.raises(Refused, match="Enter the reason") as refusal:
        withdraw(app, award_id, admin, "   ")
    assert refusal.value.field == "reason"
    assert get_award(app, award_id).withdrawn_at is None


def test_an_award_is_withdrawn_once(app, admin):
    award_id = award_for(app, make_setting(app))
    withdraw(app, award_id, admin, "First reason")
    with pytest.raises(Refused, match="already withdrawn"):
        withdraw(app, award_id, admin, "Second reason")
    assert get_award(app, award_id).withdrawn_reason == "First reason"
    assert audit_actions(app, award_id).count("award.withdrawn") == 1


def test_only_admins_withdraw_awards(app, make_user):
    setting_id = make_setting(app)
    senco = make_applicant(make_user, setting_id)[0]
    award_id = award_for(app, setting_id)
    with pytest.raises(Refused, match="Only administrators"):
        withdraw(app, award_id, senco, "We would rather not")
    assert get_award(app, award_id).withdrawn_at is None


def test_withdrawing_an_unknown_award_is_refused(app, admin):
    with pytest.raises(Refused, match="no such award"):
        withdraw(app, 999, admin, "Gone")


# -- expiry reminders --------------------------------------------------------------------------


@pytest.fixture
def reminded_setting(app, make_user):
    setting_id = make_setting(app, "Little Acorns Nursery")
    make_applicant(make_user, setting_id, "senco@example.org")
    make_applicant(make_user, setting_id, "manager@example.org", job_role="setting_manager")
    make_staff(make_user, setting_id, "staff@example.org")
    return setting_id


def remind(app, now: datetime) -> int:
    with request(app):
        return register.send_expiry_reminders(now)


def reminders_sent(app) -> Counter[str]:
    return emails(app, REMINDER_SUBJECT)


def test_reminders_go_90_and_30_days_before_expiry_once_each(app, reminded_setting, mailbox):
    expires = date(2027, 6, 30)
    award_id = award_expiring(app, reminded_setting, expires)
    assert remind(app, noon(expires - timedelta(days=91))) == 0
    assert remind(app, noon(expires - timedelta(days=90))) == 1
    assert remind(app, noon(expires - timedelta(days=89))) == 0
    assert reminders_sent(app) == Counter({"senco@example.org": 1, "manager@example.org": 1})
    assert get_award(app, award_id).reminded_90_at is not None
    assert remind(app, noon(expires - timedelta(days=31))) == 0
    assert remind(app, noon(expires - timedelta(days=30))) == 1
    assert remind(app, noon(expires - timedelta(days=29))) == 0
    assert reminders_sent(app) == Counter({"senco@example.org": 2, "manager@example.org": 2})
    message = next(m for m in mailbox() if m["To"].endswith("<senco@example.org>"))
    body = message.get_body().get_content()
    award = get_award(app, award_id)
    assert "expires on Wednesday 30 June 2027" in message["Subject"]
    assert f"/awards/applications/{award.application_id}" in body
    assert audit_actions(app, award_id) == ["award.reminder_sent"] * 2


def test_after_a_long_gap_only_the_reminder_now_due_is_sent(app, reminded_setting):
    expires = date(2027, 6, 30)
    near = award_expiring(app, reminded_setting, expires)
    far = award_expiring(app, reminded_setting, expires + timedelta(days=40))
    # The first tick for months: 20 days before the first expires, 60 before the second.
    assert remind(app, noon(expires - timedelta(days=20))) == 2
    near_award, far_award = get_award(app, near), get_award(app, far)
    assert near_award.reminded_90_at is None and near_award.reminded_30_at is not None
    assert far_award.reminded_90_at is not None and far_award.reminded_30_at is None
    assert reminders_sent(app) == Counter({"senco@example.org": 2, "manager@example.org": 2})
    assert remind(app, noon(expires - timedelta(days=19))) == 0


def test_expired_and_withdrawn_awards_get_no_reminders(app, reminded_setting, admin):
    today = date(2027, 6, 1)
    award_expiring(app, reminded_setting, today - timedelta(days=1))
    withdrawn = award_expiring(app, reminded_setting, today + timedelta(days=30))
    withdraw(app, withdrawn, admin, "Concerns")
    assert remind(app, noon(today)) == 0
    assert reminders_sent(app) == Counter()


def reminders_at_once(app, reminded_setting) -> None:
    expires = date(2027, 6, 30)
    awards = [award_expiring(app, reminded_setting, expires) for _ in range(3)]
    awards += [award_expiring(app, reminded_setting, expires + timedelta(days=45))
               for _ in range(2)]
    tick_at = noon(expires - timedelta(days=30))
    results = at_once(app, [lambda: register.send_expiry_reminders(tick_at)] * 3)
    assert sum(results) == 5
    assert reminders_sent(app) == Counter({"senco@example.org": 5, "manager@example.org": 5})
    assert remind(app, tick_at + timedelta(hours=1)) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "award.reminder_sent")) == 5


@pytest.mark.parametrize("round_", range(2))
def test_overlapping_ticks_send_each_reminder_once(app, reminded_setting, round_):
    reminders_at_once(app, reminded_setting)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_overlapping_ticks_send_each_reminder_once_on_postgres(app, reminded_setting, round_):
    reminders_at_once(app, reminded_setting)


# -- the register and the celebration report ---------------------------------------------------


def test_current_awards_leave_out_expired_withdrawn_and_other_filters(app, admin):
    leeds = make_setting(app, "Leeds Nursery", "Leeds")
    york = make_setting(app, "York Nursery", "York")
    today = register.london_today()
    current_leeds = award_for(app, leeds)
    current_york = award_for(app, york)
    award_expiring(app, leeds, today - timedelta(days=1))
    withdrawn = award_for(app, york)
    withdraw(app, withdrawn, admin, "Concerns")
    last_day = award_expiring(app, york, today)
    with app.app_context():
        def ids(**filters) -> list[int]:
            return [award.id for award in
                    db.session.scalars(register.current_awards(today, **filters))]

        york_la = db.session.get(Award, current_york).local_authority_id
        assert ids() == [current_leeds, current_york, last_day]
        assert ids(local_authority_id=york_la) == [current_york, last_day]
        assert ids(scheme_key="inclusion_kite_mark") == []


def test_celebration_counts_awards_made_in_the_year(app, admin):
    leeds = make_setting(app, "Leeds Nursery", "Leeds")
    york = make_setting(app, "York Nursery", "York")
    award_for(app, leeds, "two_years", made_at=noon(date(2026, 1, 1)))
    award_for(app, leeds, "one_year", made_at=noon(date(2026, 6, 1)))
    withdrawn = award_for(app, york, "two_years", made_at=noon(date(2026, 12, 31)))
    withdraw(app, withdrawn, admin, "Concerns")
    award_for(app, york, "two_years", made_at=noon(date(2025, 12, 31)))
    # Half past midnight on New Year's Day belongs to the new year.
    award_for(app, york, "two_years", made_at=datetime(2027, 1, 1, 0, 30, tzinfo=UTC))
    with app.app_context():
        report = register.celebration(2026)
        assert report.total == 3
        assert report.by_outcome == [
            ("Test inclusion award", "Awarded for 1 year with action points", 1),
            ("Test inclusion award", "Awarded for 2 years", 2)]
        assert report.by_authority == [("Leeds", "Test inclusion award", 2),
                                       ("York", "Test inclusion award", 1)]
        assert report.by_scheme == [("Test inclusion award", 3)]
        assert register.celebration(2024).total == 0
        assert register.award_years() == [2027, 2026, 2025]


# -- the waiting-list incentive ----------------------------------------------------------------


def test_staff_of_an_awarded_setting_go_ahead_on_waiting_lists(app, make_user, admin):
    awarded = make_setting(app, "Awarded Nursery")
    other = make_setting(app, "Other Nursery")
    staff = make_staff(make_user, awarded, "awarded-staff@example.org")[0]
    other_staff = make_staff(make_user, other, "other-staff@example.org")[0]
    no_setting = make_user("freelance@example.org")[0]
    award_id = award_for(app, awarded)
    award_expiring(app, other, register.london_today() - timedelta(days=1))
    today = register.london_today()
    with app.app_context():
        def priority(user_id: int, day: date = today):
            return register.waitlist_priority(db.session.get(User, user_id), day)

        assert priority(staff) == 10.0
        assert priority(other_staff) is None
        assert priority(no_setting) is None
        expires = db.session.get(Award, award_id).expires_on
        assert priority(staff, expires + timedelta(days=1)) is None
    withdraw(app, award_id, admin, "Concerns")
    with app.app_context():
        assert register.waitlist_priority(db.session.get(User, staff), today) is None


# -- through the core's hooks ------------------------------------------------------------------


def test_tick_sends_reminders_that_are_due_once(app, runner, reminded_setting):
    award_expiring(app, reminded_setting, register.london_today() + timedelta(days=90))
    first = runner.invoke(args=["trainer", "tick"])
    assert "Awards: 1 expiry reminders sent" in first.output
    second = runner.invoke(args=["trainer", "tick"])
    assert "Awards: 0 expiry reminders sent" in second.output
    assert reminders_sent(app) == Counter({"senco@example.org": 1, "manager@example.org": 1})


def test_awarded_settings_staff_go_ahead_of_others_on_a_waiting_list(app, make_user):
    awarded = make_setting(app, "Awarded Nursery")
    award_for(app, awarded)
    booked = make_user("booked@example.org")[0]
    first = make_user("first-come@example.org")[0]
    staff = make_staff(make_user, awarded, "awarded-staff@example.org")[0]
    with app.app_context():
        start = utcnow().replace(microsecond=0) + timedelta(days=10)
        session_id = factories.training_session(starts=start, capacity=1).id
        db.session.commit()
    for user_id in (booked, first, staff):
        with request(app):
            person = db.session.get(User, user_id)
            if user_id == booked:
                engine.book(session_id, person)
            else:
                assert service.join(session_id, person).ok
    with app.app_context():
        entries = db.session.scalars(sa.select(WaitlistEntry).where(
            WaitlistEntry.training_session_id == session_id)).all()
        priorities = {entry.user_id: entry.priority for entry in entries}
        assert priorities == {first: 0, staff: 10}
        assert service.position(next(e for e in entries if e.user_id == staff)) == 1
