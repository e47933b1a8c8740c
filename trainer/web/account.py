"""Your account: profile, job role, setting, email address and password; downloading your
data and deleting your account."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from wtforms import PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from trainer import privacy, tokens
from trainer.access import public, signed_in
from trainer.db import db, write_transaction
from trainer.forms import (
    BaseForm,
    UKPostcode,
    choices,
    email_field,
    new_password_field,
    normalise_postcode,
    strip,
)
from trainer.mail import send_template
from trainer.people import (
    JOB_ROLES,
    ROLES_WITHOUT_SETTING,
    SETTING_TYPE_LABELS,
    LocalAuthority,
    Role,
    Setting,
    User,
    find_user_by_email,
    normalise_email,
)
from trainer.web import page_panels

bp = Blueprint("account", __name__, url_prefix="/account")

CHANGE_EMAIL = "change-email"
SEARCH_LIMIT = 20


def local_authority_choices(blank: str) -> list[tuple[str, str]]:
    authorities = db.session.execute(
        sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name)
    ).all()
    return choices([("", blank)] + [(row.id, row.name) for row in authorities])


class DetailsForm(BaseForm):
    name = StringField(
        "Full name",
        filters=[strip],
        validators=[
            DataRequired(message="Enter your full name"),
            Length(max=120, message="Full name must be 120 characters or fewer"),
        ],
        render_kw={"autocomplete": "name", "spellcheck": "false"},
    )
    job_role = RadioField(
        "What is your role?",
        choices=choices(JOB_ROLES),
        validators=[DataRequired(message="Select your role")],
    )
    local_authority = SelectField(
        "Local authority you work or live in (optional)",
        description="We use this when you are not linked to a setting.",
        validators=[Optional()],
        validate_choice=True,
    )


class ChooseSettingForm(BaseForm):
    setting = RadioField(
        "Choose your setting", validators=[DataRequired(message="Select your setting")]
    )


class NewSettingForm(BaseForm):
    name = StringField(
        "Name of the setting",
        filters=[strip],
        validators=[
            DataRequired(message="Enter the name of the setting"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    setting_type = RadioField(
        "Type of setting",
        choices=choices(SETTING_TYPE_LABELS.items()),
        validators=[DataRequired(message="Select the type of setting")],
    )
    urn = StringField(
        "Ofsted URN (optional)",
        description="The unique reference number on the setting's Ofsted report, like EY123456.",
        filters=[strip, lambda value: value.upper() if isinstance(value, str) else value],
        validators=[Optional(), Length(max=20, message="URN must be 20 characters or fewer")],
        render_kw={"spellcheck": "false"},
    )
    local_authority = SelectField(
        "Local authority",
        validators=[DataRequired(message="Select the local authority")],
    )
    postcode = StringField(
        "Postcode",
        filters=[strip, normalise_postcode],
        validators=[
            DataRequired(message="Enter the setting's postcode"),
            Length(max=10, message="Enter a real postcode, like SW1A 1AA"),
            UKPostcode(),
        ],
        render_kw={"autocomplete": "postal-code", "spellcheck": "false"},
    )

    def validate_urn(self, field):
        if field.data and not field.data.replace("EY", "", 1).isalnum():
            raise ValidationError("URN must be letters and numbers only, like EY123456")
        if field.data and db.session.execute(
            sa.select(Setting.id).where(Setting.urn == field.data)
        ).first():
            raise ValidationError(
                "A setting with this URN is already listed: search for it by its URN instead"
            )


class ChangeEmailForm(BaseForm):
    email = email_field("New email address")
    password = PasswordField(
        "Your current password",
        validators=[DataRequired(message="Enter your current password")],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(BaseForm):
    current = PasswordField(
        "Current password",
        validators=[DataRequired(message="Enter your current password")],
        render_kw={"autocomplete": "current-password"},
    )
    password = new_password_field("New password")


@bp.route("/")
@signed_in
def profile():
    """Your details at a glance, each with a link to change it."""
    return render_template(
        "account/profile.html", panels=page_panels("profile", current_user, current_user)
    )


@bp.route("/details", methods=["GET", "POST"])
@signed_in
def details():
    """Change your name, job role and local authority.

    An LA officer's local authority decides which area's figures they see, so only an
    administrator changes it: the field is left off their form and anything posted for it is
    ignored."""
    user = current_user
    officer = user.has_role(Role.LA_OFFICER)
    # The form starts from the person's details; a post is read from what was sent alone, so
    # a field left out is empty (and refused if required), never filled in from the account.
    form = (
        DetailsForm(obj=user, data={"local_authority": str(user.local_authority_id or "")})
        if request.method == "GET"
        else DetailsForm()
    )
    if officer:
        del form.local_authority
    else:
        form.local_authority.choices = local_authority_choices("Select a local authority")
    if form.validate_on_submit():
        user.name = form.name.data
        user.job_role = form.job_role.data
        if not officer:
            chosen = form.local_authority.data
            user.local_authority_id = int(chosen) if chosen else None
        if user.job_role == "parent_carer":
            user.setting_id = None
        db.session.commit()
        flash("Your details have been saved.", "success")
        if user.job_role not in ROLES_WITHOUT_SETTING and user.setting_id is None:
            return redirect(url_for("account.choose_setting"))
        return redirect(url_for("account.profile"))
    return render_template("account/details.html", form=form, officer=officer)


def search_settings(query: str) -> list[Setting]:
    """Settings whose name, postcode or URN matches ``query``, best matches first."""
    words = query.strip()[:100]
    if len(words) < 2:
        return []
    like = f"%{words.lower()}%"
    compact = words.replace(" ", "").upper()
    statement = (
        sa.select(Setting)
        .options(sa.orm.joinedload(Setting.local_authority))
        .where(
            sa.or_(
                sa.func.lower(Setting.name).like(like),
                sa.func.replace(Setting.postcode, " ", "").like(f"{compact}%"),
                Setting.urn == compact,
            )
        )
        .order_by(Setting.name)
        .limit(SEARCH_LIMIT + 1)
    )
    return list(db.session.scalars(statement))


@bp.route("/setting", methods=["GET", "POST"])
@signed_in
def choose_setting():
    """Find your setting by name, postcode or Ofsted URN, and choose it."""
    query = request.values.get("q", "")
    results = search_settings(query) if query else []
    form = ChooseSettingForm()
    form.setting.choices = choices((item.id, item.name) for item in results[:SEARCH_LIMIT])
    if request.method == "POST":  # the CSRF token is checked before any view runs
        if request.form.get("action") == "none":
            current_user.setting_id = None
            db.session.commit()
            flash("You are no longer linked to a setting.", "success")
            return redirect(url_for("account.profile"))
        chosen = request.form.get("setting", "")
        setting = db.session.get(Setting, int(chosen)) if chosen.isdigit() else None
        if setting is None:
            form.setting.errors = ["Select your setting"]
        else:
            current_user.setting = setting
            db.session.commit()
            flash(f"Your setting is now {setting.name}.", "success")
            return redirect(url_for("account.profile"))
    return render_template(
        "account/setting.html", form=form, query=query, results=results, limit=SEARCH_LIMIT
    )


@bp.route("/setting/new", methods=["GET", "POST"])
@signed_in
def new_setting():
    """Add a setting that is not listed yet, and choose it."""
    form = NewSettingForm()
    form.local_authority.choices = local_authority_choices("Select a local authority")
    if form.validate_on_submit():
        setting = Setting(
            name=form.name.data,
            setting_type=form.setting_type.data,
            urn=form.urn.data or None,
            local_authority_id=int(form.local_authority.data),
            postcode=form.postcode.data,
        )
        db.session.add(setting)
        current_user.setting = setting
        db.session.commit()
        flash(f"{setting.name} has been added and is now your setting.", "success")
        return redirect(url_for("account.profile"))
    return render_template("account/new_setting.html", form=form)


@bp.route("/email", methods=["GET", "POST"])
@signed_in
def change_email():
    """Change your email address; the new address must be confirmed from a link."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        new_email = normalise_email(form.email.data)
        if not current_user.check_password(form.password.data):
            form.password.errors.append("Your current password is not correct")
        elif new_email == current_user.email:
            form.email.errors.append("This is already your email address")
        else:
            token = tokens.make(
                CHANGE_EMAIL,
                {"user": current_user.id, "email": new_email,
                 "state": tokens.fingerprint(current_user.email)},
            )
            recipient = _Recipient(new_email, current_user.name)
            send_template(
                recipient,
                "Confirm your new email address",
                "confirm_new_email",
                link=url_for("account.confirm_email", token=token, _external=True),
                hours=current_app.config["EMAIL_TOKEN_MAX_AGE_SECONDS"] // 3600,
            )
            db.session.commit()
            flash(
                f"We have sent a link to {new_email}. Follow it to finish changing your "
                "email address. Until then, keep using your current one.",
                "success",
            )
            return redirect(url_for("account.profile"))
    return render_template("account/change_email.html", form=form)


class _Recipient:
    """Someone to email who is not (yet) a stored address of a user."""

    def __init__(self, email: str, name: str):
        self.email, self.name = email, name


@bp.route("/email/confirm/<token>")
@public
def confirm_email(token: str):
    """Finish changing an email address from the link sent to the new one."""
    try:
        payload = tokens.read(
            CHANGE_EMAIL, token, current_app.config["EMAIL_TOKEN_MAX_AGE_SECONDS"]
        )
    except tokens.TokenError as error:
        return render_template(
            "auth/link_problem.html", expired=error.expired, kind=CHANGE_EMAIL
        ), 400
    user = db.session.get(User, payload.get("user")) if isinstance(payload, dict) else None
    if user is None or tokens.fingerprint(user.email) != payload.get("state"):
        return render_template("auth/link_problem.html", expired=False, kind=CHANGE_EMAIL), 400
    taken = find_user_by_email(payload["email"])
    if taken is not None and taken.id != user.id:
        return render_template("account/email_taken.html"), 400
    with write_transaction():  # a GET that writes: take the write lock first
        old = _Recipient(user.email, user.name)
        user.email = payload["email"]
        send_template(
            old, "Your email address has been changed", "email_changed", new=user.email
        )
    if current_user.is_authenticated and current_user.id == user.id:
        login_user(user)
    flash(f"Your email address is now {user.email}.", "success")
    return redirect(url_for("account.profile") if current_user.is_authenticated
                    else url_for("auth.sign_in"))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def change_password():
    """Change your password (you stay signed in here, and are signed out elsewhere)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append("Your current password is not correct")
        else:
            current_user.set_password(form.password.data)
            send_template(current_user, "Your password has been changed", "password_changed")
            db.session.commit()
            login_user(current_user)
            flash("Your password has been changed.", "success")
            return redirect(url_for("account.profile"))
    return render_template("account/change_password.html", form=form)


# -- your data ------------------------------------------------------------------------------------


class EraseForm(BaseForm):
    password = PasswordField(
        "Your current password",
        validators=[DataRequired(message="Enter your current password")],
        render_kw={"autocomplete": "current-password"},
    )


def data_download(data: dict, kind: str, user_id: int) -> Response:
    """``data`` as a JSON or CSV attachment that no cache keeps."""
    if kind == "csv":
        body, mimetype = "\ufeff" + privacy.to_csv(data), "text/csv"
    else:
        body, mimetype = privacy.to_json(data), "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="your-data-{user_id}.{kind}"',
        "Cache-Control": "no-store",
    })


@bp.route("/data")
@signed_in
def your_data():
    """What we hold about you, with downloads and the way to delete your account."""
    data = privacy.user_data(current_user)
    return render_template(
        "account/your_data.html",
        sections=[(title, len(records)) for title, records in data.items()],
    )


@bp.route("/data.json")
@signed_in
def download_data():
    """Everything we hold about you, as JSON."""
    return data_download(privacy.user_data(current_user), "json", current_user.id)


@bp.route("/data.csv")
@signed_in
def download_data_csv():
    """Everything we hold about you, as one CSV (section, record, field, value)."""
    return data_download(privacy.user_data(current_user), "csv", current_user.id)


@bp.route("/delete", methods=["GET", "POST"])
@signed_in
def erase():
    """Delete your account: with your current password, erase it and sign out."""
    form = EraseForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.password.data):
            form.password.errors.append("Your current password is not correct")
        else:
            try:
                privacy.erase_user(current_user._get_current_object())
            except privacy.ErasureRefused as refusal:
                form.form_errors.append(str(refusal))
            else:
                logout_user()
                return redirect(url_for("account.erased"))
    return render_template("account/erase.html", form=form)


@bp.route("/deleted")
@public
def erased():
    """The confirmation after deleting your account."""
    return render_template("account/erased.html")
