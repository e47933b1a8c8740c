"""What the built-in plugins add to a local authority's dashboard (``trainer_page_panels`` with
``page="la_dashboard"``): confidence change with small numbers suppressed for LA officers,
current award holders, and people waiting (counts only); and the page without any plugin."""

from __future__ import annotations

from datetime import timedelta

from awards.models import Award
from tests import factories
from tests.test_awards_register import award_for
from tests.test_la_dashboard import (
    ADMIN,
    BRADFORD_OFFICER,
    LEEDS_OFFICER,
    build_area,
    main_text,
    signed_in,
    table_rows,
    text,
)
from trainer import times
from trainer.db import db, utcnow
from trainer.people import Role
from trainer.plugins.confidence.models import (
    Rating,
    Respondent,
    Response,
    Statement,
    StatementKind,
)
from trainer.plugins.waiting_list.models import EntryStatus, WaitlistEntry

PANELS = ("Confidence before and after training", "Award holders", "People on waiting lists")


def answers(app, session_id: int, la_id: int, before_after: list[tuple[int, int | None]],
            make_user, prefix: str = "rater") -> None:
    """People from ``la_id`` rating the session's one confidence statement before and
    (unless ``None``) after."""
    with app.app_context():
        from trainer.catalogue import TrainingSession

        course_id = db.session.get(TrainingSession, session_id).course_id
        statement = Statement(course_id=course_id, kind=StatementKind.CONFIDENCE,
                              text="I feel confident supporting autistic children")
        db.session.add(statement)
        db.session.commit()
        statement_id = statement.id
    for number, (pre, post) in enumerate(before_after):
        user_id = make_user(f"{prefix}{number}@example.org", name=f"Rater {number}")[0]
        with app.app_context():
            respondent = Respondent(training_session_id=session_id, user_id=user_id,
                                    local_authority_id=la_id)
            db.session.add(respondent)
            db.session.flush()
            for stage, value in (("pre", pre), ("post", post)):
                if value is None:
                    continue
                response = Response(respondent_id=respondent.id, stage=stage)
                db.session.add(response)
                db.session.flush()
                db.session.add(Rating(response_id=response.id, statement_id=statement_id,
                                      value=value))
            db.session.commit()


def test_la_officers_see_small_numbers_suppressed(app, make_user):
    area = build_area(app, make_user)
    answers(app, area.autism_session, area.leeds, [(2, 4), (3, 5), (2, 2)], make_user)
    officer = signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                        local_authority_id=area.leeds)
    page = main_text(text(officer.get(f"/la/{area.leeds}/")))
    assert "Confidence before and after training" in page
    assert "Fewer than 5 people from Leeds have answered, so no figures are shown." in page
    # An administrator sees the figures themselves.
    admin = signed_in(app, make_user, ADMIN, [Role.ADMIN])
    html = text(admin.get(f"/la/{area.leeds}/"))
    rows = {row[0]: row for row in table_rows(html, "la-confidence-table")}
    assert rows["Confidence: before to after"] == [
        "Confidence: before to after", "3", "0% → 67%", "67%", "+2"]


def test_enough_people_show_figures_and_thin_rows_stay_hidden(app, make_user):
    area = build_area(app, make_user)
    # Six people answered before; only three of them after.
    answers(app, area.autism_session, area.leeds,
            [(2, 4), (3, 5), (2, 2), (1, None), (3, None), (4, None)], make_user)
    officer = signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                        local_authority_id=area.leeds)
    html = text(officer.get(f"/la/{area.leeds}/"))
    rows = {row[0]: row for row in table_rows(html, "la-confidence-table")}
    assert rows["Confidence: before to after"][1:] == ["fewer than 5 people"]
    assert rows["Confidence: before to follow-up"][1:] == ["nobody answered both yet"]
    assert "Rater" not in html

    answers(app, area.speech_session, area.leeds, [(1, 4), (2, 4), (3, 4)], make_user,
            prefix="speech")
    html = text(officer.get(f"/la/{area.leeds}/"))
    rows = {row[0]: row for row in table_rows(html, "la-confidence-table")}
    assert rows["Confidence: before to after"] == [
        "Confidence: before to after", "6", "0% → 83%", "83%", "+2"]


def test_other_areas_answers_do_not_count(app, make_user):
    area = build_area(app, make_user)
    answers(app, area.autism_session, area.bradford, [(2, 4)] * 6, make_user)
    admin = signed_in(app, make_user, ADMIN, [Role.ADMIN])
    page = main_text(text(admin.get(f"/la/{area.leeds}/")))
    assert "Nobody from Leeds has answered a questionnaire" in page


def test_award_holders_are_listed(app, make_user):
    area = build_area(app, make_user)
    award_id = award_for(app, area.acorn)
    with app.app_context():
        expires = times.day(db.session.get(Award, award_id).expires_on)
    officer = signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                        local_authority_id=area.leeds)
    html = text(officer.get(f"/la/{area.leeds}/"))
    [row] = table_rows(html, "la-awards-table")
    assert row == ["Acorn Day Nursery", "Test inclusion award", "Awarded for 2 years", expires]
    assert f"/awards/register?local_authority={area.leeds}" in html
    bradford = signed_in(app, make_user, BRADFORD_OFFICER, [Role.LA_OFFICER],
                         local_authority_id=area.bradford)
    page = main_text(text(bradford.get(f"/la/{area.bradford}/")))
    assert "No setting in Bradford holds an award at the moment." in page


def test_people_waiting_are_counted_not_named(app, make_user):
    area = build_area(app, make_user)
    with app.app_context():
        upcoming = factories.training_session(utcnow() + timedelta(days=20), capacity=1,
                                              course_=factories.course("Sensory play"))
        db.session.commit()
        upcoming_id = upcoming.id
    with app.app_context():
        for person, status in (("alice", EntryStatus.WAITING), ("cara", EntryStatus.OFFERED),
                               ("bob", EntryStatus.LEFT), ("fred", EntryStatus.WAITING)):
            db.session.add(WaitlistEntry(training_session_id=upcoming_id,
                                         user_id=area.people[person], status=status))
        db.session.commit()
    admin = signed_in(app, make_user, ADMIN, [Role.ADMIN])
    html = text(admin.get(f"/la/{area.leeds}/"))
    page = main_text(html)
    assert "2 people from Leeds are on the waiting list of 1 training session now." in page
    [row] = table_rows(html, "la-waiting-table")
    assert row[0] == "Sensory play" and row[2] == "2"
    section = html[html.index('id="la-waiting-table"'):]
    section = section[:section.index("</table>")]
    assert "Alice" not in section and "Cara" not in section
    bradford = main_text(text(admin.get(f"/la/{area.bradford}/")))
    assert "1 person from Bradford is on the waiting list of 1 training session now." in bradford


def test_the_dashboard_works_with_every_plugin_disabled(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["confidence", "awards", "waiting_list", "newsletter"])
    area = build_area(app, make_user)
    officer = signed_in(app, make_user, LEEDS_OFFICER, [Role.LA_OFFICER],
                        local_authority_id=area.leeds)
    html = text(officer.get(f"/la/{area.leeds}/"))
    assert "Leeds: take-up of training" in html
    assert len(table_rows(html, "settings-table")) == 2
    for title in PANELS:
        assert title not in html
    assert officer.get(f"/la/{area.leeds}/named.csv").status_code == 200


def test_every_panel_shows_with_the_plugins_loaded(app, make_user):
    area = build_area(app, make_user)
    admin = signed_in(app, make_user, ADMIN, [Role.ADMIN])
    html = text(admin.get(f"/la/{area.leeds}/"))
    headings = [heading for heading in PANELS if f">{heading}</h2>" in html]
    assert headings == list(PANELS)
