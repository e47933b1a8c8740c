"""The read-only JSON API of the catalogue, described by an OpenAPI document.

``GET /api/v1/sessions`` takes the same filters as the find training page (parsed by the same
form, so the same values are accepted and refused), ``GET /api/v1/sessions/<id>`` one session,
and ``GET /api/v1/openapi.json`` describes both. Times are ISO 8601 with London's offset
(``+00:00`` in winter, ``+01:00`` in summer). Online joining links are never given out here.
Bad query values answer 400 with ``{"errors": {"field": ["message"]}}``; an empty value is the
same as leaving the argument out, as it is from the form. Any session address that names no
session, ``/sessions/abc`` included, answers the documented JSON 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for

from trainer.access import public
from trainer.catalogue import (
    AUDIENCE_LABELS,
    MODE_LABELS,
    TOPIC_LABELS,
    Level,
    SessionStatus,
    TrainingSession,
)
from trainer.forms import EARLIEST_YEAR, LATEST_YEAR, is_number
from trainer.times import to_london
from trainer.web.catalogue import (
    FALSE_WORDS,
    MAX_ID,
    MAX_TEXT,
    TRUE_WORDS,
    load_session,
    places_left,
    read_filters,
    region_names,
    search,
    session_region_id,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


@bp.after_request
def _allow_any_origin(response):
    """Public, read-only data: any web page may fetch it."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in London time with its offset, e.g. ``2026-03-03T18:30:00+00:00``."""
    return to_london(moment).isoformat() if moment is not None else None


def _whole_number(
    name: str, default: int, maximum: int, errors: dict[str, list[str]]
) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not is_number(raw) or not 1 <= int(raw) <= maximum:
        errors[name] = [f"{name} must be a whole number from 1 to {maximum}"]
        return default
    return int(raw)


def session_json(
    training_session: TrainingSession, places: int, regions: dict[int, str]
) -> dict[str, Any]:
    course = training_session.course
    region_id = session_region_id(training_session)
    authority = training_session.local_authority
    cancelled = training_session.status == SessionStatus.CANCELLED
    return {
        "id": training_session.id,
        "course": {
            "id": course.id,
            "title": course.title,
            "summary": course.summary,
            "topics": course.topics,
            "audiences": course.audiences,
            "level": course.level,
            "accredited": course.accredited,
            "credits": course.credits,
            "delivery_partner": {
                "id": course.delivery_partner.id,
                "name": course.delivery_partner.name,
            },
            "links": {
                "html": url_for("catalogue.course_page", course_id=course.id, _external=True)
            },
        },
        "mode": training_session.mode,
        "twilight": training_session.twilight,
        "capacity": training_session.capacity,
        "places_left": 0 if cancelled else places,
        "status": training_session.status,
        "starts_at": iso(training_session.starts_at),
        "ends_at": iso(training_session.ends_at),
        "booking_opens_at": iso(training_session.booking_opens_at),
        "booking_closes_at": iso(training_session.booking_closes_at),
        "meetings": [
            {
                "starts_at": iso(meeting.starts_at),
                "ends_at": iso(meeting.ends_at),
                "title": meeting.title,
                "venue": (
                    {
                        "name": meeting.venue.name,
                        "address": meeting.venue.address,
                        "postcode": meeting.venue.postcode,
                        "accessibility_notes": meeting.venue.accessibility_notes,
                    }
                    if meeting.venue is not None
                    else None
                ),
                "online": bool(meeting.online_url) or training_session.is_online,
            }
            for meeting in training_session.meetings
        ],
        "local_authority": {"id": authority.id, "name": authority.name} if authority else None,
        "region": (
            {"id": region_id, "name": regions.get(region_id, "")} if region_id else None
        ),
        "links": {
            "html": url_for(
                "catalogue.session_page", session_id=training_session.id, _external=True
            ),
            "ics": url_for(
                "catalogue.session_ics", session_id=training_session.id, _external=True
            ),
        },
    }


@bp.route("/sessions")
@public
def sessions():
    """Upcoming scheduled training sessions matching the filters, soonest first."""
    form, filters = read_filters(request.args)
    errors = form.field_errors() if filters is None else {}
    # The form drops control characters before it counts; the document's limit is on what
    # was sent.
    if len(request.args.get("text", "")) > MAX_TEXT and "text" not in errors:
        errors["text"] = [f"Keyword must be {MAX_TEXT} characters or fewer"]
    page = _whole_number("page", 1, MAX_PAGE, errors)
    per_page = _whole_number(
        "per_page", min(current_app.config["PAGE_SIZE"], MAX_PER_PAGE), MAX_PER_PAGE, errors
    )
    if errors or filters is None:
        return jsonify({"errors": errors}), 400
    result = search(filters, page, per_page, clamp=False)
    regions = region_names()
    query = filters.as_query()

    def link(number: int) -> str:
        return url_for("api.sessions", page=number, per_page=per_page, _external=True, **query)

    previous = min(page - 1, result.pages) if page > 1 else None
    return jsonify(
        {
            "sessions": [
                session_json(item, result.places[item.id], regions) for item in result.sessions
            ],
            "page": page,
            "per_page": per_page,
            "total": result.total,
            "links": {
                "next": link(page + 1) if page < result.pages else None,
                "prev": link(previous) if previous else None,
            },
        }
    )


# Any text after /sessions/ reaches the view, so ``/sessions/abc`` and ``/sessions/-1`` answer
# with the document's JSON 404 rather than the site's HTML page for an unknown address.
@bp.route("/sessions/<session_id>")
@public
def session(session_id: str):
    """One training session, scheduled or cancelled, past or upcoming."""
    number = session_id.strip()
    training_session = load_session(int(number)) if is_number(number) else None
    if training_session is None:
        message = f"There is no training session {session_id[:40]}"
        return jsonify({"errors": {"id": [message]}}), 404
    return jsonify(
        session_json(
            training_session, places_left([training_session])[training_session.id], region_names()
        )
    )


@bp.route("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(request.url_root.rstrip("/") + bp.url_prefix))


# -- the OpenAPI document -------------------------------------------------------------------------

NULLABLE_STRING = {"type": ["string", "null"]}
# Values are read as the find training form reads them: control characters and spaces around
# a value are dropped, and what is left empty is the same as no value at all.
BLANK = r"[\s\x00-\x1f\x7f\x85]*"
EMPTY = {"type": "string", "pattern": f"^{BLANK}$"}
# A day: ISO 8601, or the day first as people in England write it.
DAY = {
    "type": "string",
    "anyOf": [
        {"format": "date"},
        {"pattern": rf"^{BLANK}\d{{4}}-\d{{1,2}}-\d{{1,2}}{BLANK}$"},
        {"pattern": rf"^{BLANK}\d{{1,2}}[/. -]\d{{1,2}}[/. -]\d{{4}}{BLANK}$"},
        EMPTY,
    ],
}
DATE_TIME = {"type": "string", "format": "date-time", "examples": ["2026-03-03T18:30:00+00:00"]}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or an empty value: as from a form, ``?region=`` is the same as no region."""
    return {"anyOf": [schema, EMPTY]}


def _array_of(values, description: str, example: str) -> dict[str, Any]:
    return {
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": description,
        "schema": {"type": "array", "items": {"type": "string", "enum": [str(v) for v in values]}},
        "example": [example],
    }


def _parameters() -> list[dict[str, Any]]:
    date_description = (
        "{} date, in London time: YYYY-MM-DD (27/3/2026 is accepted too). "
        f"Years {EARLIEST_YEAR} to {LATEST_YEAR}."
    )
    return [
        {
            "name": "text",
            "in": "query",
            "description": "Words in the course title or summary (case-insensitive).",
            "schema": {"type": "string", "maxLength": MAX_TEXT},
            "example": "makaton",
        },
        {"name": "topic", **_array_of(TOPIC_LABELS, "Courses on any of these topics.", "autism")},
        {
            "name": "audience",
            **_array_of(AUDIENCE_LABELS, "Courses for any of these audiences.", "sencos"),
        },
        {
            "name": "region",
            "in": "query",
            "description": "Sessions for this region (its id, as given in a session's region).",
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
            "example": 1,
        },
        {
            "name": "local_authority",
            "in": "query",
            "description": (
                "Sessions restricted to, or held at a venue in, this local authority (its id)."
            ),
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
            "example": 1,
        },
        {"name": "mode", **_array_of(MODE_LABELS, "Any of these ways of delivery.", "online")},
        {
            "name": "from",
            "in": "query",
            "description": date_description.format("Sessions starting on or after this"),
            "schema": DAY,
            "example": "2026-03-01",
        },
        {
            "name": "to",
            "in": "query",
            "description": date_description.format("Sessions starting on or before this"),
            "schema": DAY,
            "example": "2026-07-31",
        },
        {
            "name": "time_of_day",
            "in": "query",
            "description": (
                "twilight: starting at or after the twilight time (17:00 by default, London "
                "time) on a weekday; daytime: every other session."
            ),
            "schema": _or_empty({"type": "string", "enum": ["daytime", "twilight"]}),
            "example": "twilight",
        },
        {
            "name": "places_left",
            "in": "query",
            "description": (
                "true: only sessions with a place left. As from the find training form, "
                "1, yes, y and on mean true too; 0, no, n, off and an empty value mean false."
            ),
            "schema": {
                "anyOf": [
                    {"type": "boolean"},
                    {"type": "string", "enum": sorted(TRUE_WORDS | FALSE_WORDS)},
                ]
            },
            "example": True,
        },
        {
            "name": "course",
            "in": "query",
            "description": "Sessions of this course (its id).",
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
            "example": 1,
        },
        {
            "name": "page",
            "in": "query",
            "description": "Page of results, from 1.",
            "schema": {
                **_or_empty({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                "default": 1,
            },
            "example": 1,
        },
        {
            "name": "per_page",
            "in": "query",
            "description": f"Sessions per page, at most {MAX_PER_PAGE}.",
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
            "example": 20,
        },
    ]


def _schemas() -> dict[str, Any]:
    return {
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "object",
                    "description": "Messages for each query argument that was refused.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                }
            },
        },
        "Venue": {
            "type": "object",
            "required": ["name", "address", "postcode", "accessibility_notes"],
            "properties": {
                "name": {"type": "string"},
                "address": {"type": "string"},
                "postcode": {"type": "string"},
                "accessibility_notes": {"type": "string"},
            },
        },
        "Meeting": {
            "type": "object",
            "description": "A dated part of a session. Joining links are never included.",
            "required": ["starts_at", "ends_at", "title", "venue", "online"],
            "properties": {
                "starts_at": DATE_TIME,
                "ends_at": DATE_TIME,
                "title": NULLABLE_STRING,
                "venue": {"oneOf": [{"$ref": "#/components/schemas/Venue"}, {"type": "null"}]},
                "online": {"type": "boolean"},
            },
        },
        "Place": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "Course": {
            "type": "object",
            "required": [
                "id", "title", "summary", "topics", "audiences", "level", "accredited",
                "credits", "delivery_partner", "links",
            ],
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "summary": {"type": "string"},
                "topics": {
                    "type": "array",
                    "items": {"type": "string", "enum": [str(t) for t in TOPIC_LABELS]},
                },
                "audiences": {
                    "type": "array",
                    "items": {"type": "string", "enum": [str(a) for a in AUDIENCE_LABELS]},
                },
                "level": {"type": "string", "enum": [str(level) for level in Level]},
                "accredited": {"type": "boolean"},
                "credits": {"type": ["integer", "null"]},
                "delivery_partner": {"$ref": "#/components/schemas/Place"},
                "links": {
                    "type": "object",
                    "required": ["html"],
                    "properties": {"html": {"type": "string", "format": "uri"}},
                },
            },
        },
        "Session": {
            "type": "object",
            "required": [
                "id", "course", "mode", "twilight", "capacity", "places_left", "status",
                "starts_at", "ends_at", "booking_opens_at", "booking_closes_at", "meetings",
                "local_authority", "region", "links",
            ],
            "properties": {
                "id": {"type": "integer"},
                "course": {"$ref": "#/components/schemas/Course"},
                "mode": {"type": "string", "enum": [str(m) for m in MODE_LABELS]},
                "twilight": {
                    "type": "boolean",
                    "description": "Starts at or after the twilight time on a weekday.",
                },
                "capacity": {"type": "integer", "minimum": 0},
                "places_left": {"type": "integer", "minimum": 0},
                "status": {"type": "string", "enum": [str(s) for s in SessionStatus]},
                "starts_at": NULLABLE_DATE_TIME,
                "ends_at": NULLABLE_DATE_TIME,
                "booking_opens_at": NULLABLE_DATE_TIME,
                "booking_closes_at": NULLABLE_DATE_TIME,
                "meetings": {"type": "array", "items": {"$ref": "#/components/schemas/Meeting"}},
                "local_authority": {
                    "description": "Only people in this local authority may book, when set.",
                    "oneOf": [{"$ref": "#/components/schemas/Place"}, {"type": "null"}],
                },
                "region": {"oneOf": [{"$ref": "#/components/schemas/Place"}, {"type": "null"}]},
                "links": {
                    "type": "object",
                    "required": ["html", "ics"],
                    "properties": {
                        "html": {"type": "string", "format": "uri"},
                        "ics": {"type": "string", "format": "uri"},
                    },
                },
            },
        },
        "SessionList": {
            "type": "object",
            "required": ["sessions", "page", "per_page", "total", "links"],
            "properties": {
                "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "total": {"type": "integer", "minimum": 0},
                "links": {
                    "type": "object",
                    "required": ["next", "prev"],
                    "properties": {
                        "next": {"type": ["string", "null"], "format": "uri"},
                        "prev": {"type": ["string", "null"], "format": "uri"},
                    },
                },
            },
        },
    }


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        },
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with ``server_url`` as the API's base address."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_app.config['SERVICE_NAME']}: training sessions",
            "version": "1.0.0",
            "description": (
                "Read-only data about free early years SEND training sessions. Times are "
                "ISO 8601 in London time with their offset (+00:00 GMT, +01:00 BST)."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/sessions": {
                "get": {
                    "operationId": "listSessions",
                    "summary": "Upcoming scheduled training sessions, soonest first",
                    "parameters": _parameters(),
                    "responses": {
                        "200": _json_response("A page of sessions.", "SessionList"),
                        "400": _json_response("A query argument was refused.", "Errors"),
                    },
                }
            },
            "/sessions/{session_id}": {
                "get": {
                    "operationId": "getSession",
                    "summary": "One training session, scheduled or cancelled",
                    "parameters": [
                        {
                            "name": "session_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                            "example": 1,
                        }
                    ],
                    "responses": {
                        "200": _json_response("The session.", "Session"),
                        "404": _json_response("No such session.", "Errors"),
                    },
                }
            },
        },
        "components": {"schemas": _schemas()},
    }
