"""Demo data: regions, local authorities, settings, delivery partners and a user per role.

``small`` (the default, for ``make run``) makes a few hundred settings; ``national`` makes
England-sized data for benchmarks: about 60,000 settings and 300,000 users, written in bulk.
Every run is deterministic (a fixed random seed), and refuses to run twice on one database.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from trainer import hooks
from trainer.db import db, utcnow
from trainer.people import (
    DeliveryPartner,
    LocalAuthority,
    Role,
    Setting,
    SettingType,
    User,
    UserRole,
    load_places,
)

DEMO_PASSWORD = "demo-password-2026"


@dataclass(frozen=True)
class Scale:
    settings: int
    users: int
    training_sessions: int
    bookings: int


SCALES = {
    "small": Scale(settings=300, users=200, training_sessions=120, bookings=1800),
    "national": Scale(
        settings=60_000, users=300_000, training_sessions=20_000, bookings=600_000
    ),
}

DEMO_PEOPLE = [
    ("practitioner@example.org", "Priya Practitioner", [Role.PRACTITIONER], "senco"),
    ("trainer@example.org", "Tom Trainer", [Role.TRAINER], "trainer"),
    ("la.officer@example.org", "Lena Officer", [Role.LA_OFFICER], "la_staff"),
    ("moderator@example.org", "Mo Moderator", [Role.MODERATOR], "parent_carer"),
    ("admin@example.org", "Ada Admin", [Role.ADMIN], None),
]

PARTNERS = [
    ("Early Years Inclusion Partnership", "https://example.org/eyip"),
    ("Speech and Language Together", "https://example.org/salt"),
    ("Northern Childminding Network", "https://example.org/ncn"),
    ("Autism in the Early Years Trust", "https://example.org/aeyt"),
]

FIRST_WORDS = [
    "Little", "Acorn", "Rainbow", "Sunshine", "Busy Bees", "Tiny Steps", "Oak Tree", "Willow",
    "Bright Stars", "Ladybird", "Puddle Ducks", "Meadow", "Riverside", "Hilltop", "Orchard",
    "Butterfly", "Treetops", "Honeypot", "Seedlings", "Squirrels", "Kingfisher", "Bluebell",
]
PLACE_WORDS = [
    "Green", "Park", "Lane", "Valley", "Road", "Village", "Cross", "Bridge", "Common", "Fields",
]
SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Khan", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
    "Hall", "Wood", "Jackson", "Clarke", "Ahmed", "Ali", "Hussain", "Begum", "Lewis", "Young",
]
FORENAMES = [
    "Amelia", "Olivia", "Isla", "Ava", "Emily", "Sophia", "Grace", "Mia", "Poppy", "Ella",
    "Jack", "Oliver", "Harry", "George", "Noah", "Leo", "Jacob", "Muhammad", "Aisha", "Zara",
    "Fatima", "Chloe", "Jessica", "Lucy", "Hannah", "Sarah", "Rachel", "Joanne", "Kelly", "Sam",
]
TYPE_WEIGHTS = [
    (SettingType.NURSERY, 40), (SettingType.PRE_SCHOOL, 20), (SettingType.CHILDMINDER, 25),
    (SettingType.SCHOOL_NURSERY_CLASS, 10), (SettingType.CHILDRENS_CENTRE, 3),
    (SettingType.OTHER, 2),
]
TYPE_SUFFIX = {
    SettingType.NURSERY: "Day Nursery", SettingType.PRE_SCHOOL: "Pre-school",
    SettingType.SCHOOL_NURSERY_CLASS: "Primary School Nursery",
    SettingType.CHILDRENS_CENTRE: "Children's Centre", SettingType.OTHER: "Playgroup",
}
JOB_ROLE_WEIGHTS = [
    ("early_years_practitioner", 50), ("senco", 15), ("setting_manager", 10),
    ("childminder", 10), ("teacher", 5), ("health_visitor", 3), ("parent_carer", 7),
]

BATCH = 5000


def has_data() -> bool:
    """True when the database already has people in it."""
    return db.session.execute(sa.select(User.id).limit(1)).first() is not None


def _postcode(rng: random.Random) -> str:
    area = rng.choice(["B", "M", "L", "LS", "NE", "S", "BS", "N", "SE", "SW", "CB", "NR", "OX"])
    return f"{area}{rng.randint(1, 29)} {rng.randint(0, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
           f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def _setting_rows(rng: random.Random, count: int, la_ids: list[int]) -> Iterator[dict]:
    types, weights = zip(*TYPE_WEIGHTS, strict=True)
    now = utcnow()
    for number in range(count):
        setting_type = rng.choices(types, weights)[0]
        if setting_type == SettingType.CHILDMINDER:
            name = f"{rng.choice(FORENAMES)} {rng.choice(SURNAMES)} (childminder)"
        else:
            name = f"{rng.choice(FIRST_WORDS)} {rng.choice(PLACE_WORDS)} " \
                   f"{TYPE_SUFFIX[setting_type]}"
        yield {
            "name": name,
            "setting_type": str(setting_type),
            "urn": f"EY{100000 + number:06d}",
            "local_authority_id": rng.choice(la_ids),
            "postcode": _postcode(rng),
            "created_at": now,
        }


def _insert_batches(model, rows: Iterator[dict], with_ids: bool = False) -> list[int]:
    """Insert ``rows`` in batches (Core executemany, the fast path on both databases).

    With ``with_ids``, return the new rows' ids in insertion order: they are read back as the
    ids above the largest one before, which holds because demo data only fills an empty
    database with nobody else writing.
    """
    table = model.__table__
    before = db.session.scalar(sa.select(sa.func.max(table.c.id))) if with_ids else None
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            db.session.execute(table.insert(), batch)
            batch.clear()
    if batch:
        db.session.execute(table.insert(), batch)
    if not with_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(table.c.id).where(table.c.id > (before or 0)).order_by(table.c.id)
        )
    )


def create(scale_name: str = "small", seed: int = 2026, echo=print) -> dict[str, int]:
    """Fill an empty database with demo data and return what was made."""
    if scale_name not in SCALES:
        raise ValueError(f"unknown scale {scale_name!r}; choose from {', '.join(SCALES)}")
    scale = SCALES[scale_name]
    rng = random.Random(seed)
    regions, authorities = load_places()
    echo(f"  {regions} regions, {authorities} local authorities")

    partners = [DeliveryPartner(name=name, website=url) for name, url in PARTNERS]
    db.session.add_all(partners)
    db.session.flush()

    la_ids = list(db.session.scalars(sa.select(LocalAuthority.id).order_by(LocalAuthority.id)))
    setting_ids = _insert_batches(
        Setting, _setting_rows(rng, scale.settings, la_ids), with_ids=True
    )
    echo(f"  {len(setting_ids)} settings")

    password_hash = _demo_hash()
    demo_la = db.session.scalar(
        sa.select(LocalAuthority).where(LocalAuthority.name == "Leeds")
    ) or db.session.get(LocalAuthority, la_ids[0])
    demo_setting = db.session.scalar(
        sa.select(Setting).where(Setting.local_authority_id == demo_la.id).limit(1)
    ) or db.session.get(Setting, setting_ids[0])
    now = utcnow()
    for email, name, roles, job_role in DEMO_PEOPLE:
        user = User(
            email=email, name=name, password_hash=password_hash, job_role=job_role,
            email_verified_at=now,
        )
        if Role.PRACTITIONER in roles:
            user.setting = demo_setting
        if Role.LA_OFFICER in roles:
            user.local_authority = demo_la
        if Role.TRAINER in roles:
            user.delivery_partner = partners[0]
        for role in roles:
            user.grant(role)
        db.session.add(user)
    db.session.flush()

    roles, weights = zip(*JOB_ROLE_WEIGHTS, strict=True)

    def user_rows() -> Iterator[dict]:
        for number in range(scale.users):
            job_role = rng.choices(roles, weights)[0]
            forename, surname = rng.choice(FORENAMES), rng.choice(SURNAMES)
            yield {
                "email": f"{forename}.{surname}.{number}@example.net".lower(),
                "name": f"{forename} {surname}",
                "password_hash": password_hash,
                "job_role": job_role,
                "setting_id": None if job_role == "parent_carer" else rng.choice(setting_ids),
                "local_authority_id": rng.choice(la_ids) if job_role == "parent_carer" else None,
                "email_verified_at": now,
                "created_at": now,
                "active": True,
            }

    user_ids = _insert_batches(User, user_rows(), with_ids=True)
    _insert_batches(
        UserRole, ({"user_id": user_id, "role": str(Role.PRACTITIONER)} for user_id in user_ids)
    )
    echo(f"  {len(user_ids) + len(DEMO_PEOPLE)} users")
    from trainer import demo_training

    training = demo_training.create(
        rng, scale.training_sessions, scale.bookings, echo=echo
    )
    from trainer import demo_la

    training.update(demo_la.create(echo=echo))
    for made in hooks.call("trainer_demo_data", rng=rng, echo=echo):
        training.update(made or {})
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Freshly bulk-loaded tables have no planner statistics until autovacuum gets to them;
        # without them PostgreSQL plans report queries as if the tables were nearly empty.
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return {
        "regions": regions, "local_authorities": authorities, "settings": len(setting_ids),
        "users": len(user_ids) + len(DEMO_PEOPLE), "delivery_partners": len(partners),
        **training,
    }


def _demo_hash() -> str:
    probe = User(email="", name="", password_hash="")
    probe.set_password(DEMO_PASSWORD)
    return probe.password_hash


def logins() -> list[tuple[str, str, str]]:
    """(role, email, password) for each demo login, for printing."""
    return [
        (", ".join(role.label for role in roles), email, DEMO_PASSWORD)
        for email, _name, roles, _job in DEMO_PEOPLE
    ]
