"""The attendance import in a real Chromium, with axe-core on every page visited.

An administrator opens Administration → Imports, downloads the attendance template, uploads an
attendance CSV with one bad row, sees the error summary naming the line and column and that
nothing was saved, fixes the file, imports it and sees the confirmation. Importing the same
file again changes nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.browser.conftest import add_user, axe_check, heading, missing_requirements, nav, sign_in

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

ADMIN = ("ada.admin@example.org", "Ada Admin")
REFERENCE = "EYIP-2026-041"
BOOKED = ("priya.patel@example.org", "Priya Patel")


def add_past_session(app) -> int:
    """A session of 20 places that took place three days ago, with Priya booked on it."""
    from trainer.booking import Booking
    from trainer.db import db
    from trainer.people import User

    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    with app.app_context():
        made = factories.training_session(
            starts=starts, hours=2, capacity=20, reference=REFERENCE,
            course_=factories.course("Supporting speech, language and communication"))
        priya = db.session.scalar(sa.select(User).where(User.email == BOOKED[0]))
        db.session.add(Booking(training_session=made, user=priya))
        db.session.commit()
        return made.id


def attendance_csv(rows: list[list[str]], header: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")  # as Excel saves "CSV UTF-8"


def marks(app) -> dict[str, bool]:
    from trainer.booking import Attendance, Booking
    from trainer.db import db
    from trainer.people import User

    with app.app_context():
        return dict(db.session.execute(
            sa.select(User.email, Attendance.attended)
            .join(Booking, Booking.id == Attendance.booking_id)
            .join(User, User.id == Booking.user_id)).all())


def test_an_admin_imports_attendance_fixing_a_bad_row_first(page, live_server, tmp_path):
    app = live_server.app
    from trainer.people import Role

    add_user(app, *ADMIN, roles=[Role.ADMIN])
    add_user(app, *BOOKED)
    add_past_session(app)
    sign_in(page, ADMIN[0])

    nav(page, "Administration").click()
    page.get_by_role("link", name="Imports", exact=True).click()
    expect(heading(page, "Imports")).to_be_visible()
    axe_check(page)

    # The template: the header row and an example row.
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download the attendance records template (CSV)").click()
    with open(downloaded.value.path(), encoding="utf-8-sig") as handle:
        header, example = list(csv.reader(handle))
    assert header == ["reference", "email", "name", "attended", "meeting_date",
                      "local_authority"]
    assert example[0] == REFERENCE

    page.get_by_role("button", name="Import attendance records").click()
    expect(heading(page, "Import attendance records")).to_be_visible()
    axe_check(page)

    # One bad row among good ones: "maybe" is not an answer.
    rows = [
        [REFERENCE, BOOKED[0], "", "yes", "", ""],
        [REFERENCE, "sam.jones@example.net", "Sam Jones", "maybe", "", "E08000035"],
        [REFERENCE, "li.wei@example.net", "Li Wei", "no", "", "Leeds"],
    ]
    bad = tmp_path / "register.csv"
    bad.write_bytes(attendance_csv(rows, header))
    page.get_by_label("Upload a CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The file has 1 problem; nothing was saved")
    expect(summary).to_contain_text("Line 3, column attended: Enter yes or no")
    problems = page.get_by_role("table").filter(has_text="Problem")
    expect(problems.get_by_role("row").nth(1)).to_contain_text("3")
    expect(problems.get_by_role("row").nth(1)).to_contain_text("attended")
    expect(page.get_by_text("Nothing was saved.", exact=False).first).to_be_visible()
    axe_check(page)
    assert marks(app) == {}

    # Fixed: the file is imported, all of it.
    rows[1][3] = "yes"
    fixed = tmp_path / "register-fixed.csv"
    fixed.write_bytes(attendance_csv(rows, header))
    page.get_by_label("Upload a CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Import").click()
    confirmation = page.locator(".govuk-panel")
    expect(confirmation).to_contain_text("Import complete")
    expect(confirmation).to_contain_text("3 created, 0 updated, 0 unchanged")
    axe_check(page)
    assert marks(app) == {BOOKED[0]: True, "sam.jones@example.net": True,
                          "li.wei@example.net": False}

    # The same file again changes nothing.
    page.get_by_label("Upload a CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".govuk-panel")).to_contain_text("0 created, 0 updated, 3 unchanged")
    assert len(marks(app)) == 3
