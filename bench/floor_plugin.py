"""A plugin used only by the booking-rush benchmark: the "floor" endpoint.

``POST /bench/floor`` does the least a booking could: one INSERT in one transaction, behind the
same sign-in and CSRF check. Comparing the booking endpoint with it shows what the engine's
locking and counting cost on top of a plain write.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user

from trainer.access import signed_in
from trainer.db import db
from trainer.hookspecs import hookimpl

bp = Blueprint("bench_floor", __name__, url_prefix="/bench")
floor_table = sa.Table(
    "bench_floor",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
)


@bp.route("/floor", methods=["POST"])
@signed_in
def floor():
    """One INSERT in a transaction."""
    db.session.execute(floor_table.insert().values(user_id=current_user.id))
    db.session.commit()
    return "ok"


@hookimpl
def trainer_blueprints():
    return [bp]
