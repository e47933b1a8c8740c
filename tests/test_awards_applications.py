"""The setting's journey: starting, self-assessment, evidence, submitting, withdrawing,
deadlines and extensions, renewals, and the staff audit with the training it recommends; the
operations first, then the pages as the setting's people see them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from awards import applications, evidence, staff_audit
from awards.errors import Refused
from awards.models import (
    ActionPoint,
    Application,
    AuditEvent,
    Award,
    Decision,
    Evidence,
    StaffAuditAnswer,
)
from tests import factories
from tests.awards_support import (
    PDF_BYTES,
    TEST_SCHEME,
    make_applicant,
    make_setting,
    make_staff,
)
from tests.conftest import body_of, count
from trainer.catalogue import SessionStatus
from trainer.db import db
from trainer.people import Role, User
from trainer.times import day

JUNE = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)  # the test scheme's 2026 window is open
NEW_YEAR = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)  # past the 2026 window's last day


@pytest.fixture
def people(app, make_user):
    setting = make_setting(app)
    other = make_setting(app, "Busy Bees", "Bradford")
    return SimpleNamespace(
        setting=setting, other=other,
        senco=make_applicant(make_user, setting, "senco@example.org")[0],
        manager=make_applicant(make_user, setting, "manager@example.org",
                               job_role="setting_manager", name="Mo Manager")[0],
        staff=make_staff(make_user, setting, "staff@example.org")[0],
        other_senco=make_applicant(make_user, other, "other@example.org", name="Olu Other")[0],
        admin=make_user("admin@example.org", name="Ada Admin", roles=[Role.ADMIN])[0],
        nobody=make_user("nobody@example.org", name="Nat Nosetting")[0],
    )


def act(app, operation, *args, user: int, as_name: str = "user", **kwargs):
    """Run an operation as the user ``user``; an object it returns is given back as its id."""
    with app.app_context():
        kwargs[as_name] = db.session.get(User, user)
        result = operation(*args, **kwargs)
        return getattr(result, "id", result)


def started(app, people, now=JUNE) -> int:
    return act(app, applications.start, TEST_SCHEME, user=people.senco, now=now)


def completed(app, people, now=JUNE) -> int:
    """A draft with every criterion answered."""
    application_id = started(app, people, now)
    act(app, applications.save_self_assessment, application_id, "families", 1,
        "Families plan support with us.", user=people.senco, now=now)
    act(app, applications.add_text_evidence, application_id, "environment",
        "Quiet corners in every room.", "Room plan", user=people.senco, now=now)
    return application_id


def audit_needs(app, user_id: int, families: int, environment: int) -> None:
    act(app, staff_audit.save_staff_audit, scheme_key=TEST_SCHEME,
        needs={"families": families, "environment": environment}, user=user_id)


def status_of(app, application_id: int) -> str:
    with app.app_context():
        return db.session.get(Application, application_id).status


def actions(app, application_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.application_id == application_id).order_by(AuditEvent.id)))


def decide(app, application_id: int, award: bool = True) -> int | None:
    """Record a released decision (and an award) as the panel's chair would."""
    with app.app_context():
        application = db.session.get(Application, application_id)
        application.status = "decided"
        decision = Decision(application_id=application_id, outcome_key="one_year",
                            reasons="Warm partnership with families.", decided_at=JUNE,
                            released_at=JUNE)
        decision.action_points.append(ActionPoint(text="Write a Makaton plan",
                                                  due_on=date(2026, 12, 1)))
        db.session.add(decision)
        made = None
        if award:
            made = Award(application_id=application_id, scheme_key=TEST_SCHEME,
                         setting_id=application.setting_id,
                         local_authority_id=application.setting.local_authority_id,
                         outcome_key="one_year", awarded_on=date(2026, 6, 15),
                         expires_on=date(2027, 6, 14))
            db.session.add(made)
        db.session.commit()
        return made.id if made else None


# -- starting ----------------------------------------------------------------------------------


def test_an_applicant_starts_a_draft_in_the_open_window(app, people):
    application_id = act(app, applications.start, TEST_SCHEME, user=people.senco, now=JUNE,
                         district="Chapeltown")
    with app.app_context():
        application = db.session.get(Application, application_id)
        assert application.status == "draft"
        assert (application.window_opens, application.deadline) == (date(2026, 1, 1),
                                                                     date(2026, 12, 31))
        assert application.district == "Chapeltown"
        assert application.setting_id == people.setting
    assert actions(app, application_id) == ["application.started"]


def test_a_closed_window_is_refused_saying_when_the_next_opens(app, people):
    with pytest.raises(Refused, match="The next window opens on Tuesday 1 September 2026"):
        act(app, applications.start, "inclusion_kite_mark", user=people.senco, now=JUNE)
    assert count(app, Application) == 0


def test_open_windows_lists_the_schemes_open_that_day(app):
    with app.app_context():
        assert {scheme.key for scheme, _, _ in applications.open_windows(date(2026, 6, 15))} \
            == {TEST_SCHEME}
        assert "inclusion_kite_mark" in {
            scheme.key for scheme, _, _ in applications.open_windows(date(2026, 10, 1))}


def test_a_second_open_application_for_the_same_scheme_is_refused(app, people):
    started(app, people)
    with pytest.raises(Refused, match="already has an application"):
        act(app, applications.start, TEST_SCHEME, user=people.manager, now=JUNE)
    assert count(app, Application) == 1


def test_after_withdrawing_the_setting_can_start_again(app, people):
    first = started(app, people)
    act(app, applications.withdraw, first, reason="Not ready", user=people.senco, now=JUNE)
    assert started(app, people) != first


@pytest.mark.parametrize("who", ["staff", "nobody", "admin"])
def test_only_applicants_may_start(app, people, who):
    with pytest.raises(Refused, match="manager or owner, SENCO or childminder"):
        act(app, applications.start, TEST_SCHEME, user=getattr(people, who), now=JUNE)


def test_an_unknown_scheme_is_refused(app, people):
    with pytest.raises(Refused, match="no award scheme"):
        act(app, applications.start, "no_such_scheme", user=people.senco, now=JUNE)


# -- editing a draft ---------------------------------------------------------------------------


def test_self_assessment_is_saved_and_replaced(app, people):
    application_id = started(app, people)
    act(app, applications.save_self_assessment, application_id, "families", 0, "Early days",
        user=people.senco, now=JUNE)
    act(app, applications.save_self_assessment, application_id, "families", 2, "Much better",
        user=people.manager, now=JUNE)
    with app.app_context():
        answer = db.session.get(Application, application_id).answer_for("families")
        assert (answer.score, answer.narrative) == (2, "Much better")


@pytest.mark.parametrize("key, score, message", [
    ("families", 7, "Choose a score from the scale"),
    ("nonsense", 1, "no criterion called"),
])
def test_bad_self_assessments_are_refused(app, people, key, score, message):
    application_id = started(app, people)
    with pytest.raises(Refused, match=message):
        act(app, applications.save_self_assessment, application_id, key, score, "x",
            user=people.senco, now=JUNE)


def test_saving_neither_a_score_nor_a_narrative_is_refused_and_saves_nothing(
        app, people, browser, auth):
    application_id = started(app, people, now=None)  # the pages work in real time
    with pytest.raises(Refused, match="Choose how well your setting meets this criterion"):
        act(app, applications.save_self_assessment, application_id, "families", None, "  ",
            user=people.senco, now=JUNE)
    with app.app_context():
        senco_email = db.session.get(User, people.senco).email
    auth.sign_in(senco_email)
    url = f"/awards/applications/{application_id}/criteria/families"
    html = browser.submit(url, {"narrative": ""}).get_data(as_text=True)
    assert "There is a problem" in html
    assert "Choose how well your setting meets this criterion, or write your narrative" in html
    assert "has been saved" not in html
    with app.app_context():
        assert db.session.get(Application, application_id).answer_for("families") is None
    assert actions(app, application_id) == ["application.started"]


def test_another_settings_senco_and_staff_cannot_edit(app, people):
    application_id = started(app, people)
    for who in (people.other_senco, people.staff):
        with pytest.raises(Refused, match="Only the setting's"):
            act(app, applications.add_text_evidence, application_id, "families", "Text", "",
                user=who, now=JUNE)
    assert actions(app, application_id) == ["application.started"]


def test_empty_text_evidence_is_refused(app, people):
    application_id = started(app, people)
    with pytest.raises(Refused, match="Enter the evidence"):
        act(app, applications.add_text_evidence, application_id, "families", "  ", "",
            user=people.senco, now=JUNE)


def test_evidence_is_removed_with_its_file(app, people):
    application_id = started(app, people)
    evidence_id = act(app, applications.add_file_evidence, application_id, "families",
                      "plan.pdf", PDF_BYTES, "application/pdf", "Our plan", user=people.senco,
                      now=JUNE)
    with app.app_context():
        path = evidence.path_of(db.session.get(Evidence, evidence_id).stored_name)
    assert path.read_bytes() == PDF_BYTES
    act(app, applications.remove_evidence, evidence_id, user=people.senco, now=JUNE)
    assert not path.exists() and count(app, Evidence) == 0
    assert actions(app, application_id)[-1] == "application.evidence_removed"


def test_a_file_needs_a_caption(app, people):
    application_id = started(app, people)
    with pytest.raises(Refused, match="Enter a caption"):
        act(app, applications.add_file_evidence, application_id, "families", "plan.pdf",
            PDF_BYTES, "application/pdf", "", user=people.senco, now=JUNE)


def test_edits_after_the_deadline_are_refused_with_the_date(app, people):
    application_id = started(app, people)
    with pytest.raises(Refused, match="deadline for this application was Thursday 31 "
                       "December 2026"):
        act(app, applications.save_self_assessment, application_id, "families", 1, "Late",
            user=people.senco, now=NEW_YEAR)


def test_the_last_day_counts_in_london_time(app, people):
    application_id = started(app, people)
    last_evening = datetime(2026, 12, 31, 23, 45, tzinfo=UTC)  # GMT: still the 31st
    act(app, applications.save_self_assessment, application_id, "families", 1, "Just in time",
        user=people.senco, now=last_evening)


# -- submitting ---------------------------------------------------------------------------------


def test_submit_names_the_criteria_still_missing(app, people):
    application_id = started(app, people)
    act(app, applications.save_self_assessment, application_id, "families", 1, "",
        user=people.senco, now=JUNE)  # a score alone is not enough
    with pytest.raises(Refused) as refused:
        act(app, applications.submit, application_id, user=people.senco, now=JUNE)
    assert "“Partnership with families”" in str(refused.value)
    assert "“The communication environment”" in str(refused.value)
    assert status_of(app, application_id) == "draft"


def test_submitting_emails_every_applicant_of_the_setting_and_locks_it(app, people, mailbox):
    application_id = completed(app, people)
    act(app, applications.submit, application_id, user=people.senco, now=JUNE)
    assert status_of(app, application_id) == "submitted"
    sent = mailbox()
    assert sorted(message["To"].addresses[0].addr_spec for message in sent) == [
        "manager@example.org", "senco@example.org"]
    assert "has been submitted by Priya Senco" in body_of(sent[0])
    assert f"/awards/applications/{application_id}" in body_of(sent[0])
    with pytest.raises(Refused, match="has been submitted, so it can no longer be changed"):
        act(app, applications.add_text_evidence, application_id, "families", "More", "",
            user=people.senco, now=JUNE)
    with pytest.raises(Refused, match="has been submitted"):
        act(app, applications.submit, application_id, user=people.senco, now=JUNE)
    assert actions(app, application_id)[-1] == "application.submitted"


def test_submitting_after_the_deadline_is_refused(app, people, mailbox):
    application_id = completed(app, people)
    with pytest.raises(Refused, match="deadline for this application was"):
        act(app, applications.submit, application_id, user=people.senco, now=NEW_YEAR)
    assert status_of(app, application_id) == "draft" and mailbox() == []


def test_an_extension_allows_a_late_submission(app, people):
    application_id = completed(app, people)
    act(app, applications.extend_deadline, application_id, date(2027, 1, 15),
        user=people.admin, as_name="admin", now=datetime(2026, 12, 20, tzinfo=UTC))
    act(app, applications.submit, application_id, user=people.senco,
        now=datetime(2027, 1, 15, 20, 0, tzinfo=UTC))
    assert status_of(app, application_id) == "submitted"
    assert "application.deadline_extended" in actions(app, application_id)


@pytest.mark.parametrize("who, new_day, message", [
    ("senco", date(2027, 1, 15), "Only an administrator"),
    ("admin", date(2026, 12, 31), "must be after today and after the window closes"),
    ("admin", date(2026, 6, 1), "must be after today"),
])
def test_extension_refusals(app, people, who, new_day, message):
    application_id = started(app, people)
    with pytest.raises(Refused, match=message):
        act(app, applications.extend_deadline, application_id, new_day,
            user=getattr(people, who), as_name="admin", now=JUNE)


def test_only_a_draft_can_be_extended(app, people):
    application_id = completed(app, people)
    act(app, applications.submit, application_id, user=people.senco, now=JUNE)
    with pytest.raises(Refused, match="Only a draft"):
        act(app, applications.extend_deadline, application_id, date(2027, 2, 1),
            user=people.admin, as_name="admin", now=JUNE)


# -- withdrawing --------------------------------------------------------------------------------


@pytest.mark.parametrize("submitted", [False, True])
def test_drafts_and_submitted_applications_can_be_withdrawn(app, people, mailbox, submitted):
    application_id = completed(app, people)
    if submitted:
        act(app, applications.submit, application_id, user=people.senco, now=JUNE)
        mailbox()
        app.extensions["trainer.mail.memory"].clear()
    act(app, applications.withdraw, application_id, reason="Staff changes", user=people.manager,
        now=JUNE)
    assert status_of(app, application_id) == "withdrawn"
    sent = mailbox()
    assert len(sent) == 2 and "Reason given: Staff changes" in body_of(sent[0])
    with pytest.raises(Refused, match="already been withdrawn"):
        act(app, applications.withdraw, application_id, reason="", user=people.senco, now=JUNE)
    with pytest.raises(Refused, match="withdrawn, so it can no longer be changed"):
        act(app, applications.submit, application_id, user=people.senco, now=JUNE)


def test_a_decided_application_cannot_be_withdrawn(app, people):
    application_id = completed(app, people)
    decide(app, application_id)
    with pytest.raises(Refused, match="decided this application, so it cannot be withdrawn"):
        act(app, applications.withdraw, application_id, reason="", user=people.senco, now=JUNE)


def test_staff_cannot_withdraw(app, people):
    application_id = started(app, people)
    with pytest.raises(Refused, match="Only the setting's applicants"):
        act(app, applications.withdraw, application_id, reason="", user=people.staff, now=JUNE)
    assert status_of(app, application_id) == "draft"


# -- renewing -----------------------------------------------------------------------------------


def test_a_renewal_is_pre_filled_with_answers_and_copies_of_files(app, people):
    previous = completed(app, people)
    act(app, applications.add_file_evidence, previous, "families", "plan.pdf", PDF_BYTES,
        "application/pdf", "Our plan", user=people.senco, now=JUNE)
    act(app, applications.submit, previous, user=people.senco, now=JUNE)
    decide(app, previous)
    renewal = act(app, applications.renew, previous, user=people.manager,
                  now=JUNE + timedelta(days=30))
    with app.app_context():
        old, new = db.session.get(Application, previous), db.session.get(Application, renewal)
        assert new.status == "draft" and new.renewal_of_id == previous
        assert new.answer_for("families").narrative == "Families plan support with us."
        assert [item.text for item in new.evidence_for("environment")] == [
            "Quiet corners in every room."]
        old_file, new_file = old.evidence_for("families")[0], new.evidence_for("families")[0]
        assert new_file.stored_name != old_file.stored_name
        assert new_file.original_name == "plan.pdf" and new_file.caption == "Our plan"
        assert evidence.path_of(new_file.stored_name).read_bytes() == PDF_BYTES
        assert applications.missing_criteria(new) == []
    # Removing the renewal's copy leaves the decided application's file alone.
    act(app, applications.remove_evidence, new_file.id, user=people.senco, now=JUNE)
    with app.app_context():
        assert evidence.path_of(old_file.stored_name).exists()
    assert actions(app, renewal)[0] == "application.renewal_started"


def test_renewal_refusals(app, people):
    draft = started(app, people)
    with pytest.raises(Refused, match="only start from an application the panel has decided"):
        act(app, applications.renew, draft, user=people.senco, now=JUNE)
    act(app, applications.withdraw, draft, reason="", user=people.senco, now=JUNE)
    decided = completed(app, people)
    decide(app, decided, award=False)
    with pytest.raises(Refused, match="Only the setting's applicants"):
        act(app, applications.renew, decided, user=people.other_senco, now=JUNE)
    started(app, people)
    with pytest.raises(Refused, match="already has an application"):
        act(app, applications.renew, decided, user=people.senco, now=JUNE)


# -- the staff audit ---------------------------------------------------------------------------


def test_staff_audit_answers_are_replaced_and_aggregated(app, people, make_user):
    second = make_staff(make_user, people.setting, "second@example.org")[0]
    elsewhere = make_staff(make_user, people.other, "elsewhere@example.org")[0]
    audit_needs(app, people.staff, 1, 1)
    audit_needs(app, people.staff, 3, 1)
    audit_needs(app, second, 2, 1)
    audit_needs(app, elsewhere, 1, 3)
    assert count(app, StaffAuditAnswer) == 6
    with app.app_context():
        scheme = applications.get_scheme(TEST_SCHEME)
        needs = staff_audit.setting_needs(people.setting, scheme)
        assert [(row.criterion.key, row.mean_need, row.answered_count) for row in needs] == [
            ("families", 2.5, 2), ("environment", 1.0, 2)]
        assert staff_audit.staff_answers(db.session.get(User, people.staff), TEST_SCHEME) \
            == {"families": 3, "environment": 1}
        # Someone who leaves the setting stops counting towards its needs.
        db.session.get(User, second).setting_id = None
        db.session.commit()
        needs = staff_audit.setting_needs(people.setting, scheme)
        assert (needs[0].mean_need, needs[0].answered_count) == (3.0, 1)


@pytest.mark.parametrize("who, needs, message", [
    ("staff", {"families": 2}, "Choose how you feel about “The communication environment”"),
    ("staff", {"families": 4, "environment": 1}, "Partnership with families"),
    ("nobody", {"families": 1, "environment": 1}, "Add your setting to your profile"),
])
def test_staff_audit_refusals(app, people, who, needs, message):
    with pytest.raises(Refused, match=message):
        act(app, staff_audit.save_staff_audit, scheme_key=TEST_SCHEME, needs=needs,
            user=getattr(people, who))
    assert count(app, StaffAuditAnswer) == 0


def test_recommended_sessions_match_the_weakest_criteria(app, people):
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    with app.app_context():
        parents = factories.course("Working with parents", topics=["working_with_parents"])
        talk = factories.course("Talking rooms", topics=["speech_language_communication"])
        later = factories.training_session(soon + timedelta(days=5), course_=parents)
        first = factories.training_session(soon, course_=parents)
        factories.training_session(soon, course_=parents, status=SessionStatus.CANCELLED)
        factories.training_session(soon - timedelta(days=20), course_=parents)  # past
        factories.training_session(soon, course_=parents,
                                   booking_closes_at=soon - timedelta(days=15))
        factories.training_session(soon, course_=parents,
                                   local_authority_id=factories.local_authority("Bradford").id)
        factories.training_session(soon, course_=talk)  # a criterion staff are confident in
        db.session.commit()
        expected = [first.id, later.id]
    with app.app_context():
        scheme = applications.get_scheme(TEST_SCHEME)
        assert staff_audit.recommended_sessions(people.setting, scheme,
                                                 datetime.now(UTC)) == []
    audit_needs(app, people.staff, 2, 1)
    with app.app_context():
        found = staff_audit.recommended_sessions(people.setting, scheme, datetime.now(UTC))
        assert [item.id for item in found] == expected


# -- the pages ---------------------------------------------------------------------------------


def sign_in(auth, email: str) -> None:
    """Sign in as ``email``, signing out whoever was signed in first."""
    if getattr(auth, "signed_in_as", None):
        auth.sign_out()
    auth.sign_in(email)
    auth.signed_in_as = email


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.mark.parametrize("email, expected", [
    ("nobody@example.org", "Add your setting to your profile"),
    ("staff@example.org", "applies for awards. You can help"),
    ("senco@example.org", "Your setting has not applied for an award yet."),
])
def test_my_setting_answers_everyone_signed_in(browser, auth, people, email, expected):
    sign_in(auth, email)
    page = browser.get("/awards/setting")
    assert page.status_code == 200 and expected in text_of(page)


def test_the_journey_through_the_pages(app, browser, auth, people, mailbox):
    sign_in(auth, "senco@example.org")
    assert "Start an application for the Test inclusion award" in text_of(
        browser.get("/awards/setting"))
    response = browser.submit("/awards/schemes/test_award/apply", {"district": "Chapeltown"})
    url = response.headers["Location"]
    application_id = int(url.rsplit("/", 1)[-1])
    page = text_of(browser.get(url))
    deadline = day(date(applications.london_today().year, 12, 31))
    assert f"Submit by <strong>{deadline}</strong>" in page
    assert page.count("Not started") == 2 and "No staff have filled in the audit yet" in page

    criterion = f"{url}/criteria/families"
    saved = browser.submit(criterion, {"score": "1", "narrative": ""}, follow_redirects=True)
    assert "Your self-assessment for “Partnership with families” has been saved." in \
        text_of(saved)
    assert "In progress" in text_of(browser.get(url))
    browser.submit(criterion, {"score": "1", "narrative": "Families plan with us."})

    check = text_of(browser.get(f"{url}/submit"))
    assert "You cannot submit yet" in check and "The communication environment" in check
    refused = text_of(browser.submit(f"{url}/submit", {}))
    assert "There is a problem" in refused and "“The communication environment”" in refused

    browser.submit(f"{url}/criteria/environment/text",
                   {"evidence_text": "Quiet corners.", "text_caption": "Rooms"},
                   form_url=f"{url}/criteria/environment")
    assert text_of(browser.get(url)).count("Completed") == 2
    done = text_of(browser.submit(f"{url}/submit", {}, follow_redirects=True))
    assert "Your application has been submitted" in done and "Submitted on" in done
    assert len(mailbox()) == 2
    locked = text_of(browser.get(criterion))
    assert "has been submitted, so it can no longer be changed" in locked
    assert "Save self-assessment" not in locked

    # The setting page now links to the application instead of starting another.
    page = text_of(browser.get("/awards/schemes/test_award/apply"))
    assert f'href="/awards/applications/{application_id}"' in page


def test_form_errors_are_shown_in_a_summary(browser, auth, app, people):
    application_id = started(app, people, now=None)  # the pages work in real time
    sign_in(auth, "senco@example.org")
    url = f"/awards/applications/{application_id}/criteria/families"
    page = text_of(browser.submit(f"{url}/text", {"evidence_text": ""}, form_url=url))
    assert "There is a problem" in page and 'href="#evidence_text"' in page
    page = text_of(browser.submit(url, {"score": "9", "narrative": "x"}))
    assert "Choose a score from the scale" in page and 'href="#score-0"' in page


def test_a_decided_application_shows_the_outcome_award_and_renewal(app, browser, auth,
                                                                     people):
    application_id = completed(app, people)
    decide(app, application_id)
    sign_in(auth, "senco@example.org")
    page = text_of(browser.get(f"/awards/applications/{application_id}"))
    assert "Awarded for 1 year with action points" in page
    assert "Warm partnership with families." in page
    assert "Write a Makaton plan" in page and "Tuesday 1 December 2026" in page
    assert "valid until <strong>Monday 14 June 2027</strong>" in page
    assert "Start your renewal" in page
    response = browser.submit(f"/awards/applications/{application_id}/renew", {},
                              form_url=f"/awards/applications/{application_id}")
    renewal = text_of(browser.get(response.headers["Location"]))
    assert "Your renewal has been started" in renewal and renewal.count("Completed") == 2


def test_people_without_a_right_get_403_and_unknown_things_404(app, browser, auth, people):
    application_id = started(app, people)
    url = f"/awards/applications/{application_id}"
    sign_in(auth, "other@example.org")
    for path in (url, f"{url}/criteria/families", f"{url}/submit", f"{url}/withdraw"):
        assert browser.get(path).status_code == 403, path
    sign_in(auth, "staff@example.org")
    assert browser.get("/awards/schemes/test_award/apply").status_code == 403
    assert browser.submit(f"{url}/withdraw", {"reason": ""},
                          form_url="/awards/setting").status_code == 403
    sign_in(auth, "senco@example.org")
    assert browser.get(f"{url}/criteria/nonsense").status_code == 404
    assert browser.get("/awards/applications/999999").status_code == 404
    assert browser.get("/awards/schemes/nonsense/apply").status_code == 404
    assert browser.get("/awards/staff-audit/nonsense").status_code == 404


def test_withdrawing_through_the_pages(app, browser, auth, people):
    application_id = started(app, people)
    sign_in(auth, "manager@example.org")
    url = f"/awards/applications/{application_id}/withdraw"
    done = text_of(browser.submit(url, {"reason": "Not this year"}, follow_redirects=True))
    assert "Your application has been withdrawn." in done and "Withdrawn" in done
    assert "cannot be withdrawn" in text_of(browser.get(url))


def test_the_staff_audit_page_saves_and_shows_on_the_application(app, browser, auth, people):
    application_id = started(app, people)
    sign_in(auth, "staff@example.org")
    url = "/awards/staff-audit/test_award"
    missing = text_of(browser.submit(url, {"need_families": "3"}))
    assert "Choose how you feel about “The communication environment”" in missing
    saved = browser.submit(url, {"need_families": "3", "need_environment": "1"},
                           follow_redirects=True)
    assert "your answers have been saved" in text_of(saved)
    assert "Answering again replaces your earlier answers" in text_of(browser.get(url))
    sign_in(auth, "senco@example.org")
    page = text_of(browser.get(f"/awards/applications/{application_id}"))
    assert "Partnership with families</th>" in page and ">Need training (3.0)<" in page
    assert ">Confident (1.0)<" in page
    sign_in(auth, "nobody@example.org")
    assert "Add your setting to your profile" in text_of(browser.get(url))
