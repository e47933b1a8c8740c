"""The newsletter's pages: signing up, confirming, preferences and unsubscribing (from the
links in every email, no sign-in needed), a signed-in person's subscription, and the
administrators' pages for writing, testing and sending messages and watching them go out.

The unsubscribe link answers a POST at once, without a CSRF token: that is what mail programs
send for the one-click "Unsubscribe" of RFC 8058. Opening the link (GET) only shows a button,
because mail scanners open links.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from trainer.access import public, roles_required, signed_in
from trainer.catalogue import TOPIC_LABELS
from trainer.db import db, utcnow, write_transaction
from trainer.people import JOB_ROLE_LABELS, LocalAuthority, Role, normalise_email
from trainer.plugins.newsletter import digest, sending, service
from trainer.plugins.newsletter.forms import (
    CampaignForm,
    ConfirmForm,
    PreferencesForm,
    SignUpForm,
)
from trainer.plugins.newsletter.models import Campaign, CampaignStatus

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")


@bp.record_once
def _exempt_one_click(state) -> None:
    state.app.extensions["csrf"].exempt(unsubscribe)


def _link_problem(expired: bool = False, status: int = 404):
    return render_template("newsletter/link_problem.html", expired=expired), status


# -- signing up -----------------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
@public
def sign_up():
    """Sign up by email (double opt-in). Signed-in people go to their subscription."""
    if current_user.is_authenticated:
        return redirect(url_for("newsletter.my_subscription"))
    form = SignUpForm().fill_choices()
    if form.validate_on_submit():
        with write_transaction():
            service.sign_up_by_email(form.email.data, form.preferences())
        session["newsletter_email"] = normalise_email(form.email.data)
        return redirect(url_for("newsletter.check_email"))
    return render_template("newsletter/sign_up.html", form=form)


@bp.route("/check-your-email")
@public
def check_email():
    """The same answer whether or not the address was subscribed already."""
    return render_template("newsletter/check_email.html",
                           email=session.get("newsletter_email"),
                           days=max(service.setting("NEWSLETTER_CONFIRM_MAX_AGE_SECONDS")
                                    // 86400, 1))


@bp.route("/confirm/<token>")
@public
def confirm(token: str):
    """Follow the confirmation link: subscribed from now on."""
    try:
        with write_transaction():  # a GET that writes: take the write lock first
            subscriber = service.confirm(token)
            preferences_url = url_for("newsletter.preferences", token=subscriber.token)
    except service.LinkProblem as problem:
        return _link_problem(expired=problem.expired, status=400)
    return render_template("newsletter/confirmed.html", preferences_url=preferences_url)


# -- from the links in every email ----------------------------------------------------------------


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@public
def preferences(token: str):
    """Change what you hear about, from the link in any newsletter email."""
    subscriber = service.by_token(token)
    if subscriber is None:
        return _link_problem()
    form = PreferencesForm(data=_form_data(subscriber) if request.method == "GET" else None)
    form.fill_choices()
    if form.validate_on_submit():
        with write_transaction():
            subscriber = service.by_token(token)
            service.save_preferences(subscriber, form.preferences())
        flash("Your preferences have been saved.", "success")
        return redirect(url_for("newsletter.preferences", token=token))
    return render_template("newsletter/preferences.html", form=form, subscriber=subscriber,
                           token=token, resubscribe_form=ConfirmForm(prefix="again"))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
def unsubscribe(token: str):
    """GET: a page with a button. POST (the button, or a mail program's one-click
    unsubscribe, which has no CSRF token): unsubscribed at once."""
    subscriber = service.by_token(token)
    if subscriber is None:
        return _link_problem()
    if request.method == "POST":
        with write_transaction():
            subscriber = service.by_token(token)
            service.unsubscribe(subscriber)
        return render_template("newsletter/unsubscribed.html", token=token,
                               form=ConfirmForm(prefix="again"))
    return render_template("newsletter/unsubscribe.html", subscriber=subscriber, token=token)


@bp.route("/resubscribe/<token>", methods=["POST"])
@public
def resubscribe(token: str):
    """Changed your mind after unsubscribing: subscribed again, with the same preferences."""
    subscriber = service.by_token(token)
    if subscriber is None:
        return _link_problem()
    form = ConfirmForm(prefix="again")
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        subscriber = service.by_token(token)
        done = service.resubscribe(subscriber)
    if done:
        flash("You are subscribed to the newsletter again.", "success")
    else:
        flash("Sign up again to subscribe.", "info")
        return redirect(url_for("newsletter.sign_up"))
    return redirect(url_for("newsletter.preferences", token=token))


# -- signed in ------------------------------------------------------------------------------------


def _form_data(subscriber) -> dict:
    return {
        "regions": subscriber.region_ids,
        "topics": subscriber.topics,
        "local_authority": str(subscriber.local_authority_id or ""),
        "job_role": subscriber.job_role or "",
    }


@bp.route("/subscription", methods=["GET", "POST"])
@signed_in
def my_subscription():
    """Subscribe with your account's address (at once), or change your preferences."""
    user = current_user._get_current_object()
    subscriber = service.subscription_for(user)
    if request.method == "GET":
        if subscriber is not None:
            data = _form_data(subscriber)
        else:
            area = user.area
            data = {"regions": [area.region_id] if area is not None else []}
        form = PreferencesForm(data=data)
    else:
        form = PreferencesForm()
    form.fill_choices()
    if form.validate_on_submit():
        was_confirmed = subscriber is not None and subscriber.is_confirmed
        with write_transaction():
            subscriber = service.subscribe_user(user, form.preferences())
            confirmed = subscriber.is_confirmed
        if was_confirmed:
            flash("Your newsletter preferences have been saved.", "success")
        elif confirmed:
            flash("You are subscribed to the newsletter.", "success")
        else:
            flash("We have sent you an email: follow its link to confirm your subscription.",
                  "info")
        return redirect(url_for("newsletter.my_subscription"))
    la = user.area
    return render_template("newsletter/my_subscription.html", form=form, subscriber=subscriber,
                           area=la)


# -- administrators -------------------------------------------------------------------------------


@bp.route("/admin/")
@roles_required(Role.ADMIN)
def admin_index():
    """Subscribers at a glance, the monthly digest, and every message, newest first."""
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    pagination = db.paginate(
        sa.select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc()),
        page=page, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template(
        "newsletter/admin/index.html",
        pagination=pagination,
        counts=service.counts_by_status(),
        runs=digest.latest_runs(),
        digest_day=service.setting("NEWSLETTER_DIGEST_DAY"),
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id) if campaign_id < 2**31 else None
    if campaign is None:
        abort(404)
    return campaign


@bp.route("/admin/campaigns/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def compose():
    """Write a message and choose who it is for; the next page previews it."""
    form = CampaignForm().fill_choices()
    if form.validate_on_submit():
        with write_transaction():
            now = utcnow()
            campaign = Campaign(subject=form.subject.data, body=form.body.data,
                                created_by_id=current_user.id, created_at=now, updated_at=now,
                                status=CampaignStatus.DRAFT)
            campaign.target_map = form.targets()
            db.session.add(campaign)
            db.session.flush()
            campaign_id = campaign.id
        return redirect(url_for("newsletter.campaign", campaign_id=campaign_id))
    return render_template("newsletter/admin/compose.html", form=form, campaign=None)


@bp.route("/admin/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_campaign(campaign_id: int):
    """Change a message that has not been sent."""
    campaign = _campaign_or_404(campaign_id)
    if not campaign.is_draft:
        flash("This message has been sent, so it cannot be changed.", "info")
        return redirect(url_for("newsletter.campaign", campaign_id=campaign_id))
    form = CampaignForm(obj=campaign if request.method == "GET" else None).fill_choices()
    if request.method == "GET":
        form.load(campaign.target_map)
    if form.validate_on_submit():
        with write_transaction():
            campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
            if campaign.is_draft:
                campaign.subject = form.subject.data
                campaign.body = form.body.data
                campaign.target_map = form.targets()
                campaign.updated_at = utcnow()
        return redirect(url_for("newsletter.campaign", campaign_id=campaign_id))
    return render_template("newsletter/admin/compose.html", form=form, campaign=campaign)


def _target_words(targets: dict) -> list[tuple[str, str]]:
    regions = dict(service.region_choices())
    words = []
    if targets["regions"]:
        words.append(("Regions", ", ".join(regions.get(i, str(i)) for i in targets["regions"])))
    if targets["local_authorities"]:
        names = [db.session.get(LocalAuthority, i) for i in targets["local_authorities"]]
        words.append(("Local authority", ", ".join(la.name for la in names if la)))
    if targets["job_roles"]:
        words.append(("Job roles", ", ".join(JOB_ROLE_LABELS.get(role, role)
                                             for role in targets["job_roles"])))
    if targets["topics"]:
        words.append(("Topics", ", ".join(TOPIC_LABELS.get(topic, topic)
                                          for topic in targets["topics"])))
    return words or [("Who", "Every confirmed subscriber")]


@bp.route("/admin/campaigns/<int:campaign_id>")
@roles_required(Role.ADMIN)
def campaign(campaign_id: int):
    """A draft: the preview, how many it reaches, a test and the send button. A message sent:
    its progress, with a button to refresh the figures (no script, no self-refreshing page)."""
    campaign = _campaign_or_404(campaign_id)
    targets = campaign.target_map
    context = {"campaign": campaign, "target_words": _target_words(targets),
               "preview": sending.render_text(campaign, "your-own-link")}
    if campaign.is_draft:
        return render_template("newsletter/admin/campaign.html", **context,
                               count=service.count_recipients(targets),
                               test_form=ConfirmForm(prefix="test"),
                               send_form=ConfirmForm(prefix="send"))
    figures = sending.progress(campaign)
    return render_template("newsletter/admin/campaign.html", **context, figures=figures,
                           finished=sending.is_finished(campaign, figures),
                           updated_at=utcnow(), test_form=ConfirmForm(prefix="test"))


@bp.route("/admin/campaigns/<int:campaign_id>/test", methods=["POST"])
@roles_required(Role.ADMIN)
def test_send(campaign_id: int):
    """Send the message to yourself only."""
    campaign = _campaign_or_404(campaign_id)
    form = ConfirmForm(prefix="test")
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        sending.send_test(campaign, current_user._get_current_object())
    flash(f"A test email is on its way to {current_user.email}.", "success")
    return redirect(url_for("newsletter.campaign", campaign_id=campaign_id))


@bp.route("/admin/campaigns/<int:campaign_id>/send", methods=["POST"])
@roles_required(Role.ADMIN)
def send_campaign(campaign_id: int):
    """Send to everyone it reaches. Only recorded here; ``tick`` fills the outbox."""
    _campaign_or_404(campaign_id)
    form = ConfirmForm(prefix="send")
    if not form.validate_on_submit():
        abort(400)
    queued = sending.queue_campaign(campaign_id, current_user._get_current_object())
    if queued is None:
        campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
        if campaign.is_draft:
            flash("Nobody matches who this message is for. Change who it is for, then send "
                  "it.", "info")
        else:
            flash("This message has already been sent.", "info")
    else:
        flash(f"Sending to {queued.target_count:,} "
              f"{'subscriber' if queued.target_count == 1 else 'subscribers'}. The emails go "
              "out over the next few minutes.", "success")
    return redirect(url_for("newsletter.campaign", campaign_id=campaign_id))
