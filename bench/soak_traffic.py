"""The soak's simulated people: each signs in as a practitioner, a trainer and a panel member
and does one action after another (browse, book, cancel, answer, register, assess), timing
every request and checking that each page is one the action can expect.

An expected refusal ("fully booked", "marked absent") is an outcome, not an error; a 5xx, a
connection error or timeout, or any other page is an error.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

from bench import soak_data
from bench.common import CSRF, PASSWORD

THINK_SECONDS = float(os.environ.get("SOAK_THINK_SECONDS", "0.5"))
ACTIONS = ("browse", "book", "cancel", "answer", "register", "assess")
TIMEOUT = 60
BOOKING_ID = re.compile(r"/my-training/bookings/(\d+)/confirmed$")


def parse_weights(text: str) -> dict[str, float]:
    """``browse=40,book=16`` as a mapping; unknown actions are refused."""
    weights = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, value = part.partition("=")
        if name not in ACTIONS:
            raise SystemExit(f"SOAK_WEIGHTS: unknown action {name!r}; choose from "
                             f"{', '.join(ACTIONS)}")
        weights[name] = float(value)
    return weights


# -- pages --------------------------------------------------------------------------------------


class FormFields(HTMLParser):
    """The radio groups (name → values) and the names of text areas on a page."""

    def __init__(self, html: str):
        super().__init__()
        self.radios: dict[str, list[str]] = defaultdict(list)
        self.textareas: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "radio" and attributes.get("name"):
            self.radios[attributes["name"]].append(attributes.get("value", ""))
        elif tag == "textarea" and attributes.get("name"):
            self.textareas.append(attributes["name"])


def form_errors(page: str) -> str:
    """The messages of a page's error summary, for reporting an unexpected page."""
    summary = page.partition("govuk-error-summary__list")[2].partition("</ul>")[0]
    return "; ".join(re.sub(r"<[^>]+>", "", item).strip()
                     for item in summary.split("<li")[1:]) or "no error summary"


class Unexpected(Exception):
    """The server answered with a page the simulated person did not expect."""


@dataclass
class Sample:
    at: float  # seconds since the traffic started
    action: str
    milliseconds: float
    error: bool


@dataclass
class Figures:
    """What the simulated people saw, shared by their threads."""

    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    confirmations: Counter = field(default_factory=Counter)  # email -> bookings seen
    cancellations: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


class Person:
    """One simulated person: a practitioner, and the trainer and panel member they also sign
    in as, each with their own cookies."""

    def __init__(self, base: str, number: int, plan: dict, figures: Figures, trainers: int):
        self.base, self.number, self.plan, self.figures = base, number, plan, figures
        self.rng = random.Random(number)
        self.email = soak_data.practitioner_email(number)
        self.practitioner = self._sign_in(self.email)
        self.trainer = self._sign_in(soak_data.trainer_email(number % trainers))
        self.moderator = self._sign_in(soak_data.moderator_email(number))
        past_session, past_booking = plan["past_bookings"][str(number)]
        self.past = {past_session: past_booking}  # ended sessions booked: session -> booking
        self.booked: dict[int, int] = {}  # upcoming sessions booked: session -> booking
        self.to_assess = list(plan["applications"])
        self.rng.shuffle(self.to_assess)
        self.action = ""

    def _sign_in(self, email: str) -> requests.Session:
        client = requests.Session()
        # A fresh connection per request: a kept-alive one that the server closes while idle
        # would show up as an error that is not the server's.
        client.headers["Connection"] = "close"
        page = client.get(f"{self.base}/auth/sign-in", timeout=TIMEOUT)
        response = client.post(f"{self.base}/auth/sign-in", timeout=TIMEOUT,
                               allow_redirects=False, data={
                                   "csrf_token": CSRF.search(page.text).group(1),
                                   "email": email, "password": PASSWORD})
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed for {email}: {response.status_code}")
        return client

    # -- requests -----------------------------------------------------------------------------

    def request(self, client: requests.Session, method: str, path: str,
                expect: tuple[int, ...] = (200,), data: dict | None = None) -> requests.Response:
        """One timed request; a 5xx, a connection error or a status not in ``expect`` raises
        :class:`Unexpected` after recording it."""
        started = time.monotonic()
        try:
            response = client.request(method, f"{self.base}{path}", data=data, timeout=TIMEOUT,
                                      allow_redirects=False)
            problem = None
            if response.status_code not in expect:
                problem = f"status {response.status_code}"
                if response.status_code < 500:
                    problem += f" ({form_errors(response.text)})"
        except requests.RequestException as error:
            response, problem = None, f"{type(error).__name__}: {error}"
        finished = time.monotonic()
        with self.figures.lock:
            self.figures.samples.append(Sample(finished - self.figures.started, self.action,
                                               (finished - started) * 1000, problem is not None))
        if problem:
            raise Unexpected(f"{method} {path}: {problem}")
        return response

    def get(self, client, path: str, expect: tuple[int, ...] = (200,)) -> requests.Response:
        return self.request(client, "GET", path, expect)

    def post(self, client, path: str, data: dict, page: str,
             expect: tuple[int, ...] = (302,)) -> requests.Response:
        token = CSRF.search(page)
        if token is None:
            raise Unexpected(f"no form to post to {path}")
        return self.request(client, "POST", path, expect, {"csrf_token": token.group(1), **data})

    def outcome(self, name: str) -> None:
        with self.figures.lock:
            self.figures.outcomes[f"{self.action}: {name}"] += 1

    # -- actions ------------------------------------------------------------------------------

    def run(self, deadline: float, weights: dict[str, float]) -> None:
        names, shares = zip(*weights.items(), strict=True)
        while time.monotonic() < deadline:
            self.action = self.rng.choices(names, shares)[0]
            try:
                getattr(self, self.action)()
            except Unexpected as problem:
                self.figures.error(f"{self.action} as person {self.number}: {problem}")
            except Exception as problem:  # a parse failure on an odd page is an error too
                self.figures.error(f"{self.action} as person {self.number}: "
                                   f"{type(problem).__name__}: {problem}")
            time.sleep(min(self.rng.expovariate(1 / THINK_SECONDS), 5 * THINK_SECONDS)
                       if THINK_SECONDS > 0 else 0)

    def browse(self) -> None:
        plan, rng = self.plan, self.rng
        choice = rng.random()
        if choice < 0.3:
            query = rng.choice(["", "?q=autism", "?twilight=y", "?page=2", "?mode=online"])
            self.get(self.practitioner, f"/training/{query}")
        elif choice < 0.5:
            self.get(self.practitioner, f"/training/courses/{rng.choice(plan['courses'])}")
        elif choice < 0.85:
            session_id = rng.choice(plan["browse_sessions"] + plan["upcoming"])
            self.get(self.practitioner, f"/training/sessions/{session_id}")
        elif choice < 0.95:
            self.get(self.practitioner, "/my-training/")
        else:
            self.get(self.moderator, "/awards/panel")
        self.outcome("page")

    def book(self) -> None:
        free = [sid for sid in self.plan["upcoming"] if sid not in self.booked]
        if not free:
            self.action = "cancel"
            return self.cancel()
        session_id = self.rng.choice(free)
        path = f"/my-training/book/{session_id}"
        page = self.get(self.practitioner, path).text
        if 'id="booking-problem"' in page:
            return self.outcome("full or refused before the form")
        response = self.post(self.practitioner, path, page=page, expect=(200, 302), data={
            "access_needs": self.rng.choice(["", "", "Step-free access, please."]),
            **({"share_with_la": "y"} if self.rng.random() < 0.7 else {})})
        if response.status_code == 200:
            if 'id="booking-problem"' not in response.text:
                raise Unexpected(f"POST {path}: 200 without a booking or a reason "
                                 f"({form_errors(response.text)})")
            return self.outcome("fully booked" if "No places left" in response.text
                                else "refused")
        booked = BOOKING_ID.search(response.headers.get("Location", ""))
        if booked is None:
            raise Unexpected(f"POST {path}: redirected to {response.headers.get('Location')}")
        self.booked[session_id] = int(booked.group(1))
        with self.figures.lock:
            self.figures.confirmations[self.email] += 1
        self.outcome("booked")
        self.get(self.practitioner, f"/my-training/bookings/{booked.group(1)}/confirmed")

    def cancel(self) -> None:
        if not self.booked:
            self.action = "book"
            return self.book()
        session_id = self.rng.choice(sorted(self.booked))
        path = f"/my-training/bookings/{self.booked[session_id]}/cancel"
        page = self.get(self.practitioner, path).text
        response = self.post(self.practitioner, path, page=page,
                             data={"reason": self.rng.choice(["cannot_attend", "time"])})
        if not response.headers.get("Location", "").endswith("/cancelled"):
            raise Unexpected(f"POST {path}: redirected to {response.headers.get('Location')}")
        del self.booked[session_id]
        with self.figures.lock:
            self.figures.cancellations[self.email] += 1
        self.outcome("cancelled")

    def answer(self) -> None:
        if self.booked and self.rng.random() < 0.6:
            session_id, stage = self.rng.choice(sorted(self.booked)), "pre"
        else:
            session_id, stage = next(iter(self.past)), "post"
        path = f"/confidence/sessions/{session_id}/{stage}"
        page = self.get(self.practitioner, path).text
        fields = FormFields(page)
        ratings = {name: values for name, values in fields.radios.items()
                   if re.fullmatch(r"s\d+", name)}
        if not ratings:
            # After the training only those marked present may answer, and a register taken
            # meanwhile may have marked this person absent.
            if stage == "post" and "Only people marked as attending" in page:
                return self.outcome("post: marked absent, refused")
            problem = re.search(r'id="questionnaire-problem">([^<]*)', page)
            raise Unexpected(f"GET {path}: no questionnaire "
                             f"({problem.group(1) if problem else 'and no reason'})")
        data = {name: self.rng.choice(values) for name, values in ratings.items()}
        for name in fields.textareas:
            data[name] = self.rng.choice(["", "Use more visual timetables."])
        response = self.post(self.practitioner, path, page=page, data=data, expect=(200,))
        if "Answers saved" not in response.text:
            if stage == "post" and "Only people marked as attending" in response.text:
                return self.outcome("post: marked absent meanwhile, refused")
            raise Unexpected(f"POST {path}: answers not saved ({form_errors(response.text)})")
        self.outcome(f"{stage} answered")

    def register(self) -> None:
        session_id, meetings = self.rng.choice(sorted(self.plan["ended"].items()))
        path = f"/manage/sessions/{session_id}/register/{self.rng.choice(meetings)}"
        page = self.get(self.trainer, path).text
        fields = FormFields(page)
        marks = {name: "attended" if self.rng.random() < 0.9 else "absent"
                 for name in fields.radios if name.startswith("attendance-")}
        if not marks:
            raise Unexpected(f"GET {path}: an empty register")
        response = self.post(self.trainer, path, page=page, data=marks, expect=(200, 302))
        if response.status_code == 200:
            # Someone cancelled between loading the register and saving it.
            if "Reload the page and try again" not in response.text:
                raise Unexpected(f"POST {path}: 200 without the register saved "
                                 f"({form_errors(response.text)})")
            return self.outcome("changed meanwhile")
        self.outcome("saved")

    def assess(self) -> None:
        if not self.to_assess:
            self.get(self.moderator, "/awards/panel")
            return self.outcome("nothing left to assess")
        application_id = self.to_assess[0]
        path = f"/awards/panel/applications/{application_id}"
        page = self.get(self.moderator, path).text
        scores = {name: values for name, values in FormFields(page).radios.items()
                  if name.startswith("score_")}
        if not scores:
            raise Unexpected(f"GET {path}: no assessment form")
        submit = self.rng.random() < 0.35
        data = {name: self.rng.choice(values) for name, values in scores.items()
                if submit or self.rng.random() < 0.6}
        data.update({f"comment_{name[len('score_'):]}": "Clear evidence." for name in data})
        data["action"] = "submit" if submit else "draft"
        response = self.post(self.moderator, path, page=page, data=data)
        where = response.headers.get("Location", "")
        if not where.endswith("/moderation" if submit else path):
            raise Unexpected(f"POST {path}: redirected to {where}")
        if submit:
            self.to_assess.pop(0)
        self.outcome("submitted" if submit else "draft saved")
