"""The monthly digest: built by ``tick`` from the configured day, once per month, for each
confirmed subscriber with sessions in their regions and topics; never twice, even when ticks
repeat, run at once or come after a gap."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from tests import factories
from tests.test_newsletter import add_subscriber, la_id, outbox, region_id, tick
from trainer import mail, times
from trainer.catalogue import Mode
from trainer.db import db
from trainer.plugins.newsletter import digest
from trainer.plugins.newsletter.models import Digest, DigestRun, SubscriberStatus
from trainer.times import LONDON

DAY = 15
SPAN = re.compile(r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} "
                  r"[A-Z][a-z]+ \d{4}, \d{1,2}(:\d\d)?(am|pm) to \d{1,2}(:\d\d)?(am|pm)",
                  re.MULTILINE)


def london(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def digest_day_next_month() -> date:
    """The digest day of the month after this one: in the future, whatever today is."""
    today = times.to_london(datetime.now(UTC)).date()
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, DAY)


def session_at(app, start: datetime, title: str, topics: list[str], region=None,
               capacity: int = 20, **fields) -> int:
    with app.app_context():
        course = factories.course(title, topics=topics)
        made = factories.training_session(start, course_=course, capacity=capacity,
                                          region_id=region, **fields)
        db.session.commit()
        return made.id


def digests_to(app, address: str) -> list:
    return [m for m in outbox(app, recipient=address) if "monthly digest" in m.text_body]


def build(app):
    """Sessions around the digest day and subscribers with different wishes."""
    app.config["NEWSLETTER_DIGEST_DAY"] = DAY
    when = digest_day_next_month()
    london_id, north_east = region_id(app, "London"), region_id(app, "North East")
    leeds, yorkshire = la_id(app, "Leeds"), region_id(app, "Yorkshire and The Humber")
    sessions = {
        "autism_london": session_at(app, london(when + timedelta(days=3), 18, 30),
                                    "Autism twilight", ["autism"], london_id),
        "speech_north": session_at(app, london(when + timedelta(days=10), 10),
                                   "Speech and language", ["speech_language_communication"],
                                   north_east),
        "online": session_at(app, london(when + timedelta(days=12), 18), "Makaton online",
                             ["makaton"], None, mode=Mode.ONLINE,
                             online_url="https://meet.example.org/x"),
        "full": session_at(app, london(when + timedelta(days=5), 18), "Full autism session",
                           ["autism"], london_id, capacity=0),
        "too_late": session_at(app, london(when + timedelta(days=40), 18), "Next term",
                               ["autism"], london_id),
        "closed": session_at(app, london(when + timedelta(days=6), 18), "Booking closed",
                             ["autism"], london_id,
                             booking_closes_at=london(when - timedelta(days=1), 9)),
        "leeds_only": session_at(app, london(when + timedelta(days=8), 18), "For Leeds",
                                 ["behaviour"], yorkshire, local_authority_id=leeds),
    }
    add_subscriber(app, "london-autism@example.com", regions=[london_id], topics=["autism"])
    add_subscriber(app, "everything@example.com")
    add_subscriber(app, "nothing-suits@example.com", regions=[region_id(app, "South West")],
                   topics=["senco_role"])
    add_subscriber(app, "pending@example.com", status=SubscriberStatus.PENDING)
    add_subscriber(app, "gone@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    add_subscriber(app, "in-leeds@example.com", regions=[yorkshire], local_authority=leeds)
    add_subscriber(app, "in-york@example.com", regions=[yorkshire],
                   local_authority=la_id(app, "York"))
    return london(when, 7), sessions


def titles(message) -> list[str]:
    return re.findall(r"^(.+)\n(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) ",
                      message.text_body, re.MULTILINE)


def test_the_digest_lists_each_subscribers_sessions_once_a_month(app):
    due, sessions = build(app)

    tick(app, due - timedelta(days=1))  # the day before: nothing yet
    assert outbox(app) == []

    tick(app, due)
    by_address = {address: digests_to(app, address) for address in (
        "london-autism@example.com", "everything@example.com", "nothing-suits@example.com",
        "pending@example.com", "gone@example.com", "in-leeds@example.com",
        "in-york@example.com")}
    assert [titles(m) for m in by_address["london-autism@example.com"]] == [
        ["Autism twilight"]]
    assert [titles(m) for m in by_address["everything@example.com"]] == [
        ["Autism twilight", "Speech and language", "Makaton online"]]
    assert [titles(m) for m in by_address["in-leeds@example.com"]] == [
        ["For Leeds", "Makaton online"]]
    assert [titles(m) for m in by_address["in-york@example.com"]] == [["Makaton online"]]
    for address in ("nothing-suits@example.com", "pending@example.com", "gone@example.com"):
        assert by_address[address] == [], address

    [message] = by_address["london-autism@example.com"]
    assert message.subject == "1 free training session coming up for you"
    with app.app_context():
        from trainer.catalogue import TrainingSession

        autism = db.session.get(TrainingSession, sessions["autism_london"])
        expected = times.span(autism.starts_at, autism.ends_at)
    assert re.search(r"^\w+day \d{1,2} \w+ \d{4}, 6:30pm to 8pm$", expected, re.MULTILINE)
    assert expected in message.text_body
    assert SPAN.search(message.text_body)
    assert f"/training/sessions/{sessions['autism_london']}" in message.text_body
    headers = message.header_map()
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http")
    assert "/newsletter/unsubscribe/" in message.text_body

    total = len(outbox(app))
    tick(app, due + timedelta(minutes=1))  # the next minute
    tick(app, due + timedelta(days=9))  # after a gap, same month
    assert len(outbox(app)) == total
    with app.app_context():
        [run] = db.session.scalars(sa.select(DigestRun)).all()
        assert run.finished_at is not None and run.queued_count == 4


def test_a_gap_past_the_day_still_sends_that_months_digest_once(app):
    due, _ = build(app)
    tick(app, due + timedelta(days=4, hours=5))
    assert len(digests_to(app, "everything@example.com")) == 1
    tick(app, due + timedelta(days=5))
    assert len(digests_to(app, "everything@example.com")) == 1


def test_two_ticks_at_once_send_each_digest_once(app):
    due, _ = build(app)
    app.config["NEWSLETTER_BATCH_SIZE"] = 2
    for number in range(40):
        add_subscriber(app, f"many{number}@example.com")
    barrier = threading.Barrier(3)
    errors = []

    def work():
        try:
            with app.app_context(), mail.link_context():
                barrier.wait()
                digest.send_due(due)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    tick(app, due + timedelta(minutes=1))  # finishes whatever a skipped worker left
    with app.app_context():
        rows = db.session.execute(sa.select(Digest.subscriber_id, Digest.month)).all()
        assert len(rows) == len(set(rows)) == 44
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestRun)) == 1
    addresses = [m.recipient for m in outbox(app) if "monthly digest" in m.text_body]
    assert len(addresses) == len(set(addresses)) == 44


def test_the_next_month_has_its_own_digest(app):
    due, _ = build(app)
    tick(app, due)
    assert len(digests_to(app, "everything@example.com")) == 1
    # A month on, the first month's sessions have passed; the next month's are listed.
    later = due + timedelta(days=31)
    session_at(app, later + timedelta(days=2), "A later session", ["autism"], None)
    tick(app, later)
    messages = digests_to(app, "everything@example.com")
    assert len(messages) == 2 and titles(messages[1]) == ["A later session", "Next term"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestRun)) == 2


def test_the_digest_day_is_configurable_and_clamped_to_the_months_end(app):
    app.config["NEWSLETTER_DIGEST_DAY"] = 31
    with app.app_context():
        assert digest.due_month(london(date(2026, 4, 29), 12)) is None
        assert digest.due_month(london(date(2026, 4, 30), 12)) == "2026-04"
        assert digest.due_month(london(date(2026, 2, 28), 12)) == "2026-02"
    app.config["NEWSLETTER_DIGEST_DAY"] = 1
    with app.app_context():
        # 11:30pm UTC on 31 May is 12:30am on 1 June in London (BST).
        assert digest.due_month(datetime(2026, 5, 31, 23, 30, tzinfo=UTC)) == "2026-06"
    assert digest.one_month_later(date(2026, 1, 31)) == date(2026, 2, 28)
    assert digest.one_month_later(date(2026, 12, 15)) == date(2027, 1, 15)
