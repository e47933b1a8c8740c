"""The read-only JSON API: the same filters as find training, ISO 8601 times with London's
offset, 400 with field errors for bad values, and answers that match the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import sqlalchemy as sa

from tests.test_catalogue import JOIN_URL, add_booking, add_session, authority_id, london
from trainer.db import db
from trainer.people import LocalAuthority


def schema_for(client, name: str) -> dict:
    """A JSON Schema for one of the OpenAPI document's component schemas."""
    document = client.get("/api/v1/openapi.json").get_json()
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def check(client, name: str, instance) -> None:
    schema = schema_for(client, name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(instance)
    _check_times(instance)


def _check_times(value) -> None:
    """Every ``*_at`` is ISO 8601 with an explicit offset."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_at") and item is not None:
                assert datetime.fromisoformat(item).tzinfo is not None, (key, item)
            _check_times(item)
    elif isinstance(value, list):
        for item in value:
            _check_times(item)


def test_sessions_list_matches_the_document_and_shows_what_a_person_needs(app, client):
    session_id = add_session(
        app,
        title="Level 3 SENCO award",
        topics=["senco_role", "autism"],
        audiences=["sencos"],
        level="level_3",
        accredited=True,
        credits=15,
        mode="hybrid",
        online_url=JOIN_URL,
        capacity=10,
        restricted_to="Leeds",
        meetings=[
            (london(2030, 3, 5, 18, 30), london(2030, 3, 5, 20)),
            (london(2030, 7, 2, 18, 30), london(2030, 7, 2, 20)),
        ],
    )
    add_booking(app, session_id)
    online_id = add_session(
        app, mode="online", online_url=JOIN_URL,
        meetings=[(london(2030, 8, 1, 10), london(2030, 8, 1, 11))],
    )
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    check(client, "SessionList", body)
    assert JOIN_URL not in response.get_data(as_text=True)
    assert body["total"] == 2 and body["page"] == 1
    assert body["links"] == {"next": None, "prev": None}
    first, second = body["sessions"]
    assert (first["id"], second["id"]) == (session_id, online_id)
    assert first["course"]["title"] == "Level 3 SENCO award"
    assert first["course"]["topics"] == ["autism", "senco_role"]
    assert first["course"]["audiences"] == ["sencos"]
    assert first["course"]["level"] == "level_3"
    assert first["course"]["accredited"] is True and first["course"]["credits"] == 15
    assert first["course"]["delivery_partner"]["name"] == "Early Years Partnership"
    assert first["mode"] == "hybrid"
    assert first["twilight"] is True
    assert first["capacity"] == 10 and first["places_left"] == 9
    assert first["status"] == "scheduled"
    assert first["local_authority"]["name"] == "Leeds"
    assert first["region"]["name"] == "Yorkshire and The Humber"
    assert first["starts_at"] == "2030-03-05T18:30:00+00:00"
    assert first["ends_at"] == "2030-07-02T20:00:00+01:00"
    assert [meeting["starts_at"] for meeting in first["meetings"]] == [
        "2030-03-05T18:30:00+00:00", "2030-07-02T18:30:00+01:00"
    ]
    venue = first["meetings"][0]["venue"]
    assert venue["name"] == "Riverside Children's Centre"
    assert venue["postcode"] == "LS10 1AB"
    assert venue["accessibility_notes"] == "Step-free entrance and an accessible toilet."
    assert first["meetings"][0]["online"] is True
    assert first["links"]["html"].endswith(f"/training/sessions/{session_id}")
    assert first["links"]["ics"].endswith(f"/training/sessions/{session_id}.ics")
    assert client.get(urlsplit(first["links"]["html"]).path).status_code == 200
    assert client.get(urlsplit(first["links"]["ics"]).path).status_code == 200
    assert second["meetings"][0]["venue"] is None
    assert second["meetings"][0]["online"] is True
    assert second["local_authority"] is None


def test_times_carry_the_london_offset_in_winter_and_summer(app, client):
    winter = add_session(app, meetings=[(london(2030, 1, 15, 9), london(2030, 1, 15, 10))])
    summer = add_session(app, meetings=[(london(2030, 6, 15, 9), london(2030, 6, 15, 10))])
    assert client.get(f"/api/v1/sessions/{winter}").get_json()["starts_at"] == (
        "2030-01-15T09:00:00+00:00"
    )
    assert client.get(f"/api/v1/sessions/{summer}").get_json()["starts_at"] == (
        "2030-06-15T09:00:00+01:00"
    )


def test_filters_are_the_same_as_the_search_page(app, client):
    leeds = authority_id(app, "Leeds")
    makaton = add_session(app, title="Makaton", topics=["makaton"])
    autism = add_session(
        app, title="Autism", topics=["autism"], audiences=["parents_carers"], mode="online",
        meetings=[(london(2030, 7, 3, 17, 30), london(2030, 7, 3, 19))],
    )
    saturday = add_session(
        app, title="Saturday", topics=["behaviour"], venue_authority="Cornwall",
        meetings=[(london(2030, 7, 6, 18), london(2030, 7, 6, 20))], capacity=1,
    )
    add_booking(app, saturday)
    with app.app_context():
        south_west = db.session.scalar(
            sa.select(LocalAuthority.region_id).where(LocalAuthority.name == "Cornwall")
        )

    def ids(query):
        response = client.get("/api/v1/sessions?" + query)
        assert response.status_code == 200, (query, response.get_json())
        return [item["id"] for item in response.get_json()["sessions"]]

    assert ids("") == [makaton, autism, saturday]
    assert ids("topic=autism&topic=behaviour") == [autism, saturday]
    assert ids("audience=parents_carers") == [autism]
    assert ids(f"region={south_west}") == [saturday]
    assert ids(f"local_authority={leeds}") == [makaton]
    assert ids("mode=online") == [autism]
    assert ids("from=2030-07-01&to=2030-07-03") == [autism]
    assert ids("time_of_day=twilight") == [makaton, autism]
    assert ids("time_of_day=daytime") == [saturday]
    assert ids("places_left=true") == [makaton, autism]
    assert ids("places_left=false") == [makaton, autism, saturday]
    assert ids("text=makaton") == [makaton]


def test_pages_and_links(app, client):
    ids = [
        add_session(app, meetings=[(london(2030, 5, n, 10), london(2030, 5, n, 11))])
        for n in range(1, 6)
    ]
    body = client.get("/api/v1/sessions?per_page=2&mode=in_person").get_json()
    assert [item["id"] for item in body["sessions"]] == ids[:2]
    assert (body["page"], body["per_page"], body["total"]) == (1, 2, 5)
    assert body["links"]["prev"] is None
    following = urlsplit(body["links"]["next"])
    assert parse_qs(following.query) == {
        "page": ["2"], "per_page": ["2"], "mode": ["in_person"]
    }
    second = client.get(f"{following.path}?{following.query}").get_json()
    assert [item["id"] for item in second["sessions"]] == ids[2:4]
    assert second["links"]["prev"] and second["links"]["next"]
    last = client.get("/api/v1/sessions?per_page=2&page=3").get_json()
    assert [item["id"] for item in last["sessions"]] == ids[4:]
    assert last["links"]["next"] is None
    beyond = client.get("/api/v1/sessions?per_page=2&page=9").get_json()
    assert beyond["sessions"] == [] and beyond["total"] == 5
    assert parse_qs(urlsplit(beyond["links"]["prev"]).query)["page"] == ["3"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("region=abc", "region"),
        ("local_authority=0", "local_authority"),
        ("from=2026-13-40", "from"),
        ("to=tomorrow", "to"),
        ("from=2030-05-02&to=2030-05-01", "to"),
        ("per_page=1000", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("mode=boat", "mode"),
        ("topic=astrology", "topic"),
        ("audience=everyone", "audience"),
        ("time_of_day=dawn", "time_of_day"),
        ("places_left=maybe", "places_left"),
        ("course=abc", "course"),
        ("text=" + "x" * 101, "text"),
    ],
)
def test_bad_values_answer_400_with_field_errors(client, query, field):
    response = client.get("/api/v1/sessions?" + query)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    body = response.get_json()
    check(client, "Errors", body)
    assert list(body["errors"]) == [field]
    assert body["errors"][field] and all(isinstance(m, str) for m in body["errors"][field])


def test_several_bad_values_are_all_reported(client):
    response = client.get("/api/v1/sessions?region=abc&from=2026-13-40&per_page=1000&mode=boat")
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {"region", "from", "per_page", "mode"}
    assert errors["per_page"] == ["per_page must be a whole number from 1 to 100"]


def test_one_session_and_not_found(app, client):
    session_id = add_session(app, status="cancelled", cancel_reason="Snow")
    response = client.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200
    body = response.get_json()
    check(client, "Session", body)
    assert body["status"] == "cancelled" and body["places_left"] == 0
    missing = client.get("/api/v1/sessions/999")
    assert missing.status_code == 404
    assert missing.content_type == "application/json"
    check(client, "Errors", missing.get_json())
    assert client.get("/api/v1/sessions/99999999999999").status_code == 404


def test_openapi_document_describes_both_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/sessions", "/sessions/{session_id}"}
    assert document["servers"][0]["url"].endswith("/api/v1")
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    names = {p["name"] for p in document["paths"]["/sessions"]["get"]["parameters"]}
    assert names == {
        "text", "topic", "audience", "region", "local_authority", "mode", "from", "to",
        "time_of_day", "places_left", "course", "page", "per_page",
    }


def test_every_documented_parameter_is_accepted(app, client):
    session_id = add_session(app)
    with app.app_context():
        from trainer.catalogue import TrainingSession

        ts = db.session.get(TrainingSession, session_id)
        real = {"region": ts.region_id, "local_authority": ts.meetings[0].venue.local_authority_id,
                "course": ts.course_id}
    document = client.get("/api/v1/openapi.json").get_json()
    for parameter in document["paths"]["/sessions"]["get"]["parameters"]:
        name = parameter["name"]
        values = [real.get(name, parameter["example"])]
        if parameter["schema"].get("type") == "array":
            values = parameter["schema"]["items"]["enum"]
        elif "enum" in parameter["schema"]:
            values = parameter["schema"]["enum"]
        for value in values:
            if isinstance(value, bool):
                value = str(value).lower()
            response = client.get("/api/v1/sessions", query_string={name: value})
            assert response.status_code == 200, (name, value, response.get_json())
            check(client, "SessionList", response.get_json())
    # All at once too, with the example values (these match the session above).
    query = {
        "topic": "makaton", "audience": "practitioners", "mode": "in_person",
        "from": "2030-03-01", "to": "2030-03-31", "time_of_day": "twilight",
        "places_left": "true", "text": "makaton", "page": "1", "per_page": "10", **real,
    }
    body = client.get("/api/v1/sessions", query_string=query).get_json()
    assert [item["id"] for item in body["sessions"]] == [session_id]


def test_the_api_may_be_read_from_other_sites(client):
    response = client.get("/api/v1/sessions")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
