"""Soak: ``SOAK_SECONDS`` (default 900) of mixed traffic on gunicorn over PostgreSQL, with
``flask trainer tick`` every ``SOAK_TICK_SECONDS`` and ``flask trainer send-mail --loop``
delivering to a fake SendGrid on 127.0.0.1.

``SOAK_USERS`` simulated people (threads, each signed in as a practitioner, a trainer and a
panel member) browse the catalogue, book, cancel, answer questionnaires, take registers and
assess award applications, pausing about ``SOAK_THINK_SECONDS`` between actions;
``SOAK_WEIGHTS`` (``browse=40,book=16,...``) sets the mix. Every minute it prints requests,
errors and latency percentiles per action, and the workers' memory.

An error is a 5xx, a connection error or timeout, or a page other than the ones expected
(an answer of "fully booked", or a refusal after a register marked someone absent, is
expected). Required: zero errors; no
session over capacity; the outbox drained with nothing failed or stuck, each message
delivered once; one confirmation (and cancellation) email queued for each booking (and
cancellation) the simulated people saw succeed; tick and send-mail never failing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.common import (
    ROOT,
    app_environment,
    database_engine,
    failures,
    free_port,
    in_app,
    on_postgres,
    percentile,
    report,
)
from bench.soak_traffic import ACTIONS, THINK_SECONDS, Figures, Person, Sample, parse_weights

SECONDS = float(os.environ.get("SOAK_SECONDS", "900"))
USERS = int(os.environ.get("SOAK_USERS", "24"))
TRAINERS = max(2, USERS // 4)  # co-trainers: several people take the same registers
TICK_SECONDS = float(os.environ.get("SOAK_TICK_SECONDS", "30"))
REPORT_SECONDS = float(os.environ.get("SOAK_REPORT_SECONDS", "60"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "3"))
THREADS = int(os.environ.get("SOAK_THREADS", "4"))
WEIGHTS = os.environ.get("SOAK_WEIGHTS",
                         "browse=40,book=16,cancel=8,answer=12,register=8,assess=12")
FUTURE_SESSIONS = int(os.environ.get("SOAK_SESSIONS", "30"))
APPLICATIONS = int(os.environ.get("SOAK_APPLICATIONS", "150"))


# -- gunicorn, tick and send-mail -----------------------------------------------------------------


@contextmanager
def gunicorn(environment: dict, log: Path) -> Iterator[tuple[str, int]]:
    """gunicorn (``SOAK_WORKERS`` x ``SOAK_THREADS``) on a free port; yields its base URL and
    the master's process id."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--threads",
             str(THREADS), "--bind", f"127.0.0.1:{port}", "--timeout", "120",
             "--log-level", "warning", "wsgi:app"],
            env=environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    requests.get(f"{base}/healthz", timeout=5)
                    break
                except requests.RequestException:
                    time.sleep(0.2)
            yield base, server.pid
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


@contextmanager
def mail_worker(environment: dict, log: Path) -> Iterator[subprocess.Popen]:
    """``flask trainer send-mail --loop``, checking every 5 seconds, until the block ends."""
    with log.open("w") as output:
        worker = subprocess.Popen(flask_command("send-mail", "--loop", "--interval", "5"),
                                  env=environment, cwd=ROOT, stdout=output,
                                  stderr=subprocess.STDOUT)
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)


def workers_of(master: int) -> list[int]:
    """The master's child processes (gunicorn's workers)."""
    try:
        return sorted(int(pid) for pid in
                      Path(f"/proc/{master}/task/{master}/children").read_text().split())
    except OSError:
        children = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                if f"\nPPid:\t{master}\n" in status.read_text():
                    children.append(int(status.parent.name))
            except OSError:
                continue
        return sorted(children)


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (psutil when installed, else /proc)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        pass
    except Exception:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def flask_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "trainer", *arguments]


class Ticker(threading.Thread):
    """``flask trainer tick`` every ``SOAK_TICK_SECONDS`` until stopped."""

    def __init__(self, environment: dict):
        super().__init__(name="soak-tick", daemon=True)
        self.environment = environment
        self.stopping = threading.Event()
        self.runs: list[float] = []
        self.failures: list[str] = []
        self.reminders = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            done = subprocess.run(flask_command("tick"), env=self.environment, cwd=ROOT,
                                  capture_output=True, text=True)
            self.runs.append(time.monotonic() - started)
            if done.returncode:
                self.failures.append(f"tick exited {done.returncode}: "
                                     f"{(done.stderr or done.stdout).strip()[-600:]}")
            sent = re.search(r"Reminders sent: (\d+)", done.stdout)
            self.reminders += int(sent.group(1)) if sent else 0
            self.stopping.wait(max(0.0, TICK_SECONDS - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# -- the run ------------------------------------------------------------------------------------


def prepare(environment: dict) -> dict:
    """Migrations and the small demo data (``flask trainer init``), then the soak's own."""
    subprocess.run(flask_command("init"), env=environment, cwd=ROOT, check=True,
                   capture_output=True, text=True)
    printed = in_app(environment, f"""
import json
from bench.soak_data import prepare
print(json.dumps(prepare({USERS}, {TRAINERS}, {FUTURE_SESSIONS}, {APPLICATIONS})))
""")
    return json.loads(printed.strip().splitlines()[-1])


def window_lines(samples: list[Sample]) -> list[str]:
    """A line per action: requests, errors and latency percentiles."""
    lines = []
    for action in ACTIONS:
        chosen = [sample for sample in samples if sample.action == action]
        if not chosen:
            continue
        latencies = [sample.milliseconds for sample in chosen]
        errors = sum(sample.error for sample in chosen)
        p50, p95, p99 = (percentile(latencies, share) for share in (.5, .95, .99))
        lines.append(f"      {action:<9} {len(chosen):>6} requests {errors:>3} errors   "
                     f"p50 {p50:>6.0f}  p95 {p95:>6.0f}  p99 {p99:>6.0f} ms")
    return lines


def watch(figures: Figures, deadline: float, master: int, mailer: subprocess.Popen,
          ticker: Ticker) -> None:
    """Print each minute's figures until the deadline."""
    shown = 0.0
    while time.monotonic() < deadline:
        time.sleep(max(0.0, min(figures.started + shown + REPORT_SECONDS, deadline)
                       - time.monotonic()))
        upto = min(time.monotonic(), deadline) - figures.started
        with figures.lock:
            window = [sample for sample in figures.samples if shown <= sample.at < upto]
            errors = len(figures.errors)
        memory = sum(rss_mib(pid) for pid in workers_of(master))
        print(f"  {shown / 60:4.1f}-{upto / 60:4.1f} min: {len(window)} requests "
              f"({len(window) / max(upto - shown, 1e-9):.1f}/s), "
              f"{sum(sample.error for sample in window)} errors (total {errors}); workers "
              f"{memory:.0f} MiB; ticks {len(ticker.runs)}; send-mail "
              f"{'running' if mailer.poll() is None else f'EXITED {mailer.returncode}'}",
              flush=True)
        for line in window_lines(window):
            print(line, flush=True)
        shown = upto


def drain(engine: sa.Engine, seconds: float = 120) -> dict[str, int]:
    """Wait (up to ``seconds``) until nothing is queued or being sent; the outbox's counts by
    status."""
    counts: dict[str, int] = {}
    until = time.monotonic() + seconds
    while True:
        with engine.connect() as connection:
            counts = dict(connection.execute(sa.text(
                "SELECT status, count(*) FROM outbox_message GROUP BY status")).all())
        if not counts.get("queued") and not counts.get("sending") or time.monotonic() > until:
            return counts
        time.sleep(2)


def check(engine: sa.Engine, figures: Figures, people: list[Person], outbox: dict[str, int],
          delivered: Counter, started_at) -> None:
    """The invariants after the run."""
    with engine.connect() as connection:
        held = connection.execute(sa.text(
            "SELECT u.email, b.training_session_id FROM booking b "
            "JOIN user_account u ON u.id = b.user_id WHERE b.status = 'confirmed' "
            "AND u.email LIKE 'soak%@example.org'")).all()
        over = connection.execute(sa.text("""
            SELECT s.id, s.capacity,
                   (SELECT count(*) FROM booking b WHERE b.training_session_id = s.id
                     AND b.status = 'confirmed') AS confirmed,
                   (SELECT count(*) FROM waitlist_hold h WHERE h.training_session_id = s.id
                     AND h.status = 'open') AS held
            FROM training_session s""")).all()
        overbooked = [row for row in over if row.confirmed + row.held > row.capacity]
        subjects = connection.execute(sa.text(
            "SELECT recipient, subject FROM outbox_message WHERE created_at >= :since "
            "AND recipient LIKE 'soak%@example.org'"), {"since": started_at}).all()
        sent_ids = {str(message_id) for message_id in connection.scalars(sa.text(
            "SELECT id FROM outbox_message WHERE status = 'sent' AND sent_at >= :since"),
            {"since": started_at})}
    print(f"  sessions: {len(over)}; over capacity (confirmed + held > capacity): "
          f"{len(overbooked)}")
    report(not overbooked, "no overbooking: confirmed + held <= capacity for every session",
           "soak")
    print(f"  outbox after draining: {dict(sorted(outbox.items()))}")
    stuck = sum(outbox.get(status, 0) for status in ("queued", "sending", "retrying"))
    report(not outbox.get("failed") and not stuck,
           "outbox: nothing failed, nothing left queued, sending or retrying", "soak")
    twice = sum(1 for count in delivered.values() if count > 1)
    missing = len(sent_ids - set(delivered))
    print(f"  fake SendGrid: {sum(delivered.values())} deliveries of {len(delivered)} messages; "
          f"delivered twice: {twice}; marked sent but never delivered: {missing}")
    report(twice == 0 and missing == 0, "each sent message delivered exactly once", "soak")
    queued_confirmations = Counter(recipient for recipient, subject in subjects
                                   if subject.startswith("Booking confirmed:"))
    queued_cancellations = Counter(recipient for recipient, subject in subjects
                                   if subject.startswith("Booking cancelled:"))
    wrong = [email for email in set(figures.confirmations) | set(queued_confirmations)
             if figures.confirmations[email] != queued_confirmations[email]]
    wrong_cancel = [email for email in set(figures.cancellations) | set(queued_cancellations)
                    if figures.cancellations[email] != queued_cancellations[email]]
    in_database = {(email, session_id) for email, session_id in held}
    seen = {(person.email, session_id) for person in people
            for session_id in [*person.booked, *person.past]}
    print(f"  confirmed bookings of the simulated people: {len(in_database)} in the database, "
          f"{len(seen)} as they saw them; differing: {len(in_database ^ seen)}")
    report(in_database == seen, "the database holds exactly the bookings people saw confirmed",
           "soak")
    print(f"  bookings seen confirmed: {sum(figures.confirmations.values())}, confirmation "
          f"emails queued: {sum(queued_confirmations.values())}; cancellations seen: "
          f"{sum(figures.cancellations.values())}, cancellation emails queued: "
          f"{sum(queued_cancellations.values())}; people whose counts differ: "
          f"{len(wrong)} / {len(wrong_cancel)}")
    report(not wrong and not wrong_cancel,
           "one confirmation (cancellation) email queued per booking (cancellation)", "soak")


def print_first_traceback(log: Path) -> None:
    """How many tracebacks the server logged, and the first of them in full."""
    text = log.read_text(errors="replace")
    count = text.count("Traceback (most recent call last)")
    if count:
        kept = Path(tempfile.gettempdir(), f"soak-gunicorn-{os.getpid()}.log")
        kept.write_text(text)
        print(f"  the server's log is kept in {kept}")
        first = text[text.index("Traceback (most recent call last)"):].splitlines()
        end = next((number for number, line in enumerate(first[1:], 1)
                    if line and not line.startswith((" ", "Traceback", "During", "The above"))),
                   len(first) - 1)
        print(f"  gunicorn logged {count} tracebacks; the first:")
        for line in first[:end + 1][-40:]:
            print(f"    {line[:300]}")


def run(database_url: str | None, label: str) -> None:
    weights = parse_weights(WEIGHTS)
    from tests.fake_sendgrid import FakeSendGrid

    fake = FakeSendGrid()
    try:
        soak(database_url, label, weights, fake)
    finally:
        fake.close()


def soak(database_url: str | None, label: str, weights: dict[str, float], fake) -> None:
    with tempfile.TemporaryDirectory() as folder:
        environment = app_environment(folder, database_url)
        environment.update(TRAINER_MAIL_TRANSPORT="sendgrid", TRAINER_SENDGRID_API_KEY="SG.soak",
                           TRAINER_SENDGRID_HOST=fake.url, FLASK_APP="wsgi")
        begun = time.monotonic()
        plan = prepare(environment)
        print(f"soak on {label}: {USERS} people x (practitioner, trainer, panel member), "
              f"{len(plan['upcoming'])} upcoming soak sessions, {len(plan['ended'])} ended, "
              f"{len(plan['applications'])} applications to assess; gunicorn {WORKERS} workers "
              f"x {THREADS} threads; tick every {TICK_SECONDS:.0f}s; pause {THINK_SECONDS}s; "
              f"weights {weights}; "
              f"{SECONDS:.0f}s (data ready in {time.monotonic() - begun:.0f}s)", flush=True)
        engine = database_engine(database_url, folder)
        with engine.connect() as connection:
            started_at = connection.scalar(sa.text("SELECT now()"))
        log = Path(folder, "gunicorn.log")
        with gunicorn(environment, log) as (base, master), \
                mail_worker(environment, Path(folder, "send-mail.log")) as mailer:
            ticker = Ticker(environment)
            figures = Figures()
            people = [Person(base, number, plan, figures, TRAINERS)
                      for number in range(USERS)]
            workers = workers_of(master)
            memory_before = {pid: rss_mib(pid) for pid in workers}
            ticker.start()
            figures.started = time.monotonic()
            deadline = figures.started + SECONDS
            threads = [threading.Thread(target=person.run, args=(deadline, weights),
                                        name=f"soak-person-{person.number}", daemon=True)
                       for person in people]
            for thread in threads:
                thread.start()
            watch(figures, deadline, master, mailer, ticker)
            for thread in threads:
                thread.join()
            wall = time.monotonic() - figures.started
            ticker.stop()
            workers_after = workers_of(master)
            memory_after = {pid: rss_mib(pid) for pid in workers_after}
            outbox = drain(engine)
            mailer_alive = mailer.poll() is None
        delivered = Counter(request.json.get("custom_args", {}).get("outbox_id")
                            for request in fake.requests if isinstance(request.json, dict))

        samples = figures.samples
        print(f"  totals over {wall:.0f}s: {len(samples)} requests "
              f"({len(samples) / wall:.1f}/s), {len(figures.errors)} errors")
        for line in window_lines(samples):
            print(line)
        print("  outcomes: " + ", ".join(f"{name} {count}" for name, count
                                          in sorted(figures.outcomes.items())))
        for text in figures.errors[:15]:
            print(f"    error: {text}")
        print_first_traceback(log)
        report(not figures.errors, "zero errors (5xx, connection errors, unexpected pages)",
               "soak")
        mean = sum(ticker.runs) / max(len(ticker.runs), 1)
        print(f"  tick: {len(ticker.runs)} runs, mean {mean:.1f}s, {ticker.reminders} reminders "
              f"sent, {len(ticker.failures)} failed")
        for text in ticker.failures[:3]:
            print(f"    {text}")
        report(not ticker.failures and mailer_alive,
               "tick never failed and send-mail kept running", "soak")
        print("  gunicorn workers, resident memory (MiB) at start -> end:")
        for pid in sorted(set(memory_before) | set(memory_after)):
            before, after = memory_before.get(pid), memory_after.get(pid)
            print(f"    worker {pid}: {'-' if before is None else f'{before:.0f}'} -> "
                  f"{'gone' if after is None else f'{after:.0f}'}")
        if set(workers) != set(workers_after):
            print("  note: the set of workers changed (a worker was restarted)")
        check(engine, figures, people, outbox, delivered, started_at)
        engine.dispose()


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        try:
            probe = sa.create_engine(url)
            with probe.connect():
                pass
            probe.dispose()
        except sa.exc.SQLAlchemyError as error:
            print(f"soak: skipped (PostgreSQL unreachable: {str(error).splitlines()[0]})")
            return
    on_postgres(run, "soak")


if __name__ == "__main__":
    main()
    raise SystemExit(1 if failures() else 0)
