"""Helpers for the awards tests: settings, applicants, panel members and a minimal PDF.

Every test app also reads ``tests/awards_schemes/`` (see ``make_test_app``), whose
``test_award`` scheme is open all year and has small limits (3 files, 1MB each).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from trainer.db import db
from trainer.people import LocalAuthority, Role, Setting

TEST_SCHEMES = Path(__file__).parent / "awards_schemes"
TEST_SCHEME = "test_award"

# The smallest files each accepted type can be, as real programs write them.
PDF_BYTES = (b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def make_setting(app, name: str = "Little Acorns Nursery", la_name: str = "Leeds") -> int:
    """A setting in the named LA; returns its id."""
    with app.app_context():
        authority = db.session.scalar(
            sa.select(LocalAuthority).where(LocalAuthority.name == la_name))
        setting = Setting(name=name, setting_type="nursery", postcode="LS1 1AA",
                          local_authority_id=authority.id)
        db.session.add(setting)
        db.session.commit()
        return setting.id


def make_applicant(make_user, setting_id: int, email: str | None = None,
                   job_role: str = "senco", name: str = "Priya Senco"):
    """A SENCO (by default) of the setting: may apply for it. Returns ``(id, email)``."""
    return make_user(email, name=name, job_role=job_role, setting_id=setting_id)


def make_staff(make_user, setting_id: int, email: str | None = None, name: str = "Sam Staff"):
    """A practitioner at the setting: fills in the staff audit, cannot apply."""
    return make_user(email, name=name, job_role="early_years_practitioner",
                     setting_id=setting_id)


def make_moderator(make_user, email: str | None = None, name: str = "Morgan Panel"):
    return make_user(email, name=name, roles=[Role.MODERATOR])
