"""Registration, email verification, signing in and out, and forgotten passwords.

No form reveals whether an email address has an account: registering with a known address and
asking to reset the password of an unknown one show the same pages as the ordinary case, and
the email sent (or not sent) tells the owner of the address what happened.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from trainer import tokens
from trainer.access import public
from trainer.db import db, utcnow, write_transaction
from trainer.forms import BaseForm, email_field, new_password_field, strip
from trainer.mail import send_template
from trainer.people import Role, User, find_user_by_email, normalise_email
from trainer.web import limiter
from trainer.web.security import local_url

bp = Blueprint("auth", __name__, url_prefix="/auth")

VERIFY = "verify-email"
RESET = "reset-password"


class RegisterForm(BaseForm):
    name = StringField(
        "Full name",
        filters=[strip],
        validators=[
            DataRequired(message="Enter your full name"),
            Length(max=120, message="Full name must be 120 characters or fewer"),
        ],
        render_kw={"autocomplete": "name", "spellcheck": "false"},
    )
    email = email_field()
    password = new_password_field()
    confirm = PasswordField(
        "Confirm password",
        validators=[
            DataRequired(message="Confirm your password"),
            EqualTo("password", message="Passwords do not match"),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class SignInForm(BaseForm):
    email = email_field()
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Enter your password"),
            Length(max=128, message="Password must be 128 characters or fewer"),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")


class ForgottenPasswordForm(BaseForm):
    email = email_field()


class ResetPasswordForm(BaseForm):
    password = new_password_field("New password")
    confirm = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired(message="Confirm your new password"),
            EqualTo("password", message="Passwords do not match"),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def _login_email_key() -> str:
    return "email:" + normalise_email(request.form.get("email", ""))[:254]


def send_verification(user: User) -> None:
    """Queue the 'confirm your email address' message with a signed, expiring link."""
    token = tokens.make(VERIFY, {"user": user.id, "email": user.email})
    hours = current_app.config["EMAIL_TOKEN_MAX_AGE_SECONDS"] // 3600
    send_template(
        user,
        "Confirm your email address",
        "verify_email",
        link=url_for("auth.verify_email", token=token, _external=True),
        hours=hours,
    )


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    """Create an account; the email address must be confirmed before signing in."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        existing = find_user_by_email(form.email.data)
        if existing is not None:
            send_template(
                existing,
                "You already have an account",
                "already_registered",
                sign_in=url_for("auth.sign_in", _external=True),
                reset=url_for("auth.forgotten_password", _external=True),
            )
        else:
            user = User(name=form.name.data, email=normalise_email(form.email.data))
            user.set_password(form.password.data)
            user.grant(Role.PRACTITIONER)
            db.session.add(user)
            db.session.flush()
            send_verification(user)
        db.session.commit()
        session["check_email"] = normalise_email(form.email.data)
        return redirect(url_for("auth.check_email"))
    return render_template("auth/register.html", form=form)


@bp.route("/check-your-email")
@public
def check_email():
    """Tell the person to follow the link we sent."""
    return render_template("auth/check_email.html", email=session.get("check_email"))


@bp.route("/verify/<token>")
@public
def verify_email(token: str):
    """Confirm an email address from the link in the verification email."""
    try:
        payload = tokens.read(VERIFY, token, current_app.config["EMAIL_TOKEN_MAX_AGE_SECONDS"])
    except tokens.TokenError as error:
        return render_template("auth/link_problem.html", expired=error.expired, kind=VERIFY), 400
    user = db.session.get(User, payload.get("user")) if isinstance(payload, dict) else None
    if user is None or user.email != payload.get("email"):
        return render_template("auth/link_problem.html", expired=False, kind=VERIFY), 400
    with write_transaction():  # a GET that writes: take the write lock first
        if user.email_verified_at is None:
            user.email_verified_at = utcnow()
    flash("Your email address is confirmed. You can now sign in.", "success")
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("pages.dashboard"))
    return redirect(url_for("auth.sign_in"))


class ResendForm(BaseForm):
    email = email_field()


@bp.route("/resend-confirmation", methods=["GET", "POST"])
@public
@limiter.limit("5 per hour", methods=["POST"])
def resend_confirmation():
    """Send a new confirmation link to an unconfirmed address."""
    form = ResendForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is not None and not user.is_verified:
            send_verification(user)
            db.session.commit()
        session["check_email"] = normalise_email(form.email.data)
        return redirect(url_for("auth.check_email"))
    return render_template("auth/resend.html", form=form)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email_key)
def sign_in():
    """Sign in with email address and password."""
    if current_user.is_authenticated:
        return redirect(local_url(request.args.get("next")) or url_for("pages.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is None or not user.check_password(form.password.data) or not user.is_active:
            form.password.errors = ["Enter a correct email address and password"]
        elif not user.is_verified:
            form.form_errors.append(
                "Confirm your email address first: follow the link we sent you."
            )
            return render_template("auth/sign_in.html", form=form, unverified=True), 200
        else:
            login_user(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            db.session.commit()
            session.pop("check_email", None)
            return redirect(local_url(request.args.get("next")) or url_for("pages.dashboard"))
    return render_template("auth/sign_in.html", form=form, unverified=False)


@bp.route("/sign-out", methods=["POST"])
@public
def sign_out():
    """Sign out (a POST with a CSRF token, so no other site can sign you out)."""
    logout_user()
    flash("You have signed out.", "success")
    return redirect(url_for("pages.home"))


@bp.route("/forgotten-password", methods=["GET", "POST"])
@public
@limiter.limit("5 per hour", methods=["POST"], key_func=_login_email_key)
def forgotten_password():
    """Ask for a link to choose a new password."""
    form = ForgottenPasswordForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is not None and user.is_active:
            token = tokens.make(
                RESET, {"user": user.id, "state": tokens.fingerprint(user.password_hash)}
            )
            send_template(
                user,
                "Choose a new password",
                "reset_password",
                link=url_for("auth.reset_password", token=token, _external=True),
                minutes=current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"] // 60,
            )
            db.session.commit()
        session["check_email"] = normalise_email(form.email.data)
        return redirect(url_for("auth.check_email", reset=1))
    return render_template("auth/forgotten_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password from the emailed link. The link works once."""
    try:
        payload = tokens.read(RESET, token, current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"])
    except tokens.TokenError as error:
        return render_template("auth/link_problem.html", expired=error.expired, kind=RESET), 400
    user = db.session.get(User, payload.get("user")) if isinstance(payload, dict) else None
    if user is None or tokens.fingerprint(user.password_hash) != payload.get("state"):
        # Either damaged, or already used (the password has changed since it was made).
        return render_template("auth/link_problem.html", expired=False, kind=RESET), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        if user.email_verified_at is None:
            user.email_verified_at = utcnow()  # the link proved they own the address
        send_template(user, "Your password has been changed", "password_changed")
        db.session.commit()
        logout_user()
        flash("Your password has been changed. Sign in with your new password.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset_password.html", form=form)
