"""The waiting list's rules: joining, offering freed places, answering offers, expiry.

Every change runs under the training session's row lock (:func:`trainer.db.lock_row` inside a
:func:`trainer.db.write_transaction`), either the engine's own (in the hooks the engine fires)
or one taken here, and queues its emails in the same transaction. So:

* offers are made only for places that are free after counting confirmed bookings and open
  holds, so confirmed + held never exceeds capacity;
* a person is offered a place only while their entry is waiting, so nobody holds two offers;
* offers go down the list in order: priority (highest first), then arrival.

Offer policy. Before the cut-off (``WAITLIST_OFFER_CUTOFF_HOURS`` before the first meeting) a
freed place is offered to one person at a time and held for ``WAITLIST_OFFER_HOURS``, never
past the cut-off. When that would leave the person less than ``WAITLIST_MIN_OFFER_HOURS`` to
answer, the place is offered to the next ``WAITLIST_SHARED_OFFER_SIZE`` people at once instead,
held until booking closes, and the first to accept takes it: a place nobody has time to take
helps nobody.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import url_for

from trainer import booking as engine
from trainer import hooks, mail, tokens
from trainer.catalogue import SessionStatus, TrainingSession
from trainer.config import number_setting
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.people import User
from trainer.plugins.waiting_list.models import (
    ACTIVE,
    EntryStatus,
    Hold,
    HoldStatus,
    Offer,
    OfferStatus,
    WaitlistEntry,
)

TOKEN_PURPOSE = "waitlist-offer"
DEFAULTS = {
    "WAITLIST_OFFER_HOURS": 48,
    "WAITLIST_OFFER_CUTOFF_HOURS": 24,
    "WAITLIST_MIN_OFFER_HOURS": 12,
    "WAITLIST_OFFER_REMINDER_HOURS": 12,
    "WAITLIST_SHARED_OFFER_SIZE": 3,
}
ORDER = (WaitlistEntry.priority.desc(), WaitlistEntry.joined_at, WaitlistEntry.id)
REASON_MAX = 1000
NOT_WAITING = "Only someone waiting without an offer can be offered a place."


def setting(name: str) -> int:
    """A waiting-list config value (``TRAINER_WAITLIST_*`` in the environment), as a number."""
    return number_setting(name, DEFAULTS[name])


class WaitlistError(ValueError):
    """A request the waiting list refuses; the message says why, and nothing changed."""


@dataclass
class Answer:
    """What happened, as a sentence to show the person."""

    ok: bool
    message: str
    entry: WaitlistEntry | None = None
    booking: object | None = None


# -- accepting an offer through the engine --------------------------------------------------------

# The offer being accepted in this context: its hold is not counted while the engine books the
# place, so the place it holds is the one booked.
_accepting: contextvars.ContextVar[tuple[int, datetime] | None] = contextvars.ContextVar(
    "waitlist_accepting", default=None
)
# The entry a trainer chose for the next place freed in this context (a manual offer).
_offer_first: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "waitlist_offer_first", default=None
)


@contextmanager
def _context(var: contextvars.ContextVar, value) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def is_accepting(user: User, session_id: int) -> bool:
    """Whether ``user`` is accepting their offer of a place on the session right now."""
    accepting = _accepting.get()
    if accepting is None:
        return False
    offer = db.session.get(Offer, accepting[0])
    return (offer is not None and offer.entry.user_id == user.id
            and offer.hold.training_session_id == session_id)


# -- reading the list -----------------------------------------------------------------------------


def active_entries(session_id: int, statuses=ACTIVE) -> list[WaitlistEntry]:
    """The session's list in offer order: priority first, then arrival."""
    return list(
        db.session.scalars(
            sa.select(WaitlistEntry)
            .where(
                WaitlistEntry.training_session_id == session_id,
                WaitlistEntry.status.in_(statuses),
            )
            .order_by(*ORDER)
        )
    )


def entry_for(user: User, session_id: int) -> WaitlistEntry | None:
    """The person's entry on the session's list while they are on it, else ``None``."""
    return db.session.scalar(
        sa.select(WaitlistEntry).where(
            WaitlistEntry.training_session_id == session_id,
            WaitlistEntry.user_id == user.id,
            WaitlistEntry.status.in_(ACTIVE),
        )
    )


def position(entry: WaitlistEntry) -> int:
    """1 for the first person on the list, and so on. People with an offer count too."""
    ahead = sa.or_(
        WaitlistEntry.priority > entry.priority,
        sa.and_(
            WaitlistEntry.priority == entry.priority,
            sa.or_(
                WaitlistEntry.joined_at < entry.joined_at,
                sa.and_(WaitlistEntry.joined_at == entry.joined_at,
                        WaitlistEntry.id < entry.id),
            ),
        ),
    )
    return 1 + db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.training_session_id == entry.training_session_id,
            WaitlistEntry.status.in_(ACTIVE),
            ahead,
        )
    )


def waiting_count(session_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.training_session_id == session_id,
            WaitlistEntry.status.in_(ACTIVE),
        )
    )


def someone_waiting(session_id: int) -> bool:
    """Whether anybody on the list is waiting without an offer."""
    return db.session.scalar(
        sa.select(
            sa.exists().where(
                WaitlistEntry.training_session_id == session_id,
                WaitlistEntry.status == EntryStatus.WAITING,
            )
        )
    )


def open_offer(entry: WaitlistEntry) -> Offer | None:
    return db.session.scalar(
        sa.select(Offer)
        .join(Offer.hold)
        .where(
            Offer.entry_id == entry.id,
            Offer.status == OfferStatus.OPEN,
            Hold.status == HoldStatus.OPEN,
        )
    )


def held_places(session_id: int) -> int:
    """Open holds on the session, less the one being accepted in this context."""
    held = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Hold)
        .where(Hold.training_session_id == session_id, Hold.status == HoldStatus.OPEN)
    )
    accepting = _accepting.get()
    if accepting is not None and held:
        offer_id, now = accepting
        offer = db.session.get(Offer, offer_id)
        if (
            offer is not None
            and offer.hold.training_session_id == session_id
            and offer.is_open
            and offer.hold.expires_at > now
        ):
            held -= 1
    return held


def held_places_by_session() -> dict[int, int]:
    """Open holds per session, in one query (for lists of sessions)."""
    return dict(
        db.session.execute(
            sa.select(Hold.training_session_id, sa.func.count())
            .where(Hold.status == HoldStatus.OPEN)
            .group_by(Hold.training_session_id)
        ).all()
    )


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def position_text(entry: WaitlistEntry) -> str:
    return f"You are {ordinal(position(entry))} on the waiting list."


# -- joining and leaving --------------------------------------------------------------------------


def join_problem(training_session: TrainingSession, user: User, now: datetime) -> str | None:
    """Why ``user`` may not join the session's list now, or ``None``: the core's booking
    checks (cancelled, window, LA, already booked), already on the list, or places left with
    nobody waiting. :func:`join` asks under the lock; pages ask to explain before anyone
    presses the button."""
    reason = engine.refusal(training_session, user, now)
    if reason is not None:
        return reason
    existing = entry_for(user, training_session.id)
    if existing is not None:
        return "You are already on the waiting list. " + position_text(existing)
    if waiting_count(training_session.id) == 0 and engine.free_places(training_session) > 0:
        return "There are places left on this session, so you can book one."
    return None


def join(session_id: int, user: User, now: datetime | None = None) -> Answer:
    """Put ``user`` on the session's list, at the back (adjusted by priority).

    Allowed when the session is fully booked or others are already waiting, for anybody who
    could otherwise book it. Emails the person their position. The arrival time is read under
    the session's lock, so the list's order is the order joins commit in and a position once
    told never changes except by priority or people leaving.
    """
    given = now
    with write_transaction():
        training_session = lock_row(TrainingSession, session_id)
        now = given or utcnow()
        if training_session is None:
            raise WaitlistError("There is no such training session.")
        problem = join_problem(training_session, user, now)
        if problem is not None:
            return Answer(False, problem, entry=entry_for(user, session_id))
        waiting = waiting_count(session_id)
        entry = WaitlistEntry(
            training_session=training_session, user=user, joined_at=now,
            status=EntryStatus.WAITING,
        )
        db.session.add(entry)
        entry.priority = sum(
            float(number)
            for number in hooks.call("trainer_waitlist_priority", entry=entry)
            if number is not None
        )
        db.session.flush()
        place = position(entry)
        _send(entry, "joined", "You are on the waiting list", place=ordinal(place),
              waiting=waiting + 1)
        offer_free_places(training_session, now)
        return Answer(True, f"You have joined the waiting list. You are {ordinal(place)} "
                      "on the list.", entry=entry)


def leave(entry_id: int, user: User, now: datetime | None = None) -> Answer:
    """Take the person off the list; a place held for them goes to the next person."""
    return _end_entry(entry_id, now, EntryStatus.LEFT, owner=user,
                      message="You have left the waiting list.")


def remove(entry_id: int, reason: str, now: datetime | None = None) -> Answer:
    """Take someone off the list (a trainer or administrator), telling them why."""
    reason = (reason or "").strip()
    if not reason:
        raise WaitlistError("Enter the reason to send them")
    return _end_entry(entry_id, now, EntryStatus.REMOVED, reason=reason[:REASON_MAX],
                      message="They have been removed from the waiting list and told why.")


def leave_every_list(user: User, now: datetime | None = None) -> int:
    """Take ``user`` off every list they are on, as leaving does: an offer they hold is
    withdrawn and its place goes to the next person. Runs in the caller's write transaction
    (erasure's), taking each session's lock in turn. Returns how many lists they left."""
    now = now or utcnow()
    session_ids = list(db.session.scalars(
        sa.select(WaitlistEntry.training_session_id).distinct()
        .where(WaitlistEntry.user_id == user.id, WaitlistEntry.status.in_(ACTIVE))
        .order_by(WaitlistEntry.training_session_id)))
    for session_id in session_ids:
        training_session = lock_row(TrainingSession, session_id)
        for entry in db.session.scalars(
                sa.select(WaitlistEntry).where(
                    WaitlistEntry.training_session_id == session_id,
                    WaitlistEntry.user_id == user.id,
                    WaitlistEntry.status.in_(ACTIVE))
                .execution_options(populate_existing=True)):
            _withdraw_offers(entry, now)
            _close_entry(entry, EntryStatus.LEFT, now)
        db.session.flush()
        offer_free_places(training_session, now)
    return len(session_ids)


def _end_entry(entry_id: int, now: datetime | None, status: EntryStatus, message: str,
               owner: User | None = None, reason: str | None = None) -> Answer:
    now = now or utcnow()
    session_id = db.session.scalar(
        sa.select(WaitlistEntry.training_session_id).where(WaitlistEntry.id == entry_id)
    )
    if session_id is None:
        raise WaitlistError("There is no such entry on a waiting list.")
    with write_transaction():
        training_session = lock_row(TrainingSession, session_id)
        entry = db.session.get(WaitlistEntry, entry_id, populate_existing=True)
        if owner is not None and entry.user_id != owner.id:
            raise WaitlistError("There is no such entry on a waiting list.")
        if not entry.is_active:
            return Answer(False, "This person is no longer on the waiting list.", entry=entry)
        _withdraw_offers(entry, now)
        _close_entry(entry, status, now, reason)
        if status == EntryStatus.REMOVED:
            _send(entry, "removed", "You have been removed from the waiting list",
                  reason=reason)
        offer_free_places(training_session, now)
        return Answer(True, message, entry=entry)


def _close_entry(entry: WaitlistEntry, status: EntryStatus, now: datetime,
                 reason: str | None = None) -> None:
    entry.status = status
    entry.ended_at = now
    entry.end_reason = reason


def _withdraw_offers(entry: WaitlistEntry, now: datetime,
                     status: OfferStatus = OfferStatus.WITHDRAWN) -> None:
    """Close the entry's open offer; its hold is released unless others still share it."""
    offer = open_offer(entry)
    if offer is None:
        return
    offer.status = status
    offer.answered_at = now
    hold = offer.hold
    if not any(other.status == OfferStatus.OPEN for other in hold.offers):
        hold.status = HoldStatus.RELEASED
        hold.closed_at = now


# -- offering -------------------------------------------------------------------------------------


def offer_window(training_session: TrainingSession, now: datetime) -> tuple[datetime, bool] | None:
    """When an offer made now would expire, and whether it is shared; ``None`` when booking
    has closed, so no offer can be made."""
    if training_session.is_cancelled or training_session.booking_window_problem(now):
        return None
    closes = training_session.booking_closes_at or training_session.starts_at
    if training_session.starts_at is not None and closes is not None:
        closes = min(closes, training_session.starts_at)
    expires = now + timedelta(hours=setting("WAITLIST_OFFER_HOURS"))
    if training_session.starts_at is not None:
        cutoff = training_session.starts_at - timedelta(
            hours=setting("WAITLIST_OFFER_CUTOFF_HOURS")
        )
        expires = min(expires, cutoff)
    if closes is not None:
        expires = min(expires, closes)
    if expires - now >= timedelta(hours=setting("WAITLIST_MIN_OFFER_HOURS")):
        return expires, False
    if closes is None or closes <= now:
        return None
    return closes, True


def offer_free_places(
    training_session: TrainingSession, now: datetime | None = None
) -> list[Offer]:
    """Offer every free place to the people next on the list. The caller holds the session's
    lock and commits. Returns the offers made."""
    now = now or utcnow()
    window = offer_window(training_session, now)
    if window is None:
        return []
    expires_at, shared = window
    free = engine.free_places(training_session)
    if free <= 0:
        return []
    waiting = active_entries(training_session.id, statuses=(EntryStatus.WAITING,))
    first = _offer_first.get()
    if first is not None:
        waiting.sort(key=lambda entry: entry.id != first)
    group = max(setting("WAITLIST_SHARED_OFFER_SIZE"), 1) if shared else 1
    offers = []
    for _ in range(free):
        if not waiting:
            break
        # A trainer's chosen person gets the place to themselves.
        size = 1 if first is not None and waiting[0].id == first else group
        recipients, waiting = waiting[:size], waiting[size:]
        hold = Hold(
            training_session_id=training_session.id,
            shared=len(recipients) > 1,
            manual=first is not None and recipients[0].id == first,
            created_at=now,
            expires_at=expires_at,
        )
        db.session.add(hold)
        for entry in recipients:
            offer = Offer(hold=hold, entry=entry, created_at=now)
            db.session.add(offer)
            entry.status = EntryStatus.OFFERED
            offers.append(offer)
    db.session.flush()
    for offer in offers:
        _send_offer(offer)
    return offers


def offer_to(entry_id: int, now: datetime | None = None) -> Answer:
    """Offer a place to one person now, ahead of the list (a trainer's choice).

    Uses a free place when there is one; otherwise adds a place to the session (through the
    engine's :func:`trainer.booking.change_capacity`) and offers that one.
    """
    now = now or utcnow()
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise WaitlistError("There is no such entry on a waiting list.")
    if entry.status != EntryStatus.WAITING:
        return Answer(False, NOT_WAITING, entry=entry)
    training_session = entry.training_session
    if offer_window(training_session, now) is None:
        return Answer(False, "Booking for this session has closed, so no place can be "
                      "offered.", entry=entry)
    with _context(_offer_first, entry.id):
        with write_transaction():
            locked = lock_row(TrainingSession, training_session.id)
            db.session.refresh(entry)
            if entry.status != EntryStatus.WAITING:
                return Answer(False, NOT_WAITING, entry=entry)
            if engine.free_places(locked) > 0:
                made = offer_free_places(locked, now)
                if any(offer.entry_id == entry.id for offer in made):
                    return Answer(True, f"{entry.user.name} has been offered a place.",
                                  entry=entry)
            capacity = locked.capacity
        engine.change_capacity(training_session.id, capacity + 1)
    db.session.refresh(entry)
    if entry.status == EntryStatus.OFFERED:
        return Answer(True, f"A place was added (capacity {capacity + 1}) and offered to "
                      f"{entry.user.name}.", entry=entry)
    return Answer(False, "The place could not be offered. Try again.", entry=entry)


# -- answering an offer ---------------------------------------------------------------------------


def offer_token(offer: Offer) -> str:
    return tokens.make(TOKEN_PURPOSE, {"offer": offer.id, "user": offer.entry.user_id})


def read_offer_token(token: str) -> Offer | None:
    """The offer a link is for, or ``None`` when the link is damaged or too old."""
    try:
        payload = tokens.read(TOKEN_PURPOSE, token, max_age_seconds=60 * 24 * 3600)
    except tokens.TokenError:
        return None
    if not isinstance(payload, dict):
        return None
    offer = db.session.get(Offer, payload.get("offer"))
    if offer is None or offer.entry.user_id != payload.get("user"):
        return None
    return offer


def offer_problem(offer: Offer, now: datetime) -> str | None:
    """Why this offer can no longer be answered, or ``None``."""
    if offer.status == OfferStatus.ACCEPTED:
        return "You have already accepted this place."
    if offer.status == OfferStatus.DECLINED:
        return "You have already declined this place."
    if offer.status == OfferStatus.LOST:
        return "Sorry, somebody else accepted this place first. You are still on the " \
               "waiting list."
    if offer.status == OfferStatus.WITHDRAWN:
        return "This offer has been withdrawn."
    if offer.status == OfferStatus.EXPIRED or offer.hold.expires_at <= now:
        return "Sorry, this offer has expired."
    if offer.hold.status != HoldStatus.OPEN:
        return "This offer is no longer open."
    return None


def accept(offer_id: int, access_needs: str = "", share_with_la: bool = False,
           now: datetime | None = None) -> Answer:
    """Book the offered place through the engine, with its usual checks and emails.

    The offer's own hold is left out of the count while booking, so exactly the held place is
    booked; ``trainer_booking_confirmed`` then closes the offer in the same transaction.
    """
    now = now or utcnow()
    offer = db.session.get(Offer, offer_id)
    if offer is None:
        raise WaitlistError("There is no such offer.")
    problem = offer_problem(offer, now)
    if problem is not None:
        return Answer(False, problem, entry=offer.entry)
    user, session_id = offer.entry.user, offer.hold.training_session_id
    with _context(_accepting, (offer.id, now)):
        result = engine.book(session_id, user, access_needs=access_needs,
                             share_with_la=share_with_la, now=now)
    if result.ok:
        return Answer(True, "Your place is booked.", booking=result.booking)
    db.session.expire_all()
    offer = db.session.get(Offer, offer_id)
    return Answer(False, offer_problem(offer, now) or result.message, entry=offer.entry)


def decline(offer_id: int, now: datetime | None = None) -> Answer:
    """Turn the place down: the person leaves the list and the place goes to the next."""
    now = now or utcnow()
    offer = db.session.get(Offer, offer_id)
    if offer is None:
        raise WaitlistError("There is no such offer.")
    with write_transaction():
        training_session = lock_row(TrainingSession, offer.hold.training_session_id)
        offer = db.session.get(Offer, offer_id, populate_existing=True)
        db.session.refresh(offer.hold)
        problem = offer_problem(offer, now)
        if problem is not None:
            return Answer(False, problem, entry=offer.entry)
        _withdraw_offers(offer.entry, now, status=OfferStatus.DECLINED)
        _close_entry(offer.entry, EntryStatus.DECLINED, now)
        offer_free_places(training_session, now)
        return Answer(True, "You have declined the place and left the waiting list.",
                      entry=offer.entry)


# -- hooks' work ----------------------------------------------------------------------------------


def booking_confirmed(booking) -> None:
    """Someone on the list has a place: close their entry, and their offer if it was one."""
    entry = entry_for(booking.user, booking.training_session_id)
    if entry is None:
        return
    now = booking.confirmed_at or utcnow()
    offer = open_offer(entry)
    if offer is not None:
        offer.status = OfferStatus.ACCEPTED
        offer.answered_at = now
        hold = offer.hold
        hold.status = HoldStatus.TAKEN
        hold.closed_at = now
        for other in hold.offers:
            if other.id != offer.id and other.status == OfferStatus.OPEN:
                other.status = OfferStatus.LOST
                other.answered_at = now
                other.entry.status = EntryStatus.WAITING
                _send(other.entry, "offer_taken", "The place has been taken")
    _close_entry(entry, EntryStatus.PLACED, now)


def session_cancelled(training_session: TrainingSession) -> None:
    """Everyone on the list is taken off it and told."""
    now = utcnow()
    for entry in active_entries(training_session.id):
        _withdraw_offers(entry, now)
        _close_entry(entry, EntryStatus.CANCELLED, now, training_session.cancel_reason)
        _send(entry, "session_cancelled", "Training session cancelled",
              reason=training_session.cancel_reason)


def session_ended(training_session: TrainingSession) -> None:
    """The session has taken place: whoever is still waiting leaves the list, and any hold
    still open is closed."""
    now = utcnow()
    for entry in active_entries(training_session.id):
        _withdraw_offers(entry, now, status=OfferStatus.EXPIRED)
        _close_entry(entry, EntryStatus.CLOSED, now)


def expire_offers(now: datetime) -> int:
    """Close holds whose time is up, tell the people, and offer the places on. Returns how
    many offers expired. Safe to run twice at once: each session is handled under its lock
    and only holds still open are touched."""
    session_ids = list(
        db.session.scalars(
            sa.select(Hold.training_session_id)
            .where(Hold.status == HoldStatus.OPEN, Hold.expires_at <= now)
            .distinct()
        )
    )
    db.session.rollback()
    expired = 0
    for session_id in session_ids:
        with write_transaction():
            training_session = lock_row(TrainingSession, session_id)
            holds = db.session.scalars(
                sa.select(Hold)
                .where(Hold.training_session_id == session_id, Hold.status == HoldStatus.OPEN,
                       Hold.expires_at <= now)
                .execution_options(populate_existing=True)
            ).all()
            for hold in holds:
                hold.status = HoldStatus.EXPIRED
                hold.closed_at = now
                for offer in hold.offers:
                    if offer.status != OfferStatus.OPEN:
                        continue
                    offer.status = OfferStatus.EXPIRED
                    offer.answered_at = now
                    _close_entry(offer.entry, EntryStatus.EXPIRED, now)
                    _send(offer.entry, "offer_expired", "Your offer of a place has expired")
                    expired += 1
            db.session.flush()
            offer_free_places(training_session, now)
    return expired


def remind_offers(now: datetime) -> int:
    """Tell people whose offer runs out within ``WAITLIST_OFFER_REMINDER_HOURS`` (once each,
    and only when the offer lasted longer than that). Returns how many were reminded."""
    ahead = timedelta(hours=setting("WAITLIST_OFFER_REMINDER_HOURS"))
    due = list(
        db.session.scalars(
            sa.select(Offer.id)
            .join(Offer.hold)
            .where(
                Offer.status == OfferStatus.OPEN,
                Offer.reminded_at.is_(None),
                Hold.status == HoldStatus.OPEN,
                Hold.expires_at > now,
                Hold.expires_at <= now + ahead,
            )
        )
    )
    db.session.rollback()
    reminded = 0
    for offer_id in due:
        with write_transaction():
            offer = db.session.get(Offer, offer_id)
            if offer.hold.expires_at - offer.created_at <= ahead:
                continue  # made inside the reminder window: the offer email said it all
            claimed = db.session.execute(
                sa.update(Offer)
                .where(Offer.id == offer_id, Offer.reminded_at.is_(None),
                       Offer.status == OfferStatus.OPEN)
                .values(reminded_at=now)
            ).rowcount
            if claimed != 1:
                continue
            _send_offer(offer, reminder=True)
            reminded += 1
    return reminded


def fill_free_places(now: datetime) -> int:
    """Offer places that are free while people wait (say after booking reopened, or a gap in
    ticks). Returns how many offers were made."""
    candidates = list(
        db.session.scalars(
            sa.select(TrainingSession.id).where(
                TrainingSession.status == SessionStatus.SCHEDULED,
                sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
                TrainingSession.id.in_(
                    sa.select(WaitlistEntry.training_session_id).where(
                        WaitlistEntry.status == EntryStatus.WAITING
                    )
                ),
            )
        )
    )
    db.session.rollback()
    made = 0
    for session_id in candidates:
        training_session = db.session.get(TrainingSession, session_id)
        if engine.free_places(training_session) <= 0:
            continue
        db.session.rollback()
        with write_transaction():
            locked = lock_row(TrainingSession, session_id)
            made += len(offer_free_places(locked, now))
    return made


# -- emails ---------------------------------------------------------------------------------------


def _session_url(training_session: TrainingSession) -> str:
    return url_for("catalogue.session_page", session_id=training_session.id, _external=True)


def _send(entry: WaitlistEntry, template: str, subject: str, **context) -> None:
    training_session = entry.training_session
    mail.send_template(
        entry.user,
        f"{subject}: {training_session.course.title}",
        f"waiting_list/{template}",
        entry=entry,
        training_session=training_session,
        session_url=_session_url(training_session),
        my_training_url=url_for("bookings.my_training", _external=True),
        **context,
    )


def _send_offer(offer: Offer, reminder: bool = False) -> None:
    token = offer_token(offer)
    subject = "Reminder: answer your offer of a place" if reminder else "A place is free for you"
    _send(
        offer.entry,
        "offer",
        subject,
        offer=offer,
        hold=offer.hold,
        reminder=reminder,
        accept_url=url_for("waiting_list.answer_offer", token=token, answer="accept",
                           _external=True),
        decline_url=url_for("waiting_list.answer_offer", token=token, answer="decline",
                            _external=True),
    )


def invite_to_session(entries: list[WaitlistEntry], new_session: TrainingSession) -> int:
    """Email each person (in the order given) about a new session of their course, and note
    it on their entry. The caller commits. Returns how many were invited."""
    invited = 0
    for entry in entries:
        if entry.invited_to_session_id == new_session.id:
            continue
        entry.invited_to_session_id = new_session.id
        mail.send_template(
            entry.user,
            f"New date added: {new_session.course.title}",
            "waiting_list/invited",
            entry=entry,
            training_session=new_session,
            waiting_for=entry.training_session,
            session_url=_session_url(new_session),
            book_url=url_for("bookings.book", session_id=new_session.id, _external=True),
        )
        invited += 1
    return invited
