"""Pages anyone may see: about the schemes, each scheme's criteria, the register of current
award holders and each award's verification page (with its Open Badges credential), plus the
certificate download for the setting's applicants and admins."""

from __future__ import annotations

import json
from itertools import groupby

import sqlalchemy as sa
from flask import Response, abort, current_app, render_template, request, url_for
from flask_login import current_user

from awards import badges, permissions, register
from awards.certificates import certificate_pdf
from awards.models import Award
from awards.schemes import all_schemes, get_scheme, outcome_label, scheme_name
from awards.views import bp, page_number
from trainer.access import public, signed_in
from trainer.db import db
from trainer.people import LocalAuthority, Role, Setting

SEARCH_MAX = 100


def endpoint_url(endpoint: str, **values) -> str | None:
    """The address of ``endpoint``, or ``None`` when this application has no such page."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _scheme_windows(scheme, today):
    return {"open": scheme.window_on(today), "next": scheme.next_window(today)}


@bp.route("/")
@public
def home():
    """About the award schemes: what each recognises, whether it is open for applications,
    and links to the register and to the pages for applicants, panels and admins."""
    today = register.london_today()
    schemes = [(scheme, _scheme_windows(scheme, today)) for scheme in all_schemes()]
    links = []
    if current_user.is_authenticated:
        if permissions.is_applicant(current_user) or current_user.setting_id is not None:
            links.append(("Your setting's applications and awards",
                          endpoint_url("awards.my_setting")))
        if current_user.has_role(Role.MODERATOR) or current_user.has_role(Role.ADMIN):
            links.append(("Moderation panels: applications to assess",
                          endpoint_url("awards.panel_home")))
        if current_user.has_role(Role.ADMIN):
            links.append(("Manage applications and panels", endpoint_url("awards.admin_home")))
            links.append(("Manage awards and the celebration report",
                          endpoint_url("awards.admin_awards")))
    return render_template("awards/home.html", schemes=schemes,
                           links=[(text, href) for text, href in links if href])


@bp.route("/schemes/<key>")
@public
def scheme_page(key: str):
    """One scheme: its criteria with guidance for applicants, the scale, the outcomes and
    when applications may be made."""
    scheme = get_scheme(key)
    if scheme is None:
        abort(404)
    today = register.london_today()
    return render_template("awards/public/scheme.html", scheme=scheme,
                           windows=_scheme_windows(scheme, today),
                           start_url=endpoint_url("awards.start", key=scheme.key)
                           if permissions.is_applicant(current_user) else None)


@bp.route("/register", endpoint="register")
@public
def register_page():
    """The public register: awards current today, by LA then district, filtered by LA and
    scheme and searchable by setting name. Expired and withdrawn awards never appear."""
    today = register.london_today()
    authority_id = request.args.get("local_authority", type=int)
    scheme_key = request.args.get("scheme") or None
    if scheme_key and get_scheme(scheme_key) is None:
        scheme_key = None
    search = (request.args.get("q") or "").strip()[:SEARCH_MAX]
    statement = register.current_awards(today, authority_id, scheme_key)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Setting.name.ilike(f"%{escaped}%", escape="\\"))
    pagination = db.paginate(statement, page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"] * 2, error_out=False)
    groups = [
        (authority, [(district, list(awards)) for district, awards in
                     groupby(rows, key=lambda award: award.district or "")])
        for authority, rows in groupby(pagination.items,
                                       key=lambda award: award.local_authority.name)
    ]
    authorities = db.session.execute(
        sa.select(LocalAuthority.id, LocalAuthority.name)
        .where(LocalAuthority.id.in_(
            register.current_awards(today).with_only_columns(Award.local_authority_id)
            .order_by(None)))
        .order_by(LocalAuthority.name)).all()
    filters = {"local_authority": authority_id, "scheme": scheme_key, "q": search or None}
    return render_template(
        "awards/public/register.html", pagination=pagination, groups=groups,
        authorities=authorities, schemes=all_schemes(), filters=filters,
        filtered=any(filters.values()),
        page_url=lambda page: url_for("awards.register", page=page,
                                      **{k: v for k, v in filters.items() if v}),
        scheme_name=scheme_name, today=today,
    )


def _award_by_code(code: str) -> Award | None:
    if len(code) > 64:
        return None
    return db.session.scalar(sa.select(Award).where(Award.verification_code == code))


@bp.route("/verify/<code>")
@public
def verify(code: str):
    """Whether an award is valid, expired or withdrawn, for anyone shown a certificate."""
    award = _award_by_code(code)
    if award is None:
        return render_template("awards/public/verify_unknown.html", code=code), 404
    today = register.london_today()
    return render_template(
        "awards/public/verify.html", award=award, status=register.award_status(award, today),
        scheme_name=scheme_name(award.scheme_key),
        outcome_label=outcome_label(award.scheme_key, award.outcome_key),
        badge_url=url_for("awards.badge", code=code),
    )


@bp.route("/verify/<code>/badge.json")
@public
def badge(code: str):
    """The award as an Open Badges 3.0 credential (unsigned); 410 Gone once withdrawn."""
    award = _award_by_code(code)
    if award is None:
        return _json({"error": "No award has this verification code."}, 404)
    if award.withdrawn_at is not None:
        return _json({"error": "This award has been withdrawn.",
                      "verification": url_for("awards.verify", code=code, _external=True)}, 410)
    return _json(badges.credential(award), 200)


def _json(data: dict, status: int) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=2), status=status,
                    mimetype="application/ld+json")


@bp.route("/certificates/<int:award_id>.pdf")
@signed_in
def certificate(award_id: int):
    """The award's certificate as a PDF download, for the setting's applicants and admins."""
    award = db.get_or_404(Award, award_id)
    if not (permissions.applies_for(current_user, award.setting_id)
            or permissions.is_admin(current_user)):
        abort(403)
    if award.withdrawn_at is not None:
        return render_template("awards/public/certificate_withdrawn.html", award=award,
                               scheme_name=scheme_name(award.scheme_key)), 410
    response = Response(certificate_pdf(award), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="award-certificate-{award.id}.pdf"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response

