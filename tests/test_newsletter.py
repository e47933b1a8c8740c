"""The newsletter plugin: signing up (double opt-in), preferences, one-click unsubscribe,
administrators' messages (targeting, preview, test, sending in the background with progress),
the monthly digest, subject access and erasure, and the app without the plugin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import timed

from trainer import mail, privacy
from trainer.db import db, utcnow
from trainer.hooks import plugin_manager
from trainer.mail import OutboxMessage
from trainer.people import LocalAuthority, Region, Role, User
from trainer.plugins.newsletter import service
from trainer.plugins.newsletter.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Subscriber,
    SubscriberStatus,
)

CSRF = re.compile(r'name="([\w-]*csrf_token)"[^>]*value="([^"]+)"')
ADMIN = "admin@example.org"
CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/newsletter/confirm/\S+)")
SAME_ANSWER = "We have sent an email to"


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_sign_up_email_gap(app):
    """Most tests sign the same address up twice in a second; the gap has its own test."""
    app.config["NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS"] = 0



def post(client, path: str, data: dict | None = None, form_url: str | None = None,
         prefix: str = ""):
    """POST ``data`` with the CSRF token of the page at ``form_url`` (default ``path``)."""
    page = client.get(form_url or path).get_data(as_text=True)
    token = CSRF.search(page).group(2)
    fields = {f"{prefix}csrf_token": token}
    fields.update(data or {})
    return client.post(path, data=fields)


def region_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Region.id).where(Region.name == name))


def la_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(LocalAuthority.id).where(LocalAuthority.name == name))


def add_subscriber(app, email: str, status: str = SubscriberStatus.CONFIRMED, regions=(),
                   topics=(), local_authority=None, job_role=None, user_id=None) -> int:
    with app.app_context():
        now = utcnow()
        subscriber = Subscriber(
            email=email, token=service.new_token(), status=status, user_id=user_id,
            local_authority_id=local_authority, job_role=job_role, created_at=now,
            confirmed_at=now if status != SubscriberStatus.PENDING else None,
            requested_at=now if status == SubscriberStatus.PENDING else None)
        subscriber.region_ids = regions
        subscriber.topics = topics
        db.session.add(subscriber)
        db.session.commit()
        return subscriber.id


def subscriber(app, email: str) -> Subscriber:
    with app.app_context():
        found = db.session.scalar(sa.select(Subscriber).where(Subscriber.email == email))
        if found is not None:
            found.region_ids, found.topics  # noqa: B018  (load before detaching)
            db.session.expunge(found)
        return found


def outbox(app, **where) -> list[OutboxMessage]:
    with app.app_context():
        statement = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            statement = statement.where(getattr(OutboxMessage, name) == value)
        messages = db.session.scalars(statement).all()
        db.session.expunge_all()
        return messages


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))


def tick(app, now=None):
    with app.app_context(), mail.link_context():
        return plugin_manager(app).hook.trainer_tick(now=now or utcnow())


def sign_in_admin(make_user, auth) -> int:
    admin_id, _ = make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    auth.sign_in(ADMIN)
    return admin_id


def compose(client, subject="New sessions this term", body="Hello!\n\nBook now.", **targets):
    data = {"subject": subject, "body": body}
    data.update({key: value for key, value in targets.items() if value is not None})
    response = post(client, "/newsletter/admin/campaigns/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def send(client, campaign_id: int):
    path = f"/newsletter/admin/campaigns/{campaign_id}"
    return post(client, f"{path}/send", form_url=path, prefix="send-")


def is_newsletter(message: OutboxMessage) -> bool:
    return "/newsletter/unsubscribe/" in message.text_body


def assert_list_headers(message: OutboxMessage, token: str | None = None) -> None:
    headers = message.header_map()
    match = re.fullmatch(r"<(https?://[^>]+/newsletter/unsubscribe/([\w-]+))>",
                         headers["List-Unsubscribe"])
    assert match, headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {match.group(1)}" in message.text_body
    if token is not None:
        assert match.group(2) == token


def figure(page: str, label: str) -> int:
    """The number shown against ``label`` in a summary list."""
    match = re.search(rf"{label}\s*</dt>\s*<dd[^>]*>\s*([\d,]+)", page)
    assert match, f"no {label!r} on the page"
    return int(match.group(1).replace(",", ""))


def sign_up(client, email: str, **fields):
    data = {"email": email}
    data.update(fields)
    return post(client, "/newsletter/", data)


def confirm_link(app, email: str) -> str:
    [message] = [m for m in outbox(app, recipient=email)
                 if m.subject == "Confirm your newsletter subscription"][-1:]
    return CONFIRM_LINK.search(message.text_body).group(1)


# -- signing up by email: double opt-in -----------------------------------------------------------


def test_signing_up_by_email_needs_the_confirmation_link(app, client):
    london = region_id(app, "London")
    response = sign_up(client, "Reader@Example.com", regions=[str(london)], topics=["autism"])
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert SAME_ANSWER in page and "reader@example.com" in page

    found = subscriber(app, "reader@example.com")
    assert found.status == SubscriberStatus.PENDING
    assert found.region_ids == [london] and found.topics == ["autism"]
    [message] = outbox(app, recipient="reader@example.com")
    assert message.subject == "Confirm your newsletter subscription"
    assert not is_newsletter(message)

    confirmed = client.get(confirm_link(app, "reader@example.com"))
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.get_data(as_text=True)
    assert subscriber(app, "reader@example.com").status == SubscriberStatus.CONFIRMED
    # Following it again changes nothing.
    assert "You are subscribed" in client.get(
        confirm_link(app, "reader@example.com")).get_data(as_text=True)


def test_an_unconfirmed_address_gets_nothing_but_the_confirmation(app, client, make_user, auth):
    sign_up(client, "pending@example.com")
    add_subscriber(app, "confirmed@example.com")
    sign_in_admin(make_user, auth)
    campaign_id = compose(client)
    send(client, campaign_id)
    tick(app)
    assert [m.subject for m in outbox(app, recipient="pending@example.com")] == [
        "Confirm your newsletter subscription"]
    assert len(outbox(app, recipient="confirmed@example.com")) == 1


def test_signing_up_again_neither_duplicates_nor_tells_whether_subscribed(app, client):
    london, north_east = region_id(app, "London"), region_id(app, "North East")
    answers = []
    for _ in range(2):
        response = sign_up(client, "twice@example.com", regions=[str(london)])
        answers.append(client.get(response.headers["Location"]).get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 1
    client.get(confirm_link(app, "twice@example.com"))

    # Subscribed now: the same answer again, the preferences untouched, and an email saying so.
    response = sign_up(client, "twice@example.com", regions=[str(north_east)])
    answers.append(client.get(response.headers["Location"]).get_data(as_text=True))
    # Values (the CSRF token) and the script nonce differ with every page by design.
    strip = [re.sub(r'(value|nonce)="[^"]+"', "", answer) for answer in answers]
    assert strip[0] == strip[1] == strip[2]
    assert subscriber(app, "twice@example.com").region_ids == [london]
    last = outbox(app, recipient="twice@example.com")[-1]
    assert last.subject == "You are already subscribed to our newsletter"
    assert "/newsletter/preferences/" in last.text_body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 1


def test_only_the_latest_confirmation_link_works(app, client):
    sign_up(client, "again@example.com")
    first = confirm_link(app, "again@example.com")
    sign_up(client, "again@example.com")
    latest = confirm_link(app, "again@example.com")
    assert first != latest
    assert client.get(first).status_code == 400
    assert client.get(latest).status_code == 200


def test_an_expired_confirmation_link_changes_nothing(app, client, monkeypatch):
    sign_up(client, "late@example.com")
    link = confirm_link(app, "late@example.com")
    eight_days = 8 * 24 * 3600
    real = timed.time.time
    monkeypatch.setattr(timed.time, "time", lambda: real() + eight_days)
    response = client.get(link)
    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)
    assert subscriber(app, "late@example.com").status == SubscriberStatus.PENDING


@pytest.mark.parametrize("damage", [
    lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),
    lambda link: "/newsletter/confirm/not-a-token",
])
def test_a_forged_or_damaged_confirmation_link_is_refused(app, client, damage):
    sign_up(client, "forged@example.com")
    response = client.get(damage(confirm_link(app, "forged@example.com")))
    assert response.status_code == 400
    assert "This link is not valid" in response.get_data(as_text=True)
    assert subscriber(app, "forged@example.com").status == SubscriberStatus.PENDING


def test_a_confirmation_link_signed_for_another_subscriber_is_refused(app, client):
    from trainer import tokens

    sign_up(client, "real@example.com")
    other = add_subscriber(app, "other@example.com", status=SubscriberStatus.PENDING)
    with app.test_request_context():
        forged = tokens.make("newsletter-confirm", {"subscriber": other,
                                                    "email": "real@example.com",
                                                    "state": "0" * 16})
    assert client.get(f"/newsletter/confirm/{forged}").status_code == 400
    assert subscriber(app, "other@example.com").status == SubscriberStatus.PENDING


def test_bad_sign_up_input_is_named_and_saves_nothing(app, client):
    response = sign_up(client, "not an address", regions=["99999"], topics=["cooking"])
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "Enter an email address in the correct format" in page
    assert 'href="#email"' in page
    assert "Select regions from the list" in page and "Select topics from the list" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
    assert outbox_count(app) == 0


# -- preferences and unsubscribing from the links in every email ----------------------------------


def test_preferences_change_from_the_emailed_link_without_signing_in(app, client):
    subscriber_id = add_subscriber(app, "prefs@example.com")
    token = subscriber(app, "prefs@example.com").token
    leeds, yorkshire = la_id(app, "Leeds"), region_id(app, "Yorkshire and The Humber")
    page = client.get(f"/newsletter/preferences/{token}")
    assert page.status_code == 200
    assert "Your newsletter preferences" in page.get_data(as_text=True)
    response = post(client, f"/newsletter/preferences/{token}", {
        "regions": [str(yorkshire)], "topics": ["makaton", "behaviour"],
        "local_authority": str(leeds), "job_role": "senco"})
    assert response.status_code == 302
    found = subscriber(app, "prefs@example.com")
    assert found.id == subscriber_id
    assert found.region_ids == [yorkshire] and found.topics == ["behaviour", "makaton"]
    assert found.local_authority_id == leeds and found.job_role == "senco"
    assert "Your preferences have been saved" in client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert client.get("/newsletter/preferences/not-a-real-token").status_code == 404


def test_one_click_unsubscribe_is_a_post_without_a_csrf_token(app, client):
    add_subscriber(app, "leaving@example.com")
    token = subscriber(app, "leaving@example.com").token
    # Opening the link (a mail scanner does) only shows a button.
    page = client.get(f"/newsletter/unsubscribe/{token}")
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    assert subscriber(app, "leaving@example.com").status == SubscriberStatus.CONFIRMED

    # What a mail program sends (RFC 8058): no cookie, no CSRF token.
    fresh = app.test_client()
    response = fresh.post(f"/newsletter/unsubscribe/{token}",
                          data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You have unsubscribed" in response.get_data(as_text=True)
    found = subscriber(app, "leaving@example.com")
    assert found.status == SubscriberStatus.UNSUBSCRIBED and found.unsubscribed_at
    # Again: still fine, still unsubscribed.
    assert fresh.post(f"/newsletter/unsubscribe/{token}").status_code == 200
    assert fresh.post("/newsletter/unsubscribe/not-a-real-token").status_code == 404


def test_other_newsletter_forms_still_need_their_csrf_token(app, client):
    add_subscriber(app, "csrf@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    token = subscriber(app, "csrf@example.com").token
    assert client.post(f"/newsletter/resubscribe/{token}").status_code == 400
    assert client.post(f"/newsletter/preferences/{token}",
                       data={"topics": ["autism"]}).status_code == 400
    assert subscriber(app, "csrf@example.com").status == SubscriberStatus.UNSUBSCRIBED


def test_unsubscribed_by_mistake_subscribes_again(app, client):
    add_subscriber(app, "oops@example.com")
    token = subscriber(app, "oops@example.com").token
    page = client.post(f"/newsletter/unsubscribe/{token}").get_data(as_text=True)
    again = CSRF.search(page)
    response = client.post(f"/newsletter/resubscribe/{token}",
                           data={again.group(1): again.group(2)})
    assert response.status_code == 302
    assert subscriber(app, "oops@example.com").status == SubscriberStatus.CONFIRMED


# -- signed-in people -----------------------------------------------------------------------------


def test_signed_in_people_subscribe_at_once_and_manage_it_from_their_account(
        app, client, make_user, auth):
    leeds = la_id(app, "Leeds")
    user_id, email = make_user("priya@example.org", name="Priya Shah", job_role="senco",
                               local_authority_id=leeds)
    auth.sign_in(email)
    assert "Subscribe to the newsletter" in client.get("/account/").get_data(as_text=True)
    assert client.get("/newsletter/").headers["Location"].endswith("/newsletter/subscription")
    form = client.get("/newsletter/subscription").get_data(as_text=True)
    yorkshire = region_id(app, "Yorkshire and The Humber")
    assert re.search(rf'value="{yorkshire}"[^>]*checked', form)  # their area's region
    response = post(client, "/newsletter/subscription",
                    {"regions": [str(yorkshire)], "topics": ["autism"]})
    assert response.status_code == 302
    found = subscriber(app, email)
    assert found.status == SubscriberStatus.CONFIRMED and found.user_id == user_id
    assert outbox(app, recipient=email) == []  # no confirmation needed
    profile = client.get("/account/").get_data(as_text=True)
    assert "Subscribed" in profile and "Autism" in profile

    post(client, "/newsletter/subscription", {"topics": ["makaton"]})
    found = subscriber(app, email)
    assert found.topics == ["makaton"] and found.region_ids == []

    # Targeting uses their profile's local authority and role.
    with app.app_context():
        assert service.count_recipients({"local_authorities": [leeds],
                                         "job_roles": ["senco"]}) == 1


def test_signing_in_links_an_earlier_email_sign_up(app, client, make_user, auth):
    sign_up(client, "sam@example.org")
    _, email = make_user("sam@example.org")
    auth.sign_in(email)
    post(client, "/newsletter/subscription", {"topics": ["autism"]})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 1
    assert subscriber(app, email).status == SubscriberStatus.CONFIRMED


# -- administrators: compose, preview, test, send -------------------------------------------------


def test_admin_pages_are_for_administrators_only(app, client, make_user, auth):
    campaign_id = None
    sign_in_admin(make_user, auth)
    campaign_id = compose(client)
    auth.sign_out()
    for role in (Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER, Role.MODERATOR):
        _, email = make_user(f"{role}@example.org", roles=[role])
        auth.sign_in(email)
        for path in ("/newsletter/admin/", "/newsletter/admin/campaigns/new",
                     f"/newsletter/admin/campaigns/{campaign_id}",
                     f"/newsletter/admin/campaigns/{campaign_id}/edit"):
            assert client.get(path).status_code == 403, (role, path)
        token = CSRF.search(client.get("/newsletter/subscription").get_data(as_text=True))
        for action in ("send", "test"):
            response = client.post(f"/newsletter/admin/campaigns/{campaign_id}/{action}",
                                   data={f"{action}-csrf_token": token.group(2)})
            assert response.status_code == 403, (role, action)
        auth.sign_out()
    visitor = app.test_client().get(f"/newsletter/admin/campaigns/{campaign_id}")
    assert visitor.status_code == 302 and "/auth/sign-in" in visitor.headers["Location"]
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).status == CampaignStatus.DRAFT
    assert outbox_count(app) == 0


def test_a_message_needs_a_subject_and_a_body(app, client, make_user, auth):
    sign_in_admin(make_user, auth)
    response = post(client, "/newsletter/admin/campaigns/new", {"subject": "", "body": " "})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter a subject" in page and "Enter the message" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_the_preview_shows_the_email_and_how_many_it_reaches(app, client, make_user, auth):
    london = region_id(app, "London")
    add_subscriber(app, "a@example.com", regions=[london])
    add_subscriber(app, "b@example.com")  # no region chosen: hears about every region
    add_subscriber(app, "c@example.com", regions=[region_id(app, "North East")])
    add_subscriber(app, "d@example.com", status=SubscriberStatus.PENDING, regions=[london])
    add_subscriber(app, "e@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Autism training in London",
                          body="Dear all,\n\nNew sessions are open.", regions=[str(london)])
    page = client.get(f"/newsletter/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "<strong>2</strong> subscribers" in page
    assert "Send to 2 subscribers" in page
    assert "New sessions are open." in page and "Unsubscribe:" in page
    assert outbox_count(app) == 0

    # Changed to everyone: the count follows.
    edit = f"/newsletter/admin/campaigns/{campaign_id}/edit"
    post(client, edit, {"subject": "For everyone", "body": "Hello."})
    page = client.get(f"/newsletter/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "<strong>3</strong> subscribers" in page and "Every confirmed subscriber" in page


def test_a_test_goes_to_the_admin_only(app, client, make_user, auth):
    for number in range(5):
        add_subscriber(app, f"reader{number}@example.com")
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Spring programme")
    path = f"/newsletter/admin/campaigns/{campaign_id}"
    response = post(client, f"{path}/test", form_url=path, prefix="test-")
    assert response.status_code == 302
    [message] = outbox(app)
    assert message.recipient == ADMIN and message.subject == "[Test] Spring programme"
    assert_list_headers(message)
    assert "A test email is on its way" in client.get(path).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).status == CampaignStatus.DRAFT


def test_sending_queues_in_the_background_and_shows_progress(app, client, make_user, auth):
    for number in range(7):
        add_subscriber(app, f"reader{number}@example.com")
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Places left on twilight sessions")
    response = send(client, campaign_id)
    assert response.status_code == 302
    assert outbox_count(app) == 0  # the request only recorded it
    path = f"/newsletter/admin/campaigns/{campaign_id}"
    page = client.get(path).get_data(as_text=True)
    assert "Waiting to send" in page and "These figures are from" in page and "Refresh" in page

    # Sending again does nothing more.
    send(client, campaign_id)
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign.status == CampaignStatus.QUEUED and campaign.target_count == 7

    summaries = tick(app)
    assert any("Newsletter: 7 messages queued" in summary for summary in summaries)
    messages = outbox(app, subject="Places left on twilight sessions")
    assert sorted(m.recipient for m in messages) == sorted(
        f"reader{number}@example.com" for number in range(7))
    for message in messages:
        assert_list_headers(message, subscriber(app, message.recipient).token)
        assert "/newsletter/preferences/" in message.text_body
    page = client.get(path).get_data(as_text=True)
    assert figure(page, "Recipients") == figure(page, "Queued into the outbox") == 7

    with app.app_context():
        mail.deliver_due(limit=4)
    page = client.get(path).get_data(as_text=True)
    assert figure(page, "Sent") == 4 and figure(page, "Waiting to be sent") == 3
    with app.app_context():
        mail.deliver_due()
    page = client.get(path).get_data(as_text=True)
    assert "Every email has been sent or has failed" in page
    assert "Refresh" not in page
    assert not any("Newsletter" in summary for summary in tick(app))


def test_a_message_reaching_nobody_cannot_be_sent(app, client, make_user, auth):
    add_subscriber(app, "a@example.com", job_role="senco")
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, job_roles=["health_visitor"])
    page = client.get(f"/newsletter/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Nobody matches" in page
    send(client, campaign_id)
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).status == CampaignStatus.DRAFT


@pytest.mark.parametrize("target", ["region", "local_authority", "job_role", "topic"])
def test_targeting(app, client, make_user, auth, target):
    london, north_east = region_id(app, "London"), region_id(app, "North East")
    leeds, york = la_id(app, "Leeds"), la_id(app, "York")
    add_subscriber(app, "match@example.com", regions=[london], topics=["autism"],
                   local_authority=leeds, job_role="senco")
    add_subscriber(app, "other@example.com", regions=[north_east], topics=["makaton"],
                   local_authority=york, job_role="childminder")
    add_subscriber(app, "unknown@example.com")  # chose nothing, gave nothing
    person_id, person_email = make_user("linked@example.org", job_role="senco",
                                        local_authority_id=leeds)
    add_subscriber(app, person_email, user_id=person_id, regions=[london], topics=["autism"])
    choices = {
        "region": ({"regions": [str(london)]}, {"match", "unknown", "linked"}),
        "local_authority": ({"local_authority": str(leeds)}, {"match", "linked"}),
        "job_role": ({"job_roles": ["senco"]}, {"match", "linked"}),
        "topic": ({"topics": ["autism"]}, {"match", "unknown", "linked"}),
    }
    targets, expected = choices[target]
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Targeted", **targets)
    page = client.get(f"/newsletter/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert f"<strong>{len(expected)}</strong> subscribers" in page
    send(client, campaign_id)
    tick(app)
    received = {m.recipient.split("@")[0] for m in outbox(app, subject="Targeted")}
    assert received == expected


def test_targets_combine(app):
    london = region_id(app, "London")
    leeds = la_id(app, "Leeds")
    add_subscriber(app, "both@example.com", regions=[london], job_role="senco")
    add_subscriber(app, "role@example.com", regions=[region_id(app, "North East")],
                   job_role="senco")
    add_subscriber(app, "place@example.com", regions=[london], job_role="teacher",
                   local_authority=leeds)
    with app.app_context():
        assert service.count_recipients({"regions": [london], "job_roles": ["senco"]}) == 1
        assert service.count_recipients({"regions": [london]}) == 2
        assert service.count_recipients({}) == 3


def test_campaigns_are_listed_newest_first_a_page_at_a_time(app, client, make_user, auth):
    admin_id = sign_in_admin(make_user, auth)
    with app.app_context():
        now = utcnow()
        for number in range(30):
            campaign = Campaign(subject=f"Message {number:02d}", body="Hello",
                                created_by_id=admin_id,
                                created_at=now - timedelta(hours=number), updated_at=now)
            db.session.add(campaign)
        db.session.commit()
    first = client.get("/newsletter/admin/").get_data(as_text=True)
    assert "Message 00" in first and "Message 24" in first and "Message 25" not in first
    second = client.get("/newsletter/admin/?page=2").get_data(as_text=True)
    assert "Message 25" in second and "Message 29" in second
    assert client.get("/newsletter/admin/?page=0").status_code == 404


def test_the_administration_page_links_the_newsletter(app, client, make_user, auth):
    sign_in_admin(make_user, auth)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/newsletter/admin/"' in page and 'href="/newsletter/admin/campaigns/new"' in page


def test_the_home_page_invites_visitors_to_sign_up(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/newsletter/"' in page and "Sign up to our newsletter" in page


# -- subject access and erasure -------------------------------------------------------------------


def test_subject_access_and_erasure(app, client, make_user, auth):
    user_id, email = make_user("erin@example.org", name="Erin Example", job_role="senco")
    auth.sign_in(email)
    london = region_id(app, "London")
    post(client, "/newsletter/subscription", {"regions": [str(london)], "topics": ["autism"]})
    token = subscriber(app, email).token
    auth.sign_out()
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="For Erin and all")
    send(client, campaign_id)
    tick(app)

    with app.app_context():
        user = db.session.get(User, user_id)
        data = privacy.user_data(user)
    [record] = data["Newsletter subscription"]
    assert record["email"] == email and record["status"] == "confirmed"
    assert record["regions"] == "London" and record["topics"] == "Autism"
    assert record["job_role"] == "SENCO"
    assert [row["subject"] for row in data["Newsletter emails"]] == ["For Erin and all"]

    with app.app_context():
        privacy.erase_user(db.session.get(User, user_id))
        privacy.erase_user(db.session.get(User, user_id))  # twice is safe
        rows = db.session.scalars(sa.select(Subscriber)).all()
        assert [row.email for row in rows] == [f"erased-subscriber-{rows[0].id}@invalid.example"]
        assert rows[0].user_id is None and rows[0].status == SubscriberStatus.UNSUBSCRIBED
        assert rows[0].region_ids == [] and rows[0].topics == []
        # What was sent stays counted; the mail itself to them is gone.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignRecipient)) == 1
        assert service.count_recipients({}) == 0
        assert privacy.user_data(db.session.get(User, user_id)).get(
            "Newsletter subscription") is None
    assert outbox(app, recipient=email) == []
    assert app.test_client().get(f"/newsletter/preferences/{token}").status_code == 404


def test_an_email_only_subscription_with_the_persons_address_is_theirs_too(app, make_user):
    user_id, email = make_user("fran@example.org")
    add_subscriber(app, email, topics=["makaton"])
    with app.app_context():
        user = db.session.get(User, user_id)
        [record] = privacy.user_data(user)["Newsletter subscription"]
        assert record["linked_to_account"] is False and record["topics"] == "Makaton"
        privacy.erase_user(user)
        assert service.by_email(email) is None


# -- demo data and the app without the plugin -----------------------------------------------------


def test_demo_data_has_subscribers_and_a_sent_campaign(app):
    from trainer import demo

    with app.app_context():
        made = demo.create("small", echo=lambda *_: None)
        assert made["newsletter_subscribers"] >= 200
        [campaign] = db.session.scalars(sa.select(Campaign)).all()
        assert campaign.status == CampaignStatus.SENT
        assert campaign.queued_count == campaign.target_count > 100
        from trainer.plugins.newsletter import sending

        figures = sending.progress(campaign)
        assert figures["sent"] == figures["queued"] == campaign.target_count


def test_without_the_plugin_its_pages_are_gone_and_nothing_else_breaks(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["newsletter"])
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 200 and "/newsletter/" not in home.get_data(as_text=True)
    for path in ("/newsletter/", "/newsletter/subscription", "/newsletter/admin/",
                 "/newsletter/unsubscribe/abc", "/newsletter/confirm/abc"):
        assert client.get(path).status_code == 404, path
    assert client.post("/newsletter/unsubscribe/abc").status_code == 404
    _, email = make_user(ADMIN, roles=[Role.ADMIN])
    from tests.conftest import Auth, Browser

    Auth(Browser(client)).sign_in(email)
    for path in ("/dashboard", "/account/", "/admin/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "/newsletter/" not in page.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["trainer", "tick"])
    assert result.exit_code == 0 and "Newsletter" not in result.output


def test_the_sign_up_page_cannot_flood_an_inbox(app, client):
    app.config["NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS"] = 600
    answers = []
    for _ in range(5):
        response = sign_up(client, "victim@example.com")
        answers.append(client.get(response.headers["Location"]).get_data(as_text=True))
    assert len(outbox(app, recipient="victim@example.com")) == 1  # one email, not five
    # Values (the CSRF token) and the script nonce differ with every page by design.
    strip = [re.sub(r'(value|nonce)="[^"]+"', "", answer) for answer in answers]
    assert len(set(strip)) == 1  # and the page says the same each time
    link = confirm_link(app, "victim@example.com")
    assert client.get(link).status_code == 200  # the first link still works
    for _ in range(3):
        sign_up(client, "victim@example.com")
    assert len(outbox(app, recipient="victim@example.com")) == 1
    with app.app_context():
        emailed = db.session.scalar(sa.select(Subscriber.sign_up_emailed_at))
        db.session.execute(sa.update(Subscriber).values(
            sign_up_emailed_at=emailed - timedelta(minutes=11)))
        db.session.commit()
    sign_up(client, "victim@example.com")
    assert outbox(app, recipient="victim@example.com")[-1].subject == \
        "You are already subscribed to our newsletter"
