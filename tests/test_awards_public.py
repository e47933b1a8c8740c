"""The awards pages: about the schemes, the register of award holders, verification, the
Open Badges credential, certificates, and the admins' awards list, withdrawal and celebration
report."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest

from awards import register
from tests.awards_support import make_applicant, make_setting, make_staff
from tests.test_awards_register import award_expiring, award_for, get_award, noon, withdraw
from trainer.documents import spreadsheet_safe
from trainer.people import Role
from trainer.times import day

ADMIN_EMAIL = "awards-admin@example.org"


@pytest.fixture
def admin(make_user):
    return make_user(ADMIN_EMAIL, name="Ada Admin", roles=[Role.ADMIN])[0]


def text_of(response) -> str:
    """The page's text with tags removed and spaces collapsed, as a reader would see it."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").strip()


def today() -> date:
    return register.london_today()


# -- about the schemes --------------------------------------------------------------------------


def test_home_describes_each_scheme_and_when_it_is_open(client):
    page = text_of(client.get("/awards/"))
    assert "Test inclusion award" in page
    assert "Inclusion kite-mark" in page and "Communication award" in page
    assert f"Applications are open until {day(date(today().year, 12, 31))}" in page
    assert "Your pages" not in page


def test_home_links_admins_to_their_pages(client, auth, admin):
    auth.sign_in(ADMIN_EMAIL)
    html = client.get("/awards/").get_data(as_text=True)
    assert 'href="/awards/admin/awards"' in html


def test_scheme_page_shows_criteria_scale_outcomes_and_windows(client):
    page = text_of(client.get("/awards/schemes/test_award"))
    assert "Partnership with families" in page
    assert "Show how families help plan support." in page
    assert "Look for families as partners." not in page  # assessors' guidance is theirs
    assert "Not yet met" in page and "Exceeded" in page
    assert "Awarded for 1 year with action points" in page
    assert "The award lasts 24 months" in page
    assert "Every year from 1 January to 31 December" in page


def test_unknown_scheme_is_not_found(client):
    assert client.get("/awards/schemes/no_such_scheme").status_code == 404


# -- the register ------------------------------------------------------------------------------


@pytest.fixture
def holders(app, admin):
    """Current awards in Leeds (two districts) and York; an expired and a withdrawn one."""
    leeds_a = make_setting(app, "Acorn Nursery", "Leeds")
    leeds_b = make_setting(app, "Beech Pre-school", "Leeds")
    york = make_setting(app, "Castle Childminding", "York")
    gone = make_setting(app, "Expired Tots", "Leeds")
    pulled = make_setting(app, "Withdrawn Kids", "York")
    awards = {
        "acorn": award_for(app, leeds_a, district="Headingley"),
        "beech": award_for(app, leeds_b, district="Roundhay"),
        "castle": award_for(app, york, district=None),
        "expired": award_expiring(app, gone, today() - timedelta(days=1)),
        "withdrawn": award_for(app, pulled),
    }
    withdraw(app, awards["withdrawn"], admin, "Serious concerns about safeguarding")
    return awards


def test_register_lists_current_holders_by_la_and_district(client, holders):
    response = client.get("/awards/register")
    page = text_of(response)
    assert "3 awards" in page
    page = page[page.index("3 awards"):]
    assert page.index("Leeds") < page.index("Headingley") < page.index("Acorn Nursery") \
        < page.index("Roundhay") < page.index("Beech Pre-school") < page.index("York") \
        < page.index("Castle Childminding")
    assert "District not given" in page
    assert "Expired Tots" not in page and "Withdrawn Kids" not in page
    code = get_award(client.application, holders["acorn"]).verification_code
    assert f'href="/awards/verify/{code}"' in response.get_data(as_text=True)


def test_register_filters_by_la_scheme_and_name(client, holders):
    york_id = get_award(client.application, holders["castle"]).local_authority_id
    page = text_of(client.get(f"/awards/register?local_authority={york_id}"))
    assert "Castle Childminding" in page and "Acorn Nursery" not in page
    page = text_of(client.get("/awards/register?q=beech"))
    assert "Beech Pre-school" in page and "Acorn Nursery" not in page
    page = text_of(client.get("/awards/register?q=100%25"))
    assert "No current award holders match these filters." in page
    page = text_of(client.get("/awards/register?scheme=inclusion_kite_mark"))
    assert "No current award holders match these filters." in page


def test_register_la_filter_offers_only_las_with_awards(client, holders):
    html = client.get("/awards/register").get_data(as_text=True)
    options = re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', html)
    assert options == ["Leeds", "York"]


def test_empty_register_says_so(client):
    page = text_of(client.get("/awards/register"))
    assert "No setting holds a current award yet." in page


def test_register_pages_through_many_holders(app, client):
    setting = make_setting(app, "Many Nursery", "Leeds")
    for _ in range(app.config["PAGE_SIZE"] * 2 + 1):
        award_for(app, setting)
    first = client.get("/awards/register").get_data(as_text=True)
    assert "/awards/register?page=2" in first
    assert client.get("/awards/register?page=2").status_code == 200
    assert client.get("/awards/register?page=0").status_code == 404


# -- verification and badges -------------------------------------------------------------------


def code_of(app, award_id: int) -> str:
    return get_award(app, award_id).verification_code


def test_verify_a_valid_award(app, client, holders):
    award = get_award(app, holders["acorn"])
    page = text_of(client.get(f"/awards/verify/{award.verification_code}"))
    assert "This award is valid" in page
    assert "Acorn Nursery" in page and "Test inclusion award" in page
    assert f"until {register.expiry_for(award.awarded_on, 24):%A} " in page
    assert "Awarded for 2 years" in page


def test_verify_an_expired_award(app, client, holders):
    award = get_award(app, holders["expired"])
    page = text_of(client.get(f"/awards/verify/{award.verification_code}"))
    yesterday = today() - timedelta(days=1)
    assert "This award has expired" in page
    assert f"This award expired on {yesterday:%A} {yesterday.day} {yesterday:%B %Y}" in page


def test_verify_a_withdrawn_award_does_not_show_the_reason(app, client, holders):
    page = text_of(client.get(f"/awards/verify/{code_of(app, holders['withdrawn'])}"))
    assert f"This award was withdrawn on {today():%A} {today().day} {today():%B %Y}" in page
    assert "safeguarding" not in page
    assert "digital badge" not in page


def test_verify_an_unknown_code(client):
    response = client.get("/awards/verify/not-a-real-code")
    assert response.status_code == 404
    assert "No award has this code" in text_of(response)


def test_badge_is_an_open_badges_credential(app, client, holders):
    award = get_award(app, holders["acorn"])
    response = client.get(f"/awards/verify/{award.verification_code}/badge.json")
    assert response.status_code == 200
    assert response.mimetype in ("application/ld+json", "application/json")
    badge = json.loads(response.get_data(as_text=True))
    assert badge["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                 "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert badge["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert badge["id"] == f"http://localhost/awards/verify/{award.verification_code}"
    assert badge["issuer"]["type"] == ["Profile"]
    assert badge["issuer"]["id"] == "http://localhost/"
    assert badge["issuer"]["name"] == app.config["SERVICE_NAME"]
    pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
    assert re.match(pattern, badge["validFrom"]) and re.match(pattern, badge["validUntil"])
    assert badge["validFrom"] < badge["validUntil"]
    assert badge["validUntil"][:10] in (award.expires_on.isoformat(),
                                        (award.expires_on + timedelta(days=1)).isoformat())
    subject = badge["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["name"] == "Acorn Nursery"
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == "Test inclusion award"
    assert achievement["id"] == "http://localhost/awards/schemes/test_award"
    assert "Partnership with families" in achievement["criteria"]["narrative"]
    assert "proof" not in badge


def test_badge_of_a_withdrawn_award_is_gone(app, client, holders):
    response = client.get(f"/awards/verify/{code_of(app, holders['withdrawn'])}/badge.json")
    assert response.status_code == 410
    assert json.loads(response.get_data(as_text=True))["error"] == \
        "This award has been withdrawn."
    assert client.get("/awards/verify/nope/badge.json").status_code == 404


# -- certificates ------------------------------------------------------------------------------


@pytest.fixture
def zoe(app, make_user):
    setting_id = make_setting(app, "Zoë's Nursery", "Leeds")
    make_applicant(make_user, setting_id, "zoe-senco@example.org")
    make_staff(make_user, setting_id, "zoe-staff@example.org")
    return award_for(app, setting_id, "one_year", made_at=noon(date(2026, 3, 3)))


def test_applicant_downloads_the_certificate(app, client, auth, zoe):
    auth.sign_in("zoe-senco@example.org")
    response = client.get(f"/awards/certificates/{zoe}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    assert data.startswith(b"%PDF")
    text = data.decode("latin-1")
    assert "Zo\xeb's Nursery" in text  # the core fonts print ë (Windows-1252)
    assert "Awarded for 1 year with action points" in text
    assert "Awarded on Tuesday 3 March 2026" in text
    assert "Valid until Tuesday 2 March 2027" in text
    assert f"http://localhost/awards/verify/{code_of(app, zoe)}" in text
    title = re.search(r"/Title <feff([0-9a-f]+)>", text).group(1)
    assert bytes.fromhex(title).decode("utf-16-be") == \
        "Certificate: Test inclusion award awarded to Zoë's Nursery"


def test_admin_downloads_any_certificate(client, auth, admin, zoe):
    auth.sign_in(ADMIN_EMAIL)
    assert client.get(f"/awards/certificates/{zoe}.pdf").status_code == 200


@pytest.mark.parametrize("email", ["zoe-staff@example.org", "elsewhere@example.org"])
def test_others_cannot_download_the_certificate(app, client, auth, make_user, zoe, email):
    if email.startswith("elsewhere"):
        make_applicant(make_user, make_setting(app, "Elsewhere Nursery"), email)
    auth.sign_in(email)
    assert client.get(f"/awards/certificates/{zoe}.pdf").status_code == 403


def test_signed_out_visitors_are_asked_to_sign_in_for_a_certificate(client, zoe):
    assert client.get(f"/awards/certificates/{zoe}.pdf").status_code == 302


def test_withdrawn_award_has_no_certificate(app, client, auth, admin, zoe):
    withdraw(app, zoe, admin, "Concerns")
    auth.sign_in("zoe-senco@example.org")
    response = client.get(f"/awards/certificates/{zoe}.pdf")
    assert response.status_code == 410
    assert "This award was withdrawn" in text_of(response)


# -- admins: the awards list and withdrawal ----------------------------------------------------


def test_admin_lists_awards_by_status(client, auth, holders):
    auth.sign_in(ADMIN_EMAIL)
    page = text_of(client.get("/awards/admin/awards"))
    assert "3 current awards" in page
    assert "Acorn Nursery" in page and "Withdrawn Kids" not in page
    page = text_of(client.get("/awards/admin/awards?status=withdrawn"))
    assert "Withdrawn Kids" in page and "safeguarding" in page
    page = text_of(client.get("/awards/admin/awards?status=expired"))
    assert "Expired Tots" in page and "Acorn Nursery" not in page
    page = text_of(client.get("/awards/admin/awards?status=all"))
    assert "5 awards" in page
    page = text_of(client.get("/awards/admin/awards?scheme=inclusion_kite_mark"))
    assert "There are no current awards of this kind." in page


def test_admin_awards_list_is_empty_when_there_are_none(client, auth, admin):
    auth.sign_in(ADMIN_EMAIL)
    assert "There are no current awards." in text_of(client.get("/awards/admin/awards"))


def test_withdrawing_needs_a_reason_on_the_form(app, browser, auth, holders):
    auth.sign_in(ADMIN_EMAIL)
    url = f"/awards/admin/awards/{holders['acorn']}/withdraw"
    response = browser.submit(url, {"reason": "  "})
    page = text_of(response)
    assert "There is a problem" in page
    assert 'href="#reason"' in response.get_data(as_text=True)
    assert "Enter the reason for withdrawing the award" in page
    assert get_award(app, holders["acorn"]).withdrawn_at is None


def test_admin_withdraws_an_award(app, browser, auth, make_user, holders, mailbox):
    setting_id = get_award(app, holders["acorn"]).setting_id
    make_applicant(make_user, setting_id, "acorn-senco@example.org")
    url = f"/awards/admin/awards/{holders['acorn']}/withdraw"
    auth.sign_in(ADMIN_EMAIL)
    response = browser.submit(url, {"reason": "Closed down"}, follow_redirects=True)
    assert "has been withdrawn" in text_of(response)
    assert get_award(app, holders["acorn"]).withdrawn_reason == "Closed down"
    assert [message["Subject"] for message in mailbox()] == [
        "Your Test inclusion award has been withdrawn"]
    assert "Acorn Nursery" not in text_of(browser.get("/awards/register"))
    again = text_of(browser.get(url))
    assert "This award was withdrawn on" in again and "Withdraw the award" in again
    assert 'name="reason"' not in browser.get(url).get_data(as_text=True)


# -- admins: the celebration report ------------------------------------------------------------


@pytest.fixture
def celebrated(app, admin):
    leeds = make_setting(app, "Leeds Nursery", "Leeds")
    york = make_setting(app, "York Nursery", "York")
    award_for(app, leeds, "two_years", made_at=noon(date(2025, 2, 1)))
    award_for(app, leeds, "one_year", made_at=noon(date(2025, 7, 1)))
    award_for(app, york, "two_years", made_at=noon(date(2025, 11, 5)))
    award_for(app, york, "two_years", made_at=noon(date(2024, 5, 5)))


def test_celebration_report_tables(client, auth, celebrated):
    auth.sign_in(ADMIN_EMAIL)
    response = client.get("/awards/admin/celebration?year=2025")
    page = text_of(response)
    assert "3 awards made in 2025" in page
    assert "Awards made in 2025 by award and outcome" in page
    assert "Test inclusion award Awarded for 2 years 2" in page
    assert "Test inclusion award Awarded for 1 year with action points 1" in page
    assert "Leeds Test inclusion award 2" in page and "York Test inclusion award 1" in page
    html = response.get_data(as_text=True)
    assert "<caption" in html and 'scope="col"' in html
    assert re.search(r'<option value="2024"', html)


def test_celebration_defaults_to_this_year_and_has_an_empty_state(client, auth, admin):
    auth.sign_in(ADMIN_EMAIL)
    page = text_of(client.get("/awards/admin/celebration"))
    assert f"Celebration report {today().year}" in page
    assert f"No awards were made in {today().year}." in page
    quiet = text_of(client.get("/awards/admin/celebration?year=2019"))
    assert "Celebration report 2019" in quiet and "No awards were made in 2019." in quiet
    for nonsense in ("1900", "abc", "²"):
        assert client.get(f"/awards/admin/celebration?year={nonsense}").status_code == 404


def test_celebration_csv_has_the_same_figures(client, auth, celebrated):
    auth.sign_in(ADMIN_EMAIL)
    response = client.get("/awards/admin/celebration.csv?year=2025")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Year", "Grouping", "Award", "Outcome", "Local authority",
                       "Awards made"]
    assert ["2025", "By award and outcome", "Test inclusion award", "Awarded for 2 years", "",
            "2"] in rows
    assert ["2025", "By local authority", "Test inclusion award", "", "York", "1"] in rows
    assert rows[-1] == ["2025", "Total", "", "", "", "3"]


@pytest.mark.parametrize(("value", "safe"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM", "'@SUM"),
    ("Leeds", "Leeds"), (3, "3"), (None, ""),
])
def test_csv_cells_never_run_as_formulas(value, safe):
    assert spreadsheet_safe(value) == safe
