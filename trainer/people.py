"""People and places: users and their roles, England's regions, local authorities, settings
and delivery partners."""

from __future__ import annotations

import csv
import enum
from datetime import datetime
from importlib import resources

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from trainer.db import UTCDateTime, db, utcnow


class Role(enum.StrEnum):
    """What a user may do. A user may hold several roles; everybody signed in may book."""

    PRACTITIONER = "practitioner"
    TRAINER = "trainer"
    LA_OFFICER = "la_officer"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PRACTITIONER: "Practitioner",
    Role.TRAINER: "Trainer",
    Role.LA_OFFICER: "Local authority officer",
    Role.MODERATOR: "Moderation panel member",
    Role.ADMIN: "Administrator",
}


class SettingType(enum.StrEnum):
    """Kinds of early years provider."""

    NURSERY = "nursery"
    PRE_SCHOOL = "pre_school"
    CHILDMINDER = "childminder"
    SCHOOL_NURSERY_CLASS = "school_nursery_class"
    CHILDRENS_CENTRE = "childrens_centre"
    OTHER = "other"

    @property
    def label(self) -> str:
        return SETTING_TYPE_LABELS[self]


SETTING_TYPE_LABELS = {
    SettingType.NURSERY: "Nursery",
    SettingType.PRE_SCHOOL: "Pre-school",
    SettingType.CHILDMINDER: "Childminder",
    SettingType.SCHOOL_NURSERY_CLASS: "School nursery class",
    SettingType.CHILDRENS_CENTRE: "Children's centre",
    SettingType.OTHER: "Other",
}

# Job roles a person can give on their profile. "Parent or carer" has no setting.
JOB_ROLES = [
    ("early_years_practitioner", "Early years practitioner"),
    ("senco", "SENCO"),
    ("setting_manager", "Setting manager or owner"),
    ("childminder", "Childminder"),
    ("teacher", "Teacher"),
    ("health_visitor", "Health visitor"),
    ("la_staff", "Local authority staff"),
    ("trainer", "Trainer"),
    ("parent_carer", "Parent or carer"),
    ("other", "Other"),
]
JOB_ROLE_LABELS = dict(JOB_ROLES)
ROLES_WITHOUT_SETTING = {"parent_carer", "health_visitor", "la_staff", "trainer"}


class Region(db.Model):
    """One of England's nine regions."""

    __tablename__ = "region"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(9), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    local_authorities: Mapped[list[LocalAuthority]] = relationship(
        back_populates="region", order_by="LocalAuthority.name"
    )

    def __str__(self) -> str:
        return self.name


class LocalAuthority(db.Model):
    """An English local authority with early years responsibility."""

    __tablename__ = "local_authority"
    id: Mapped[int] = mapped_column(primary_key=True)
    ons_code: Mapped[str] = mapped_column(sa.String(9), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    region: Mapped[Region] = relationship(back_populates="local_authorities")

    def __str__(self) -> str:
        return self.name


class Setting(db.Model):
    """An early years provider in a local authority."""

    __tablename__ = "setting"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    setting_type: Mapped[str] = mapped_column(sa.String(40))
    urn: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    local_authority_id: Mapped[int] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    postcode: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    local_authority: Mapped[LocalAuthority] = relationship()

    @property
    def type_label(self) -> str:
        return SETTING_TYPE_LABELS.get(SettingType(self.setting_type), self.setting_type)

    def __str__(self) -> str:
        return self.name


class DeliveryPartner(db.Model):
    """An organisation that runs training. Trainers belong to one."""

    __tablename__ = "delivery_partner"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    website: Mapped[str | None] = mapped_column(sa.String(300))

    def __str__(self) -> str:
        return self.name


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class User(UserMixin, db.Model):
    """A person with an account.

    ``email`` is stored lower-cased and is unique. ``password_hash`` is a salted scrypt hash
    (werkzeug); the password itself is never stored or logged.
    """

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    job_role: Mapped[str | None] = mapped_column(sa.String(40))
    setting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("setting.id", ondelete="SET NULL"), index=True
    )
    local_authority_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    delivery_partner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("delivery_partner.id"), index=True
    )
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    # Secret part of the URL of the person's private calendar feed; reset to revoke it.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    setting: Mapped[Setting | None] = relationship()
    local_authority: Mapped[LocalAuthority | None] = relationship()
    delivery_partner: Mapped[DeliveryPartner | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    # -- roles ---------------------------------------------------------------------------------
    @property
    def roles(self) -> set[Role]:
        return {Role(row.role) for row in self.role_rows}

    def has_role(self, *roles: Role | str) -> bool:
        """True when the user holds any of ``roles``."""
        held = {row.role for row in self.role_rows}
        return any(str(role) in held for role in roles)

    def grant(self, role: Role | str) -> None:
        if not self.has_role(role):
            self.role_rows.append(UserRole(role=str(Role(role))))

    def revoke(self, role: Role | str) -> None:
        self.role_rows = [row for row in self.role_rows if row.role != str(role)]

    # -- passwords -----------------------------------------------------------------------------
    def set_password(self, password: str) -> None:
        from flask import current_app

        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"]
        )

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    # -- Flask-Login ---------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        # The id plus a fragment of the password hash: changing the password signs out every
        # other browser the user was signed in on.
        return f"{self.id}:{self.password_hash[-12:]}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def job_role_label(self) -> str | None:
        return JOB_ROLE_LABELS.get(self.job_role or "")

    @property
    def area(self) -> LocalAuthority | None:
        """The user's local authority: their setting's, else the one they gave."""
        if self.setting is not None:
            return self.setting.local_authority
        return self.local_authority

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


def normalise_email(email: str) -> str:
    """Email addresses are compared and stored trimmed and lower-cased."""
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the id and password fragment must both match."""
    identifier, _, fragment = user_id.partition(":")
    if not identifier.isdigit():
        return None
    user = db.session.get(User, int(identifier))
    if user is None or user.password_hash[-12:] != fragment:
        return None
    return user


def load_places() -> tuple[int, int]:
    """Create the nine regions and the English local authorities from the shipped data file.

    Safe to run again: existing rows (matched by ONS code) are updated, none duplicated.
    Returns the numbers of regions and local authorities.
    """
    text = resources.files("trainer").joinpath("data/local_authorities.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    regions = {region.code: region for region in db.session.scalars(sa.select(Region))}
    authorities = {la.ons_code: la for la in db.session.scalars(sa.select(LocalAuthority))}
    for row in rows:
        region = regions.get(row["region_code"])
        if region is None:
            region = Region(code=row["region_code"], name=row["region_name"])
            db.session.add(region)
            regions[region.code] = region
        authority = authorities.get(row["ons_code"])
        if authority is None:
            authority = LocalAuthority(ons_code=row["ons_code"])
            db.session.add(authority)
            authorities[row["ons_code"]] = authority
        authority.name = row["name"]
        authority.region = region
    db.session.flush()
    return len(regions), len(authorities)
