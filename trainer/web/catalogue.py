"""Find training: the search page, course and training session pages, calendar downloads.

The search is driven by GET query arguments, so every search is a shareable URL. They are
parsed by :class:`FindTrainingForm` (no CSRF: nothing is changed), which the JSON API reuses,
so a bad value gets the same field error in both places and never reaches the database.

A page of results costs the same number of SQL queries however many sessions match: one count,
one page of sessions, a fixed set of ``selectin`` loads, and one ``confirmed_counts`` query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import lazyload, selectinload
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, ValidationError

from trainer import booking, calendar
from trainer.access import public
from trainer.catalogue import (
    AUDIENCE_LABELS,
    MODE_LABELS,
    TOPIC_LABELS,
    Course,
    Meeting,
    SessionFilters,
    SessionStatus,
    TrainingSession,
    Venue,
    find_sessions_statement,
)
from trainer.db import db, utcnow
from trainer.forms import BaseForm, RealDate, choices, is_number, parse_day
from trainer.people import LocalAuthority, Region, Role
from trainer.times import LONDON, clock

bp = Blueprint("catalogue", __name__, url_prefix="/training")

FEED_LIMIT = 500
COURSE_PAGE_LIMIT = 50
MAX_TEXT = 100
MAX_ID = 2**31 - 1
TRUE_WORDS = {"1", "true", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "off", ""}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# Loading a page of sessions: everything the result list shows, in a fixed number of queries.
LIST_OPTIONS = (
    selectinload(TrainingSession.meetings)
    .joinedload(Meeting.venue)
    .selectinload(Venue.local_authority),
    selectinload(TrainingSession.region),
    lazyload(TrainingSession.trainers),
)


# -- the filters ----------------------------------------------------------------------------------


def clean_text(value):
    if not isinstance(value, str):
        return value
    return CONTROL_CHARACTERS.sub("", value).strip()


class YesNoField(BooleanField):
    """A checkbox whose query value must mean yes or no (1/0, true/false, yes/no, on/off)."""

    def __init__(self, *args, invalid_message: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "BooleanField"  # rendered as a GOV.UK checkbox by the field() macro
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist):
        if not valuelist:
            self.data = False
            return
        value = valuelist[0].strip().lower()
        self.data = value in TRUE_WORDS
        if value not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(self.invalid_message)


def twilight_label() -> str:
    starts = booking.twilight_from()
    return f"Twilight (weekdays, starting at {clock(starts)} or later)"


class FindTrainingForm(BaseForm):
    """The search filters, read from query arguments. Field names are the query names."""

    class Meta:
        csrf = False

    text = StringField(
        "Keyword",
        description="For example, Makaton or transition",
        filters=[clean_text],
        validators=[
            Length(max=MAX_TEXT, message=f"Keyword must be {MAX_TEXT} characters or fewer")
        ],
        render_kw={"spellcheck": "false"},
    )
    topic = SelectMultipleField(
        "Topic",
        choices=choices(TOPIC_LABELS.items()),
        invalid_choice_message="Select topics from the list",
    )
    audience = SelectMultipleField(
        "Who it is for",
        choices=choices(AUDIENCE_LABELS.items()),
        invalid_choice_message="Select who the training is for from the list",
    )
    mode = SelectMultipleField(
        "How it is delivered",
        choices=choices(MODE_LABELS.items()),
        invalid_choice_message="Select how the training is delivered from the list",
    )
    time_of_day = RadioField(
        "Time of day",
        default="",
        invalid_choice_message="Select a time of day from the list",
    )
    region = SelectField(
        "Region", default="", invalid_choice_message="Select a region from the list"
    )
    local_authority = SelectField(
        "Local authority",
        default="",
        invalid_choice_message="Select a local authority from the list",
    )
    date_from = StringField(
        "From date",
        name="from",
        description="For example, 27/3/2026",
        filters=[clean_text],
        validators=[RealDate("From date")],
    )
    date_to = StringField(
        "To date",
        name="to",
        description="For example, 30/4/2026",
        filters=[clean_text],
        validators=[RealDate("To date")],
    )
    places_left = YesNoField(
        "Only show sessions with places left",
        invalid_message="Places left must be yes or no",
    )
    course = StringField("Course", filters=[clean_text])

    def __init__(self, formdata, **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        regions = db.session.execute(sa.select(Region.id, Region.name).order_by(Region.name))
        self.region.choices = choices([("", "Any region")] + [tuple(row) for row in regions])
        authorities = db.session.execute(
            sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name)
        )
        self.local_authority.choices = choices(
            [("", "Any local authority")] + [tuple(row) for row in authorities]
        )
        self.time_of_day.choices = choices(
            [("", "Any time"), ("daytime", "Daytime and weekends"), ("twilight", twilight_label())]
        )

    def validate_date_to(self, field):
        if not (field.data and self.date_from.data):
            return
        try:
            start, end = parse_day(self.date_from.data), parse_day(field.data)
        except ValueError:
            return  # each date's own error says what is wrong
        if end < start:
            raise ValidationError("To date must be the same as or after the from date")

    def validate_course(self, field):
        if field.data and not (is_number(field.data) and 1 <= int(field.data) <= MAX_ID):
            raise ValidationError("Course must be a course number")

    def field_errors(self) -> dict[str, list[str]]:
        """Errors keyed by query argument name (``from``, not ``date_from``)."""
        return {field.name: list(field.errors) for field in self if field.errors}

    def filters(self) -> SessionFilters:
        """The validated filters. Call only after :meth:`validate` succeeded."""
        return SessionFilters(
            topic=list(self.topic.data or []),
            audience=list(self.audience.data or []),
            region=int(self.region.data) if self.region.data else None,
            local_authority=int(self.local_authority.data) if self.local_authority.data else None,
            mode=list(self.mode.data or []),
            date_from=parse_day(self.date_from.data) if self.date_from.data else None,
            date_to=parse_day(self.date_to.data) if self.date_to.data else None,
            time_of_day=self.time_of_day.data or None,
            places_left=bool(self.places_left.data),
            course=int(self.course.data) if self.course.data else None,
            text=self.text.data or None,
        )


def read_filters(args) -> tuple[FindTrainingForm, SessionFilters | None]:
    """The form for ``args`` and its filters, or ``None`` when a value is bad."""
    form = FindTrainingForm(formdata=args)
    # Example dates in the hints are always ahead of today, in London.
    today = datetime.now(LONDON).date()
    soon, later = today + timedelta(days=7), today + timedelta(days=35)
    form.date_from.description = f"For example, {soon.day}/{soon.month}/{soon.year}"
    form.date_to.description = f"For example, {later.day}/{later.month}/{later.year}"
    if not form.validate():
        return form, None
    return form, form.filters()


# -- searching ------------------------------------------------------------------------------------


@dataclass
class ResultPage:
    sessions: list[TrainingSession]
    total: int
    page: int
    per_page: int
    places: dict[int, int]

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.per_page), 1)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def places_left(sessions: list[TrainingSession]) -> dict[int, int]:
    """Places left per session: one query for every confirmed count, plus whatever plugins
    need to say how many places they hold (``trainer_places_held``) for each one."""
    counts = booking.confirmed_counts([training_session.id for training_session in sessions])
    return {
        training_session.id: max(
            training_session.capacity
            - counts[training_session.id]
            - booking.places_held(training_session),
            0,
        )
        for training_session in sessions
    }


def search(filters: SessionFilters, page: int, per_page: int, clamp: bool = True) -> ResultPage:
    """One page of upcoming sessions matching ``filters``, soonest first. With ``clamp`` a
    page past the end gives the last page."""
    statement = find_sessions_statement(filters, utcnow()).options(*LIST_OPTIONS)
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(
            statement.options(lazyload("*")).order_by(None).subquery()
        )
    )
    if clamp:
        page = min(page, max(math.ceil(total / per_page), 1))
    sessions = list(
        db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page))
    )
    return ResultPage(sessions, total, page, per_page, places_left(sessions))


def region_names() -> dict[int, str]:
    return {row.id: row.name for row in db.session.execute(sa.select(Region.id, Region.name))}


def session_region_id(training_session: TrainingSession) -> int | None:
    return training_session.region_id or training_session.area_region_id()


def page_items(current: int, pages: int) -> list[int | None]:
    """Page numbers to link to: the first, the last and two either side of ``current``;
    ``None`` marks a gap (an ellipsis)."""
    wanted = {1, pages, *range(current - 2, current + 3)}
    shown = sorted(number for number in wanted if 1 <= number <= pages)
    items: list[int | None] = []
    for number in shown:
        if items and number - items[-1] > 1:  # type: ignore[operator]
            items.append(None)
        items.append(number)
    return items


def _page_number(raw: str | None) -> int:
    """The page asked for; anything that is not a sensible page number is page 1."""
    if raw and is_number(raw) and len(raw) < 7:
        return max(int(raw), 1)
    return 1


def _user():
    return current_user if current_user.is_authenticated else None


# -- views ----------------------------------------------------------------------------------------


@bp.route("/")
@public
def find_training():
    """Find training: filters as query arguments, results soonest first, a page at a time."""
    form, filters = read_filters(request.args)
    results = None
    query: dict = {}
    if filters is not None:
        per_page = current_app.config["PAGE_SIZE"]
        results = search(filters, _page_number(request.args.get("page")), per_page)
        query = filters.as_query()
    return render_template(
        "catalogue/find_training.html",
        form=form,
        results=results,
        query=query,
        filtered=bool(query),
        page_items=page_items(results.page, results.pages) if results else [],
        course=db.session.get(Course, filters.course) if filters and filters.course else None,
    )


@bp.route("/courses/<int:course_id>")
@public
def course_page(course_id: int):
    """A course: what it covers, who it is for, and its upcoming sessions."""
    course = db.session.get(Course, course_id) if course_id <= MAX_ID else None
    if course is None:
        abort(404)
    statement = (
        find_sessions_statement(SessionFilters(course=course.id), utcnow())
        .options(*LIST_OPTIONS)
        .limit(COURSE_PAGE_LIMIT + 1)
    )
    sessions = list(db.session.scalars(statement))
    more = len(sessions) > COURSE_PAGE_LIMIT
    sessions = sessions[:COURSE_PAGE_LIMIT]
    return render_template(
        "catalogue/course.html",
        course=course,
        sessions=sessions,
        places=places_left(sessions),
        more=more,
    )


def may_see_joining_link(training_session: TrainingSession, user) -> bool:
    """Only people with a confirmed booking, the session's trainers and admins."""
    if user is None:
        return False
    if user.has_role(Role.ADMIN):
        return True
    if any(trainer.id == user.id for trainer in training_session.trainers):
        return True
    held = booking.booking_for(user, training_session.id)
    return held is not None and held.is_confirmed


def load_session(session_id: int) -> TrainingSession | None:
    """The session with everything its page shows, or ``None``."""
    if not 1 <= session_id <= MAX_ID:
        return None
    return db.session.scalar(
        sa.select(TrainingSession)
        .where(TrainingSession.id == session_id)
        .options(
            selectinload(TrainingSession.course).selectinload(Course.delivery_partner),
            selectinload(TrainingSession.local_authority),
            *LIST_OPTIONS[:2],
        )
    )


def _get_session(session_id: int) -> TrainingSession:
    training_session = load_session(session_id)
    if training_session is None:
        abort(404)
    return training_session


@bp.route("/sessions/<int:session_id>")
@public
def session_page(session_id: int):
    """A training session: dates, places left, venue, and booking."""
    training_session = _get_session(session_id)
    user = _user()
    own_booking = booking.booking_for(user, training_session.id) if user else None
    window = training_session.booking_window_problem(utcnow())
    can_book_here = "bookings.book" in current_app.view_functions
    places = places_left([training_session])[training_session.id]
    full = None
    if places <= 0 and window is None and not training_session.is_cancelled:
        full = booking.full_answer(training_session, user)
    return render_template(
        "catalogue/session.html",
        training_session=training_session,
        course=training_session.course,
        places=places,
        full=full,
        show_link=may_see_joining_link(training_session, user),
        booked=own_booking is not None and own_booking.is_confirmed,
        window=window,
        book_url=(
            url_for("bookings.book", session_id=training_session.id) if can_book_here else None
        ),
        my_training_url=(
            url_for("bookings.my_training")
            if "bookings.my_training" in current_app.view_functions
            else None
        ),
        panels=_panels(training_session, user),
        cancelled=training_session.status == SessionStatus.CANCELLED,
    )


def _panels(training_session: TrainingSession, user) -> list:
    from trainer.web import page_panels

    return page_panels("session", training_session, user)


def ics_response(body: bytes, filename: str, disposition: str = "attachment") -> Response:
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@bp.route("/sessions/<int:session_id>.ics")
@public
def session_ics(session_id: int):
    """The session's meetings as a calendar file (never with the joining link)."""
    training_session = _get_session(session_id)
    body = calendar.for_sessions([training_session], training_session.course.title)
    return ics_response(body, f"training-session-{training_session.id}.ics")


@bp.route("/feed.ics")
@public
def feed():
    """A public calendar feed of upcoming sessions, with the same filters as the search."""
    form, filters = read_filters(request.args)
    if filters is None:
        lines = [
            f"{name}: {message}"
            for name, messages in form.field_errors().items()
            for message in messages
        ]
        return Response("\n".join(lines) + "\n", 400, content_type="text/plain; charset=utf-8")
    statement = find_sessions_statement(filters, utcnow()).options(*LIST_OPTIONS)
    sessions = list(db.session.scalars(statement.limit(FEED_LIMIT)))
    body = calendar.for_sessions(sessions, current_app.config["SERVICE_NAME"])
    return ics_response(body, "training.ics", disposition="inline")
