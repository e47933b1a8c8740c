"""Waiting-list rush: a full session's waiting list filled at once, then places freed at once.

gunicorn (4 workers x 8 threads) serves the app over PostgreSQL (``BENCH_DATABASE_URL``) and
again over SQLite, with the built-in waiting-list plugin. Over HTTP:

1. 500 signed-in people book one 30-place session at the same moment;
2. the 470 told "fully booked" follow "Join the waiting list", all at the same moment;
3. 20 of the 30 who booked cancel, all at the same moment.

Checked in the database after each phase: 30 confirmed; 470 on the list, once each; the list in
the plugin's order (priority, ``joined_at``, id) is the order the joins were committed (id
order: every join inserts its entry while holding the session's lock, so ids are handed out in
commit order); the plugin's ``position()`` gives 1 to 470 with no gap or duplicate; after the
cancellations exactly 20 open offers, to positions 1 to 20 and nobody else, and 20 offer
emails to those people. Required as well: no 5xx in any phase. Prints the figures, latency
percentiles per phase, and the positions people were told in their "you are on the list"
emails that no longer hold.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from bench.common import (
    app_environment,
    database_engine,
    failures,
    gunicorn,
    in_app,
    on_postgres,
    prepare_rush,
    report,
    sign_in_all,
    summary,
    timed_fire,
    tokens,
)

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "500"))
CAPACITY = 30
CANCELLING = 20
WAITING = PEOPLE - CAPACITY
TOLD = re.compile(r"You are (\d+)(?:st|nd|rd|th) on the list")
BOOKING_ID = re.compile(r"/bookings/(\d+)/confirmed$")


def _ranges(numbers) -> str:
    """``1–20, 25`` for 1, 2, ..., 20, 25."""
    numbers, parts = sorted(numbers), []
    for number in numbers:
        if parts and number == parts[-1][1] + 1:
            parts[-1][1] = number
        else:
            parts.append([number, number])
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in parts) or "none"


def _moment(value) -> datetime:
    """A timestamp as read back by plain SQL (SQLite gives the stored text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _list_positions(environment: dict, session_id: int) -> list[tuple[int, int]]:
    """The session's list in the plugin's own order (``service.active_entries``), with the
    plugin's ``position()`` of each entry: ``[(entry id, position), ...]``."""
    code = f"""
import json
from trainer.plugins.waiting_list import service
entries = service.active_entries({session_id})
print(json.dumps([[entry.id, service.position(entry)] for entry in entries]))
"""
    return [tuple(pair) for pair in json.loads(in_app(environment, code).strip().splitlines()[-1])]


def run(database_url: str | None, label: str) -> None:
    where = f"waiting-list rush on {label}"
    with tempfile.TemporaryDirectory() as folder:
        environment = app_environment(folder, database_url)
        session_id = prepare_rush(environment, PEOPLE, CAPACITY)
        engine = database_engine(database_url, folder)
        with gunicorn(environment) as base, engine.connect() as connection:

            def scalar(sql: str, **values):
                return connection.execute(sa.text(sql), {"id": session_id, **values}).scalar()

            def rows(sql: str, **values):
                return connection.execute(sa.text(sql), {"id": session_id, **values}).all()

            def confirmed() -> int:
                return scalar("SELECT count(*) FROM booking WHERE training_session_id = :id "
                              "AND status = 'confirmed'")

            user_ids = dict(rows("SELECT email, id FROM user_account"))
            emails = {user_id: email for email, user_id in user_ids.items()}
            connection.rollback()
            clients = sign_in_all(base, PEOPLE)
            person = [user_ids[f"rush{number}@example.org"] for number in range(PEOPLE)]
            print(f"{where}: {PEOPLE} people, {CAPACITY} places, {CANCELLING} cancel")

            # 1. Everyone books at once.
            book_url = f"{base}/my-training/book/{session_id}"
            forms = [{"csrf_token": token} for token in tokens(clients, book_url)]
            book_hits, book_wall = timed_fire(clients, book_url, forms)
            join_path = f"/waiting-list/sessions/{session_id}/join"
            booked = [number for number, hit in enumerate(book_hits)
                      if hit.status == 302 and BOOKING_ID.search(hit.location)]
            full = [number for number, hit in enumerate(book_hits)
                    if hit.status == 200 and f'href="{join_path}"' in hit.text]
            after_booking = confirmed()
            connection.rollback()
            print(f"  confirmed in the database: {after_booking} (required {CAPACITY}); "
                  f"redirected to a confirmation: {len(booked)}; answered FULL with \"Join the "
                  f"waiting list\": {len(full)}; other answers: "
                  f"{PEOPLE - len(booked) - len(full)}")
            book = summary("book", book_hits, book_wall)

            # 2. Those told "full" join the waiting list at once.
            join_url = f"{base}{join_path}"
            joiners = [clients[number] for number in full]
            forms = [{"csrf_token": token} for token in tokens(joiners, join_url)]
            join_hits, join_wall = timed_fire(joiners, join_url, forms)
            joined = sum(1 for hit in join_hits
                         if hit.status == 302 and hit.location.endswith(f"/sessions/{session_id}"))
            entries = rows("SELECT id, user_id, status, joined_at FROM waitlist_entry "
                           "WHERE training_session_id = :id ORDER BY id")
            connection.rollback()
            on_list = [entry for entry in entries if entry.status in ("waiting", "offered")]
            listed_people = Counter(entry.user_id for entry in on_list)
            twice = sum(1 for count in listed_people.values() if count > 1)
            right_people = set(listed_people) == {person[number] for number in full}
            print(f"  joined (redirected to the session): {joined}; on the list: {len(on_list)} "
                  f"(required {WAITING}); on it twice: {twice}; exactly those told FULL: "
                  f"{'yes' if right_people else 'no'}")
            join = summary("join", join_hits, join_wall)

            # The list's order against the order the joins were committed (entry ids).
            listed = _list_positions(environment, session_id)
            plugin_order = [entry_id for entry_id, _position in listed]
            commit_order = sorted(plugin_order)
            in_order = plugin_order == commit_order
            out_of_place = sum(1 for a, b in zip(plugin_order, commit_order, strict=True)
                               if a != b)
            latest, behind, most = None, 0, 0.0
            for entry in on_list:  # in id (commit) order
                joined_at = _moment(entry.joined_at)
                if latest is not None and joined_at < latest:
                    behind += 1
                    most = max(most, (latest - joined_at).total_seconds())
                latest = joined_at if latest is None else max(latest, joined_at)
            print(f"  list order (priority, joined_at, id) == commit order (id): "
                  f"{'yes' if in_order else 'no'}; entries out of place: {out_of_place}; "
                  f"committed after an entry with a later joined_at: {behind} "
                  f"(by up to {most * 1000:.0f} ms)")
            positions = {entry_id: place for entry_id, place in listed}
            gapless = sorted(positions.values()) == list(range(1, len(listed) + 1))
            matches_order = all(place == index + 1
                                for index, (_entry, place) in enumerate(listed))
            duplicates = sum(count - 1 for count in Counter(positions.values()).values())
            entry_of = {entry.user_id: entry.id for entry in on_list}
            told = {}
            for recipient, body in rows(
                    "SELECT recipient, text_body FROM outbox_message "
                    "WHERE subject LIKE 'You are on the waiting list%'"):
                match = TOLD.search(body)
                told[entry_of.get(user_ids[recipient])] = int(match.group(1)) if match else None
            connection.rollback()
            told_wrong = sum(1 for entry_id, place in told.items()
                             if positions.get(entry_id) != place)
            told_shared = sum(count - 1 for count in Counter(told.values()).values())
            print(f"  positions (plugin's position()): {_ranges(positions.values())}; "
                  f"duplicates: {duplicates}; in list order: {'yes' if matches_order else 'no'}"
                  f"; join emails: {len(told)}, their position no longer right: {told_wrong}, "
                  f"positions emailed to more than one person: {told_shared}")

            # 3. Twenty of those who booked cancel at once.
            cancelling = booked[:CANCELLING]
            cancel_urls = [f"{base}/my-training/bookings/"
                           f"{BOOKING_ID.search(book_hits[number].location).group(1)}/cancel"
                           for number in cancelling]
            cancellers = [clients[number] for number in cancelling]
            forms = [{"csrf_token": token, "reason": "cannot_attend", "other": ""}
                     for token in tokens(cancellers, cancel_urls)]
            cancel_hits, cancel_wall = timed_fire(cancellers, cancel_urls, forms)
            cancelled = sum(1 for hit in cancel_hits
                            if hit.status == 302 and hit.location.endswith("/cancelled"))
            after_cancelling = confirmed()
            offers = rows(
                "SELECT o.entry_id, h.shared FROM waitlist_offer o "
                "JOIN waitlist_hold h ON h.id = o.hold_id WHERE h.training_session_id = :id "
                "AND o.status = 'open' AND h.status = 'open'")
            all_offers = scalar("SELECT count(*) FROM waitlist_offer o JOIN waitlist_hold h "
                                "ON h.id = o.hold_id WHERE h.training_session_id = :id")
            holds = scalar("SELECT count(*) FROM waitlist_hold WHERE training_session_id = :id "
                           "AND status = 'open'")
            offered_entries = scalar("SELECT count(*) FROM waitlist_entry "
                                     "WHERE training_session_id = :id AND status = 'offered'")
            offer_mail = [recipient for (recipient,) in rows(
                "SELECT recipient FROM outbox_message WHERE subject LIKE 'A place is free%'")]
            cancel_mail = scalar("SELECT count(*) FROM outbox_message "
                                 "WHERE subject LIKE 'Booking cancelled%'")
            connection.rollback()
            offered_positions = sorted(positions.get(entry_id, 0) for entry_id, _s in offers)
            first_committed = set(commit_order[:CANCELLING])
            commit_first = sum(1 for entry_id, _s in offers if entry_id in first_committed)
            user_of = {entry.id: entry.user_id for entry in on_list}
            mailed_right = sorted(offer_mail) == sorted(
                emails[user_of[entry_id]] for entry_id, _s in offers if entry_id in user_of)
            print(f"  cancelled (redirected): {cancelled} of {CANCELLING}; confirmed now: "
                  f"{after_cancelling}; cancellation emails: {cancel_mail}")
            cancel = summary("cancel", cancel_hits, cancel_wall)
            print(f"  offers: open {len(offers)} (required {CANCELLING}; offers ever made "
                  f"{all_offers}, holds open {holds}, shared "
                  f"{sum(1 for _e, shared in offers if shared)}, entries marked offered "
                  f"{offered_entries}) to positions {_ranges(offered_positions)} (of them "
                  f"among the first {CANCELLING} joins committed: {commit_first}); offer "
                  f"emails {len(offer_mail)}, to exactly the people offered: "
                  f"{'yes' if mailed_right else 'no'}")

            errors = book["errors"] + join["errors"] + cancel["errors"]
            report(errors == 0, f"zero 5xx (book, join and cancel: {errors})", where)
            report(after_booking == CAPACITY and len(booked) == CAPACITY
                   and len(full) == WAITING,
                   f"{CAPACITY} confirmed, {WAITING} answered FULL with a join link", where)
            report(joined == WAITING and len(on_list) == WAITING and twice == 0
                   and right_people, f"{WAITING} on the waiting list, once each", where)
            report(in_order, "list order == order the joins were committed", where)
            report(gapless and duplicates == 0 and matches_order,
                   f"positions 1..{WAITING}, no gaps or duplicates", where)
            report(cancelled == CANCELLING and after_cancelling == CAPACITY - CANCELLING
                   and len(offers) == all_offers == holds == offered_entries == CANCELLING
                   and offered_positions == list(range(1, CANCELLING + 1))
                   and len(offer_mail) == CANCELLING and mailed_right,
                   f"{CANCELLING} cancelled -> {CANCELLING} open offers to positions "
                   f"1-{CANCELLING} and no other, {CANCELLING} offer emails", where)
        engine.dispose()


def main() -> None:
    on_postgres(run, "waiting-list rush")
    run(None, "SQLite")


if __name__ == "__main__":
    main()
    raise SystemExit(1 if failures() else 0)
