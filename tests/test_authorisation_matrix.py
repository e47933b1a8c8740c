"""Deny by default, object by object: every route, every role, the expected answer.

``PROBES`` names every route in ``app.url_map`` with its URL arguments filled from a world
(:mod:`tests.authorisation_world`) in which the objects belong to somebody else: the owner's
bookings, answers, waiting-list place and award applications, partner A's course and sessions,
LA A's dashboard and bespoke request, the panel's application and its evidence. For each route
it states the answer each role gets: the page (``OK``), another page (``ELSEWHERE``), the
sign-in page (``LOGIN``), ``DENIED`` (403) or ``HIDDEN`` (404). A route with no probe fails
the suite, so nobody adds a page without deciding who may use it.

Each role is signed in once and walks every probe; refused form posts carry a valid CSRF token
and the form a rightful user would send, and must leave every table as it was. Where a GET
is refused to every role of the matrix, a rightful owner must get the page, so a probe cannot
pass by refusing everybody.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, fields

import pytest
import sqlalchemy as sa
from flask import url_for

from tests.authorisation_world import PEOPLE, World, build_world
from tests.awards_support import PDF_BYTES, TEST_SCHEME
from tests.conftest import PASSWORD, Auth, Browser, csrf_token
from trainer.db import db

# -- answers --------------------------------------------------------------------------------------

OK = 200
ELSEWHERE = "redirect"  # a redirect to some page other than signing in
LOGIN = "login"  # a redirect to the sign-in page
DENIED = 403
HIDDEN = 404
READ_ONLY = "read-only"  # the page, and a post to it changes nothing
REFUSALS = {LOGIN, DENIED, HIDDEN}

# The roles of the matrix: anonymous, a practitioner of another setting (a SENCO, so an
# applicant of their own), a trainer of another partner, an LA officer of another LA, panel
# members not assigned or conflicted, and an admin. Then the rightful ones.
MATRIX = ("anonymous", "practitioner", "trainer_b", "la_officer_b", "moderator_unassigned",
          "moderator_conflicted", "admin")
RIGHTFUL = ("owner", "trainer_a", "la_officer_a", "moderator_assigned", "moderator_undeclared")
ROLES = MATRIX + RIGHTFUL
SIGNED_IN = ROLES[1:]
TRAINERS = ("trainer_a", "trainer_b")
LA_OFFICERS = ("la_officer_a", "la_officer_b")
MODERATORS = ("moderator_unassigned", "moderator_conflicted", "moderator_assigned",
              "moderator_undeclared")


# Who must never see the owner's name or email address on a page (the owner shares nothing
# with their LA): everybody but the owner, admins, and the trainers of the owner's sessions
# (registers), and the panel member assessing the owner's application.
NOT_TOLD = ("anonymous", "practitioner", "trainer_b", "la_officer_b", "moderator_unassigned",
            "moderator_conflicted", "la_officer_a", "moderator_undeclared")


def answers(default, anonymous=LOGIN, **roles) -> dict[str, object]:
    """Every role's answer: ``default`` for the signed in, ``anonymous``, then exceptions."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"no such roles: {unknown}"
    table = dict.fromkeys(SIGNED_IN, default)
    table["anonymous"] = anonymous
    table.update(roles)
    return table


def everyone(answer=OK) -> dict[str, object]:
    return answers(answer, anonymous=answer)


def only(*roles: str, answer=OK, others=DENIED, **exceptions) -> dict[str, object]:
    """``roles`` get ``answer``, every other signed-in role ``others``, visitors sign in."""
    return answers(others, **(dict.fromkeys(roles, answer) | exceptions))


ADMIN = only("admin")
MANAGERS = only("admin", *TRAINERS)
PARTNER_A = only("admin", "trainer_a")  # partner A's course and sessions
OWNER = only("owner", others=HIDDEN)  # a booking page: anybody else's is not found
DERIVED = object()  # post as every role the GET refuses, expecting the same refusal


@dataclass(frozen=True)
class Probe:
    """One URL of one route and each role's answer.

    ``get`` and ``post`` map roles to answers (``None``: the method is not probed). A post
    goes to the roles named, with ``data``; whatever the answer, nothing may change. The
    default post goes to every role the GET refuses. ``nobody`` marks a probe of a missing
    object or a wrong token, which everybody is refused; ``keyed`` one whose secret token
    is the key, so whoever holds it sees the person's page."""

    endpoint: str
    args: Callable[[World], dict] = lambda world: {}
    get: dict | None = None
    post: object = DERIVED
    data: Callable[[World], dict] | None = None
    nobody: bool = False
    keyed: bool = False  # the secret token in the address is the key (shown to anybody)

    def post_answers(self, methods: set[str]) -> dict:
        """The roles to post as: those refused, and those shown a read-only page."""
        if "POST" not in methods:
            return {}
        table = self.get if self.post is DERIVED else self.post
        return {role: answer for role, answer in (table or {}).items()
                if answer in REFUSALS or answer == READ_ONLY or self.nobody}


WORLD_NAMES = {item.name for item in fields(World)}


def _args(**names) -> Callable[[World], dict]:
    """URL arguments: a name of something in the world (``booking_id="booking"``), a
    function of the world, or the value itself. Arguments the rule lacks go in the query."""

    def read(world: World) -> dict:
        return {key: value(world) if callable(value)
                else getattr(world, value) if value in WORLD_NAMES else value
                for key, value in names.items()}

    return read


WRONG_TOKEN = "x" * 43


def _ratings(world: World) -> dict:
    return {f"s{number}": "5" for number in range(1, 40)} | {"recorded_how": "paper"}


def _file(world: World) -> dict:
    return {"file": (io.BytesIO(PDF_BYTES), "sneaky.pdf", "application/pdf"),
            "file_caption": "Not ours"}


CANCEL = {"reason": "cannot_attend"}
REASON = {"reason": "Moved away"}
TEXT = {"text": "A statement of somebody else's", "kind": "confidence"}
ASSESSMENT = {"score_families": "2", "comment_families": "Fine", "score_environment": "2",
              "comment_environment": "Fine", "action": "submit"}
DECISION = {"outcome": "two_years", "reasons": "Agreed."}
CAMPAIGN = {"subject": "Changed", "body": "Changed body"}


PROBES: list[Probe] = [
    # -- pages, signing in and the account (one's own) ---------------------------------------
    Probe("static", _args(filename="trainer.css"), everyone()),
    Probe("pages.home", get=answers(ELSEWHERE, anonymous=OK)),
    Probe("pages.accessibility", get=everyone()),
    Probe("pages.privacy", get=everyone()),
    Probe("pages.healthz", get=everyone()),
    Probe("pages.govuk_assets", _args(filename="manifest.json"), everyone()),
    Probe("pages.dashboard", get=answers(OK)),
    Probe("auth.register", get=answers(ELSEWHERE, anonymous=OK), post={}),
    Probe("auth.check_email", get=everyone()),
    Probe("auth.verify_email", _args(token=WRONG_TOKEN), everyone(400), nobody=True),
    Probe("auth.resend_confirmation", get=everyone(), post={}),
    Probe("auth.sign_in", get=answers(ELSEWHERE, anonymous=OK), post={}),
    Probe("auth.sign_out", post={}),
    Probe("auth.forgotten_password", get=everyone(), post={}),
    Probe("auth.reset_password", _args(token=WRONG_TOKEN), everyone(400), nobody=True,
          data=lambda world: {"password": "a-new-password-1", "confirm": "a-new-password-1"}),
    Probe("account.profile", get=answers(OK)),
    Probe("account.details", get=answers(OK)),
    Probe("account.choose_setting", get=answers(OK)),
    Probe("account.new_setting", get=answers(OK)),
    Probe("account.change_email", get=answers(OK)),
    Probe("account.confirm_email", _args(token=WRONG_TOKEN), everyone(400), nobody=True),
    Probe("account.change_password", get=answers(OK)),
    Probe("account.your_data", get=answers(OK)),
    Probe("account.download_data", get=answers(OK)),
    Probe("account.download_data_csv", get=answers(OK)),
    Probe("account.erase", get=answers(OK), data=lambda world: {"password": PASSWORD}),
    Probe("account.erased", get=everyone()),
    # -- the catalogue and the API: public, whoever owns the session --------------------------
    Probe("catalogue.find_training", get=everyone()),
    Probe("catalogue.course_page", _args(course_id="course_a"), everyone()),
    Probe("catalogue.session_page", _args(session_id="session_a"), everyone()),
    Probe("catalogue.session_ics", _args(session_id="session_a"), everyone()),
    Probe("catalogue.feed", get=everyone()),
    Probe("api.sessions", get=everyone()),
    Probe("api.session", _args(session_id="session_a"), everyone()),
    Probe("api.openapi", get=everyone()),
    # -- bookings: the owner's only; anybody else's is not found --------------------------------
    Probe("bookings.my_training", get=answers(OK)),
    Probe("bookings.book", _args(session_id="session_a"), answers(OK)),
    Probe("bookings.confirmed", _args(booking_id="booking"), OWNER),
    Probe("bookings.booking_page", _args(booking_id="booking"), OWNER),
    Probe("bookings.booking_page", _args(booking_id="booking_past"), OWNER),
    Probe("bookings.invite", _args(booking_id="booking"), OWNER),
    Probe("bookings.cancel", _args(booking_id="booking"), OWNER, data=lambda world: CANCEL),
    Probe("bookings.cancelled", _args(booking_id="booking"),
          only("owner", answer=ELSEWHERE, others=HIDDEN)),
    Probe("bookings.certificate", _args(booking_id="booking_past"), OWNER),
    Probe("bookings.subscribe", get=answers(OK)),
    Probe("bookings.reset_feed", post=answers(OK)),
    Probe("bookings.feed", _args(token="calendar_token"), everyone(), keyed=True),
    Probe("bookings.feed", _args(token=WRONG_TOKEN), everyone(HIDDEN), nobody=True),
    # -- running training: partner A's course and sessions --------------------------------------
    Probe("manage.index", get=MANAGERS),
    Probe("manage.courses", get=MANAGERS),
    Probe("manage.new_course", get=MANAGERS),
    Probe("manage.edit_course", _args(course_id="course_a"), PARTNER_A,
          data=lambda world: {"title": "Taken over", "summary": "Mine now",
                              "topics": "makaton", "audiences": "practitioners",
                              "level": "introductory",
                              "delivery_partner": str(world.partner_b)}),
    Probe("manage.new_session", _args(course_id="course_a"), PARTNER_A),
    Probe("manage.session", _args(session_id="session_a"), PARTNER_A),
    Probe("manage.edit_session", _args(session_id="session_a"), PARTNER_A),
    Probe("manage.capacity", _args(session_id="session_a"), PARTNER_A,
          data=lambda world: {"capacity": "99"}),
    Probe("manage.cancel_session", _args(session_id="session_a"), PARTNER_A,
          data=lambda world: REASON),
    Probe("manage.register", _args(session_id="session_a", meeting_id="meeting_a"), PARTNER_A,
          data=lambda world: {f"attendance-{world.booking}": "attended"}),
    Probe("manage.register_csv", _args(session_id="session_a"), PARTNER_A),
    # Partner A's meeting through partner B's session: not found, even to partner B.
    Probe("manage.register", _args(session_id="session_b", meeting_id="meeting_a"),
          only("admin", "trainer_b", answer=HIDDEN), nobody=True,
          data=lambda world: {f"attendance-{world.booking}": "attended"}),
    Probe("reports.index", get=MANAGERS),
    Probe("reports.reach", get=MANAGERS),
    Probe("reports.reach_csv", _args(name="courses"), MANAGERS),
    Probe("reports.oversubscription", get=MANAGERS),
    Probe("reports.oversubscription_csv", _args(name="sessions"), MANAGERS),
    Probe("reports.overview", get=ADMIN),
    Probe("reports.overview_csv", _args(name="topics"), ADMIN),
    # -- the waiting list -------------------------------------------------------------------
    Probe("waiting_list.join", _args(session_id="session_full"), answers(OK)),
    Probe("waiting_list.leave", _args(entry_id="entry"), OWNER),
    Probe("waiting_list.answer_offer", _args(token="offer_token"), everyone(), keyed=True),
    Probe("waiting_list.answer_offer", _args(token=WRONG_TOKEN), everyone(HIDDEN),
          post=everyone(HIDDEN), nobody=True,
          data=lambda world: {"answer": "decline", "decline-csrf_token": ""}),
    Probe("waiting_list.manage_list", _args(session_id="session_full"), PARTNER_A),
    Probe("waiting_list.manual_offer", _args(entry_id="entry"), PARTNER_A),
    Probe("waiting_list.remove_entry", _args(entry_id="entry"), PARTNER_A,
          data=lambda world: REASON),
    Probe("waiting_list.demand_report", get=MANAGERS),
    Probe("waiting_list.demand_invite",
          _args(course_id="course_a", session_id="session_full", region_id="none"), PARTNER_A),
    # Partner B's course, with partner A's session to invite people to.
    Probe("waiting_list.demand_invite",
          _args(course_id="course_b", session_id="session_full", region_id="none"),
          only("admin", "trainer_a", answer=HIDDEN), nobody=True),
    # -- confidence questionnaires ------------------------------------------------------------
    Probe("confidence.answer", _args(session_id="session_a", stage="pre"), answers(OK)),
    Probe("confidence.answer_by_link", _args(token="answer_token"), everyone(), keyed=True),
    Probe("confidence.answer_by_link", _args(token=WRONG_TOKEN), everyone(HIDDEN),
          post=everyone(HIDDEN), nobody=True, data=_ratings),
    Probe("confidence.my_answers", get=answers(OK)),
    Probe("confidence.manage_session", _args(session_id="session_a"), PARTNER_A),
    Probe("confidence.remind", _args(session_id="session_a", stage="pre"), post=PARTNER_A),
    Probe("confidence.record", _args(session_id="session_a", booking_id="booking",
                                     stage="pre"), PARTNER_A, data=_ratings),
    Probe("confidence.record", _args(session_id="session_b", booking_id="booking",
                                     stage="pre"), only("admin", "trainer_b", answer=HIDDEN),
          nobody=True, data=_ratings),
    Probe("confidence.course_statements", _args(course_id="course_a"), PARTNER_A,
          data=lambda world: TEXT),
    Probe("confidence.evaluation_statements", get=ADMIN, data=lambda world: TEXT),
    Probe("confidence.edit_statement", _args(statement_id="course_statement"), PARTNER_A,
          data=lambda world: TEXT),
    Probe("confidence.edit_statement", _args(statement_id="evaluation_statement"), ADMIN,
          data=lambda world: TEXT),
    Probe("confidence.retire_statement", _args(statement_id="course_statement"),
          post=PARTNER_A),
    Probe("confidence.retire_statement", _args(statement_id="evaluation_statement"),
          post=ADMIN),
    Probe("confidence.analysis_page", get=only("admin", *TRAINERS, *LA_OFFICERS)),
    Probe("confidence.analysis_csv", get=only("admin", *TRAINERS, *LA_OFFICERS)),
    # -- awards: public pages, and the setting's own -------------------------------------------
    Probe("awards.home", get=everyone()),
    Probe("awards.scheme_page", _args(key=TEST_SCHEME), everyone()),
    Probe("awards.register", get=everyone()),
    Probe("awards.verify", _args(code="award_code"), everyone()),
    Probe("awards.verify", _args(code="no-such-award"), everyone(HIDDEN), nobody=True),
    Probe("awards.badge", _args(code="award_code"), everyone()),
    Probe("awards.certificate", _args(award_id="award"), only("owner", "admin")),
    Probe("awards.my_setting", get=answers(OK)),
    # Applicants of any setting may start one; the others are no applicants.
    Probe("awards.start", _args(key=TEST_SCHEME), only("owner", "practitioner")),
    *[Probe("awards.application", _args(application_id=name), only("owner", "admin"))
      for name in ("application_draft", "application_submitted", "application_decided")],
    Probe("awards.criterion", _args(application_id="application_draft", key="families"),
          only("owner", "admin"), post=only("owner", answer=OK),
          data=lambda world: {"score": "2", "narrative": "Overwritten"}),
    Probe("awards.add_text_evidence", _args(application_id="application_draft",
                                            key="families"),
          post=only("owner"), data=lambda world: {"evidence_text": "Planted",
                                                  "text_caption": "Planted"}),
    Probe("awards.upload_evidence", _args(application_id="application_draft",
                                          key="environment"), post=only("owner"), data=_file),
    Probe("awards.remove_evidence", _args(application_id="application_draft",
                                          evidence_id="evidence_draft_text"),
          post=only("owner")),
    # Evidence of another application, through the owner's own draft's address.
    Probe("awards.remove_evidence", _args(application_id="application_draft",
                                          evidence_id="evidence_submitted"),
          post=only("owner", answer=HIDDEN)),
    Probe("awards.evidence_file", _args(evidence_id="evidence_submitted"),
          only("owner", "admin", "moderator_assigned")),
    Probe("awards.evidence_file", _args(evidence_id="evidence_draft"), only("owner", "admin")),
    Probe("awards.submit", _args(application_id="application_draft"), only("owner")),
    Probe("awards.withdraw", _args(application_id="application_draft"), only("owner"),
          data=lambda world: REASON),
    Probe("awards.renew", _args(application_id="application_decided"), post=only("owner")),
    # Staff of a setting fill in the audit; without a setting there is only the page.
    Probe("awards.staff_audit", _args(scheme_key=TEST_SCHEME), answers(OK),
          post=only("owner", "practitioner", answer=OK),
          data=lambda world: {"need_families": "2", "need_environment": "2"}),
    # -- awards: the moderation panel ------------------------------------------------------------
    Probe("awards.panel_home", get=only("admin", *MODERATORS)),
    Probe("awards.declare", _args(application_id="application_submitted"),
          only("moderator_assigned", "moderator_undeclared", admin=READ_ONLY),
          data=lambda world: {"conflict": "no"}),
    Probe("awards.assess", _args(application_id="application_submitted"),
          only("moderator_assigned", admin=READ_ONLY, moderator_undeclared=ELSEWHERE),
          data=lambda world: ASSESSMENT),
    Probe("awards.moderation", _args(application_id="application_submitted"),
          only("moderator_assigned", admin=READ_ONLY, moderator_undeclared=ELSEWHERE),
          data=lambda world: DECISION),
    # -- awards: administrators --------------------------------------------------------------------
    Probe("awards.admin_home", get=ADMIN),
    Probe("awards.admin_application", _args(application_id="application_submitted"), ADMIN),
    Probe("awards.admin_assign", _args(application_id="application_submitted"), post=ADMIN,
          data=lambda world: {"panel": str(world.other_panel)}),
    Probe("awards.admin_extend", _args(application_id="application_draft"), post=ADMIN,
          data=lambda world: {"deadline_day": "1", "deadline_month": "1",
                              "deadline_year": "2099"}),
    Probe("awards.panels", get=ADMIN, data=lambda world: {"name": "Planted panel"}),
    Probe("awards.panel_detail", _args(panel_id="panel"), ADMIN,
          data=lambda world: {"email": world.emails["practitioner"],
                              "member_type": "professional"}),
    Probe("awards.panel_member_remove", _args(panel_id="panel", member_id="panel_member"),
          post=ADMIN),
    Probe("awards.panel_chair", _args(panel_id="panel", member_id="panel_member"),
          post=ADMIN),
    Probe("awards.audit_log", get=ADMIN),
    Probe("awards.admin_awards", get=ADMIN),
    Probe("awards.withdraw_award", _args(award_id="award"), ADMIN,
          data=lambda world: {"reason": "Withdrawn by someone"}),
    Probe("awards.celebration", get=ADMIN),
    Probe("awards.celebration_csv", get=ADMIN),
    # -- the newsletter: links carry the subscriber's token ----------------------------------
    Probe("newsletter.sign_up", get=answers(ELSEWHERE, anonymous=OK), post={}),
    Probe("newsletter.check_email", get=everyone()),
    Probe("newsletter.confirm", _args(token=WRONG_TOKEN), everyone(400), nobody=True),
    Probe("newsletter.preferences", _args(token="newsletter_token"), everyone(), post={},
          keyed=True),
    Probe("newsletter.preferences", _args(token=WRONG_TOKEN), everyone(HIDDEN), nobody=True,
          data=lambda world: {"topics": "makaton"}),
    Probe("newsletter.unsubscribe", _args(token="newsletter_token"), everyone(), post={},
          keyed=True),
    Probe("newsletter.unsubscribe", _args(token=WRONG_TOKEN), everyone(HIDDEN), nobody=True),
    Probe("newsletter.resubscribe", _args(token=WRONG_TOKEN), post=everyone(HIDDEN),
          nobody=True),
    Probe("newsletter.my_subscription", get=answers(OK)),
    Probe("newsletter.admin_index", get=ADMIN),
    Probe("newsletter.compose", get=ADMIN, data=lambda world: CAMPAIGN),
    Probe("newsletter.edit_campaign", _args(campaign_id="campaign"), ADMIN,
          data=lambda world: CAMPAIGN),
    Probe("newsletter.campaign", _args(campaign_id="campaign"), ADMIN),
    Probe("newsletter.test_send", _args(campaign_id="campaign"), post=ADMIN),
    Probe("newsletter.send_campaign", _args(campaign_id="campaign"), post=ADMIN),
    # -- local authorities: LA A's dashboard and request ----------------------------------------
    Probe("la.index", get=only("admin", *LA_OFFICERS, answer=ELSEWHERE, admin=OK)),
    Probe("la.dashboard", _args(la_id="la_a"), only("admin", "la_officer_a")),
    *[Probe("la.table", _args(la_id="la_a", table=table), only("admin", "la_officer_a"))
      for table in ("settings", "no-training", "named")],
    *[Probe("la.table_csv", _args(la_id="la_a", table=table), only("admin", "la_officer_a"))
      for table in ("settings", "topics", "no-training", "named")],
    Probe("la.requests", get=only(*LA_OFFICERS)),
    Probe("la.new_request", get=only(*LA_OFFICERS),
          data=lambda world: {"course": str(world.course_a), "first_choice": "1/1/2099",
                              "expected_numbers": "5"}),
    Probe("session_requests.index", get=ADMIN),
    Probe("session_requests.detail", _args(request_id="session_request"), ADMIN,
          data=lambda world: {"decision": "decline", "message": "No."}),
    # -- administration and imports ----------------------------------------------------------------
    Probe("admin.index", get=ADMIN),
    Probe("admin.plugins", get=ADMIN),
    Probe("admin.mail_list", get=ADMIN),
    Probe("admin.mail_retry", _args(message_id="message"), post=ADMIN),
    Probe("admin.mail_retry_all", post=ADMIN),
    Probe("admin.users", get=ADMIN),
    Probe("admin.user", _args(user_id=lambda world: world.user_ids["owner"]), ADMIN),
    Probe("admin.user_data", _args(user_id=lambda world: world.user_ids["owner"]), ADMIN),
    Probe("admin.user_access", _args(user_id=lambda world: world.user_ids["owner"]), ADMIN,
          data=lambda world: {"roles": "admin"}),
    Probe("admin.erase_user", _args(user_id=lambda world: world.user_ids["owner"]), ADMIN,
          data=lambda world: {"email": world.emails["owner"]}),
    Probe("imports.index", get=ADMIN),
    *[Probe("imports.template", _args(kind=kind), ADMIN)
      for kind in ("settings", "training-sessions", "attendance", "questionnaire-answers")],
    Probe("imports.template", _args(kind="no-such-kind"), only("admin", answer=HIDDEN),
          nobody=True),
    Probe("imports.upload", _args(kind="settings"), ADMIN,
          data=lambda world: {"file": (io.BytesIO(b"name,postcode\nPlanted,LS1 1AA\n"),
                                       "settings.csv", "text/csv")}),
]


# -- the checks -------------------------------------------------------------------------------


def _describe(response) -> str:
    location = response.headers.get("Location")
    return f"{response.status_code} to {location}" if location else str(response.status_code)


def _matches(response, expected) -> bool:
    status = response.status_code
    signing_in = "/auth/sign-in" in response.headers.get("Location", "")
    if expected == LOGIN:
        return status == 302 and signing_in
    if expected == ELSEWHERE:
        return status in (302, 303) and not signing_in
    if expected in (OK, READ_ONLY):
        return status == 200
    return status == expected


def _snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, in key order."""
    with app.app_context():
        tables = {}
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = [tuple(row) for row in db.session.execute(
                sa.select(table).order_by(*order))]
        db.session.remove()
    return tables


def _changes(before: dict, after: dict) -> list[str]:
    changed = []
    for name, rows in before.items():
        if after[name] != rows:
            gone = [row for row in rows if row not in after[name]]
            new = [row for row in after[name] if row not in rows]
            changed.append(f"{name}: {len(rows)} -> {len(after[name])} rows, "
                           f"was {gone[:2]}, now {new[:2]}")
    return changed


def _urls(app, world: World) -> list[tuple[Probe, str]]:
    with app.test_request_context():
        return [(probe, url_for(probe.endpoint, **probe.args(world))) for probe in PROBES]


def _method_of(app, probe: Probe, url: str) -> set[str]:
    adapter = app.url_map.bind("localhost")
    return {method for method in ("GET", "POST")
            if _endpoint_for(adapter, url, method) == probe.endpoint}


def _endpoint_for(adapter, url: str, method: str) -> str | None:
    from werkzeug.exceptions import HTTPException

    try:
        return adapter.match(url.split("?", 1)[0], method=method)[0]
    except HTTPException:
        return None


def test_every_route_has_probes_and_every_probe_a_rightful_user(app):
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    probed = {probe.endpoint for probe in PROBES}
    missing = sorted(f"{endpoint} ({rules[endpoint].rule})" for endpoint in set(rules) - probed)
    assert not missing, (
        "routes with no probe in tests/test_authorisation_matrix.py PROBES (add one saying "
        f"what each role gets): {missing}")
    assert not probed - set(rules), f"probes of routes that are gone: {probed - set(rules)}"
    problems = []
    for endpoint, rule in sorted(rules.items()):
        own = [probe for probe in PROBES if probe.endpoint == endpoint]
        if "GET" in rule.methods and not any(probe.get for probe in own):
            problems.append(f"{endpoint}: GET is not probed")
        if "POST" in rule.methods and not any(
                probe.post_answers(rule.methods) or probe.post == {} for probe in own):
            problems.append(f"{endpoint}: POST is not probed (post={{}} if anybody may post)")
    for probe in PROBES:
        for method, table in (("GET", probe.get), ("POST", probe.post)):
            if isinstance(table, dict) and table and set(table) != set(ROLES):
                problems.append(f"{probe.endpoint} {method}: no answer for "
                                f"{sorted(set(ROLES) - set(table))}")
        if probe.get and not probe.nobody and all(
                answer in REFUSALS for answer in probe.get.values()):
            problems.append(f"{probe.endpoint}: refused to everybody; name who gets it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_expected_answer_from_every_route(app, role):
    world = build_world(app)
    client = app.test_client()
    if role != "anonymous":
        signed = Auth(Browser(client)).sign_in(world.emails[role])
        assert signed.status_code == 302, f"{role} could not sign in"
    token = csrf_token(client.get("/dashboard" if role != "anonymous" else "/auth/sign-in")
                       .get_data(as_text=True))
    probes = _urls(app, world)
    methods = {rule.endpoint: rule.methods for rule in app.url_map.iter_rules()}
    secrets = (world.emails["owner"], PEOPLE["owner"][0])
    failures = []
    for probe, url in probes:
        expected = (probe.get or {}).get(role)
        if expected is None:
            continue
        response = client.get(url)
        body = response.get_data()
        response.close()
        if not _matches(response, expected):
            failures.append(f"GET {url} ({probe.endpoint}): expected {expected}, "
                            f"got {_describe(response)}")
        elif response.status_code == 200 and role in NOT_TOLD and not probe.keyed:
            told = [secret for secret in secrets if secret.encode() in body]
            if told:
                failures.append(f"GET {url} ({probe.endpoint}) shows the owner's {told}")
    before = _snapshot(app)
    for probe, url in probes:
        expected = probe.post_answers(methods[probe.endpoint]).get(role)
        if expected is None:
            continue
        data = {"csrf_token": token, **(probe.data(world) if probe.data else {})}
        response = client.post(url, data=data)
        response.close()
        if not _matches(response, expected):
            failures.append(f"POST {url} ({probe.endpoint}): expected {expected}, "
                            f"got {_describe(response)}")
        after = _snapshot(app)
        changed = _changes(before, after)
        if changed:
            failures.append(f"POST {url} ({probe.endpoint}) as {role} changed the database: "
                            + "; ".join(changed))
        before = after
    assert not failures, f"{role}:\n" + "\n".join(failures)


def test_the_analysis_of_partner_a_session_shows_others_no_answers(app):
    """The analysis takes any session number in its address; only those who may see the
    session's answers get them (an LA officer only those of their LA, suppressed when few)."""
    world = build_world(app)

    def respondents(role: str) -> list[str]:
        client = app.test_client()
        Auth(Browser(client)).sign_in(world.emails[role])
        response = client.get(f"/confidence/analysis.csv?session={world.session_a}")
        assert response.status_code == 200, role
        rows = response.get_data(as_text=True).splitlines()[1:]
        return [row for row in rows if row.split(",")[2:3] == ["1"]]

    assert respondents("trainer_a") and respondents("admin")
    for role in ("trainer_b", "la_officer_b", "la_officer_a"):
        assert respondents(role) == [], f"{role} sees the owner's answers"
