"""Evidence files: refused by name, type, content, size and count with a message; accepted
PDF, image and Word/OpenDocument files; stored outside the static folder and served only as
attachments to the setting's applicants (and never to another setting's SENCO)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import filetype
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from awards import applications, evidence
from awards.errors import Refused
from awards.models import Evidence
from tests.awards_support import (
    PDF_BYTES,
    PNG_BYTES,
    TEST_SCHEME,
    make_applicant,
    make_setting,
    make_staff,
)
from tests.conftest import count
from trainer.db import db
from trainer.people import User

JUNE = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT_TYPE = "application/vnd.oasis.opendocument.text"


def docx_bytes() -> bytes:
    """The smallest Word file a word processor opens: its parts in the usual order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="xml" ContentType="applicati'
            f'on/xml"/><Override PartName="/word/document.xml" ContentType="{DOCX_TYPE}'
            '.main+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openx'
            'mlformats.org/package/2006/relationships"><Relationship Id="r1" Type="http://sch'
            'emas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target'
            '="word/document.xml"/></Relationships>'))
        archive.writestr("word/document.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxm'
            'lformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Our inclusion '
            'policy</w:t></w:r></w:p></w:body></w:document>'))
    return buffer.getvalue()


def odt_bytes() -> bytes:
    """An OpenDocument text file: ``mimetype`` first and uncompressed, as the format asks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT_TYPE, zipfile.ZIP_STORED)
        archive.writestr("content.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn'
            ':oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"><office:body>'
            '<office:text/></office:body></office:document-content>'), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@pytest.fixture
def scheme(app):
    with app.app_context():
        yield applications.get_scheme(TEST_SCHEME)


def test_the_built_office_files_are_what_they_say():
    assert filetype.guess_mime(docx_bytes()) == DOCX_TYPE
    assert filetype.guess_mime(odt_bytes()) == ODT_TYPE


@pytest.mark.parametrize("name, data, declared", [
    ("evidence.pdf", PDF_BYTES, "application/pdf"),
    ("room.png", PNG_BYTES, "image/png"),
    ("policy.docx", None, DOCX_TYPE),
    ("policy.odt", None, ODT_TYPE),
    ("plan.pdf", PDF_BYTES, "application/octet-stream"),
    ("plan.pdf", PDF_BYTES, None),
])
def test_accepted_files(scheme, name, data, declared):
    data = data or (docx_bytes() if name.endswith("docx") else odt_bytes())
    checked = evidence.check_upload(name, data, declared, scheme)
    assert checked.original_name == name and checked.size == len(data)


@pytest.mark.parametrize("name, data, declared, message", [
    ("../../x.pdf", PDF_BYTES, None, "must not contain folders"),
    ("..\\x.pdf", PDF_BYTES, None, "must not contain folders"),
    ("a/b.pdf", PDF_BYTES, None, "must not contain folders"),
    (".hidden.pdf", PDF_BYTES, None, "start with a full stop"),
    ("", PDF_BYTES, None, "Select a file"),
    ("setup.pdf", EXE_BYTES, None, "content is not a .pdf file"),
    ("room.pdf", PNG_BYTES, None, "content is not a .pdf file"),
    ("policy.docx", PDF_BYTES, None, "content is not a .docx file"),
    ("setup.exe", EXE_BYTES, None, "must be a PDF, an image"),
    ("notes", PDF_BYTES, None, "must be a PDF, an image"),
    ("plan.pdf", PDF_BYTES, "image/png", "sent as image/png"),
    ("empty.pdf", b"", None, "is empty"),
    ("big.pdf", PDF_BYTES + b"0" * (1024 * 1024), None, "smaller than 1MB"),
])
def test_refused_files_say_why(scheme, name, data, declared, message):
    with pytest.raises(evidence.UploadRefused, match=re.escape(message)):
        evidence.check_upload(name, data, declared, scheme)


# -- through the operations -------------------------------------------------------------------


@pytest.fixture
def draft(app, make_user):
    setting = make_setting(app)
    senco = make_applicant(make_user, setting, "senco@example.org")[0]
    make_staff(make_user, setting, "staff@example.org")
    make_applicant(make_user, make_setting(app, "Busy Bees"), "other@example.org")
    with app.app_context():
        # Started now, not in June: the pages below check the deadline in real time.
        return applications.start(TEST_SCHEME, db.session.get(User, senco)).id, senco


def stored_files(app) -> list[Path]:
    directory = Path(app.instance_path) / "evidence"
    return sorted(directory.iterdir()) if directory.exists() else []


def add_file(app, application_id: int, user_id: int, name: str = "plan.pdf",
             data: bytes = PDF_BYTES) -> int:
    with app.app_context():
        return applications.add_file_evidence(
            application_id, "families", name, data, None, "Our plan",
            db.session.get(User, user_id), now=JUNE).id


def test_a_fourth_file_is_over_the_schemes_limit(app, draft):
    application_id, senco = draft
    for number in range(3):
        add_file(app, application_id, senco, f"plan{number}.pdf")
    with pytest.raises(Refused, match="at most 3 files. Remove a file"):
        add_file(app, application_id, senco, "plan3.pdf")
    assert count(app, Evidence) == 3 and len(stored_files(app)) == 3


def test_a_refused_file_stores_nothing(app, draft):
    application_id, senco = draft
    with pytest.raises(Refused, match="content is not a .pdf file") as refused:
        add_file(app, application_id, senco, "setup.pdf", EXE_BYTES)
    assert refused.value.field == "file"
    assert count(app, Evidence) == 0 and stored_files(app) == []


def test_files_are_stored_under_random_names_outside_static(app, draft):
    application_id, senco = draft
    evidence_id = add_file(app, application_id, senco)
    with app.app_context():
        item = db.session.get(Evidence, evidence_id)
        assert re.fullmatch(r"[0-9a-f]{40}", item.stored_name)
        assert (item.original_name, item.content_type, item.size) == (
            "plan.pdf", "application/pdf", len(PDF_BYTES))
        assert "static" not in str(evidence.path_of(item.stored_name))


# -- through the pages ---------------------------------------------------------------------------


def upload(browser, application_id: int, name: str, data: bytes, caption: str = "Our plan",
           content_type: str = "application/pdf", key: str = "families"):
    url = f"/awards/applications/{application_id}/criteria/{key}"
    page = browser.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    # Encoded in memory: the test client would spool a big body to a file nobody closes.
    boundary, body = encode_multipart({
        "csrf_token": token, "file_caption": caption,
        "file": FileStorage(io.BytesIO(data), name, content_type=content_type),
    })
    return browser.client.post(f"{url}/file", data=body,
                               content_type=f"multipart/form-data; boundary={boundary}")


def test_upload_then_download_as_an_attachment(app, browser, auth, draft):
    application_id, _ = draft
    auth.sign_in("senco@example.org")
    page = browser.get(f"/awards/applications/{application_id}/criteria/families")
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert f'accept="{evidence.ACCEPT_ATTRIBUTE}"' in html and "smaller than 1MB" in html
    response = upload(browser, application_id, "Our plan.pdf", PDF_BYTES)
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "“Our plan.pdf” has been added." in page
    link = re.search(r'href="(/awards/evidence/\d+)"', page).group(1)
    download = browser.get(link)
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "Our%20plan.pdf" in download.headers["Content-Disposition"] \
        or "Our plan.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == "application/pdf"
    download.close()

    for other in ("other@example.org", "staff@example.org"):
        auth.sign_out()
        auth.sign_in(other)
        assert browser.get(link).status_code == 403
    assert browser.get("/awards/evidence/999999").status_code == 404


def test_a_refused_upload_shows_the_message_and_stores_nothing(app, browser, auth, draft):
    application_id, _ = draft
    auth.sign_in("senco@example.org")
    before = stored_files(app)
    response = upload(browser, application_id, "room.pdf", PNG_BYTES)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in html and 'href="#file"' in html
    assert "The selected file&#39;s content is not a .pdf file" in html
    assert html.count("content is not a .pdf file") == 2  # the summary and the field
    assert stored_files(app) == before and count(app, Evidence) == 0


def test_a_file_without_a_caption_is_refused_at_the_caption(app, browser, auth, draft):
    application_id, _ = draft
    auth.sign_in("senco@example.org")
    html = upload(browser, application_id, "plan.pdf", PDF_BYTES, caption="") \
        .get_data(as_text=True)
    assert 'href="#file_caption"' in html and "Enter a caption" in html
    assert stored_files(app) == []


def test_a_request_bigger_than_allowed_gets_the_size_message(app, browser, auth, draft):
    application_id, _ = draft
    auth.sign_in("senco@example.org")
    response = upload(browser, application_id, "huge.pdf", PDF_BYTES + b"0" * (3 * 1024 * 1024))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The selected file must be smaller than 1MB" in html and 'href="#file"' in html
    assert stored_files(app) == [] and count(app, Evidence) == 0


def test_an_upload_without_the_form_token_is_refused(app, browser, auth, draft):
    application_id, _ = draft
    auth.sign_in("senco@example.org")
    response = browser.client.post(
        f"/awards/applications/{application_id}/criteria/families/file",
        data={"file_caption": "x", "file": (io.BytesIO(PDF_BYTES), "plan.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and stored_files(app) == []


def test_another_settings_senco_cannot_upload_or_remove(app, browser, auth, draft):
    application_id, senco = draft
    evidence_id = add_file(app, application_id, senco)
    auth.sign_in("other@example.org")
    page = browser.get("/awards/setting").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    base = f"/awards/applications/{application_id}"
    assert browser.client.post(f"{base}/criteria/families/file", data={
        "csrf_token": token, "file": (io.BytesIO(PDF_BYTES), "plan.pdf")},
        content_type="multipart/form-data").status_code == 403
    assert browser.client.post(f"{base}/evidence/{evidence_id}/remove",
                               data={"csrf_token": token}).status_code == 403
    assert count(app, Evidence) == 1 and len(stored_files(app)) == 1


def test_removing_through_the_page(app, browser, auth, draft):
    application_id, senco = draft
    evidence_id = add_file(app, application_id, senco)
    auth.sign_in("senco@example.org")
    url = f"/awards/applications/{application_id}/criteria/families"
    done = browser.submit(f"/awards/applications/{application_id}/evidence/{evidence_id}"
                          "/remove", {}, form_url=url, follow_redirects=True)
    assert "The evidence has been removed." in done.get_data(as_text=True)
    assert stored_files(app) == [] and count(app, Evidence) == 0
