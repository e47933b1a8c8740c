"""Hostile uploads, to every upload the app has: award evidence files and CSV imports.

Each of these gets a GOV.UK error summary saying what is wrong, never a 500, and leaves
nothing behind (no row, no file on disk): files too big for the form or for the request, empty
files, the wrong content behind the right extension, names that try to climb out of the upload
folder, many files in one request, and requests that are not well-formed multipart at all.
A stored evidence file goes only to those entitled to it, as a download that no browser renders.
"""

from __future__ import annotations

import gc
import html
import io
import re
import zipfile
from pathlib import Path

import pytest
from werkzeug.http import parse_options_header

from awards import applications
from awards import config as awards_config
from awards.models import Evidence
from tests.awards_support import PDF_BYTES, PNG_BYTES, TEST_SCHEME, make_applicant, make_setting
from tests.awards_support import make_staff as make_setting_staff
from tests.conftest import count, csrf_token
from trainer.db import db
from trainer.people import Role, Setting, User

SENCO = "senco@example.org"
CRITERION = "families"
BOUNDARY = "----upload-abuse-boundary"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
HTML_BYTES = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG_BYTES = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
             b"<script>alert(2)</script></svg>")
CSV_HEADER = b"name,setting_type,urn,local_authority,postcode\r\n"
SETTINGS_CSV = CSV_HEADER + b"Little Acorns,nursery,EY100001,Leeds,LS1 4AP\r\n"
TRAVERSAL_NAMES = [
    "../../escaped.pdf",
    "..\\..\\escaped.pdf",
    "/etc/escaped.pdf",
    "C:\\Windows\\escaped.pdf",
    "evidence/../../escaped.pdf",
    "....//....//escaped.pdf",
    "..",
    ".pdf",
]


# Werkzeug drops the temporary files of a multipart body it stops reading part way through
# (more parts than allowed, or a body cut short) without closing them; Python closes and
# deletes them when they are collected. Only the tests that send such bodies ignore that.
LEFT_FOR_COLLECTION = pytest.mark.filterwarnings(
    "ignore:Unclosed file <tempfile.SpooledTemporaryFile:ResourceWarning")


# -- building requests by hand, as a hostile client would ---------------------------------------


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body of ``(field, filename or None, data)`` parts; each name is quoted so
    that the app reads exactly the name given, backslashes and quotation marks included."""
    body = io.BytesIO()
    for field, filename, data in parts:
        body.write(f"--{BOUNDARY}\r\n".encode())
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
            disposition += f'; filename="{quoted}"'
        body.write(f"Content-Disposition: {disposition}\r\n".encode())
        if filename is not None:
            body.write(b"Content-Type: application/octet-stream\r\n")
        body.write(b"\r\n" + data + b"\r\n")
    body.write(f"--{BOUNDARY}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={BOUNDARY}"


def files_on_disk(root: Path) -> set[Path]:
    """Every file under the test's folder but the SQLite database and its journals."""
    return {path for path in root.rglob("*")
            if path.is_file() and not path.name.startswith("test.sqlite")}


def summary_of(response) -> str:
    """The text of the page's GOV.UK error summary; fails when there is none."""
    page = response.get_data(as_text=True)
    match = re.search(r'<div class="govuk-error-summary".*?</ul>', page, re.S)
    assert match, f"no error summary on the page (status {response.status_code})"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def docx_named_zip() -> bytes:
    """A ZIP archive that is not a Word file, for a ``.docx`` name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", EXE_BYTES)
    return buffer.getvalue()


# -- award evidence -------------------------------------------------------------------------------


@pytest.fixture
def draft(app, make_user, auth):
    """A draft application of the SENCO's setting, with the SENCO signed in."""
    setting = make_setting(app)
    senco = make_applicant(make_user, setting, SENCO)[0]
    with app.app_context():
        application_id = applications.start(TEST_SCHEME, db.session.get(User, senco)).id
    auth.sign_in(SENCO)
    return application_id


class EvidenceUpload:
    """Posts to the evidence upload form of one criterion, with the form's token."""

    def __init__(self, app, client, application_id: int, tmp_path: Path):
        self.app, self.client, self.tmp_path = app, client, tmp_path
        self.url = f"/awards/applications/{application_id}/criteria/{CRITERION}"
        self.before = files_on_disk(tmp_path)

    def token(self) -> str:
        return csrf_token(self.client.get(self.url).get_data(as_text=True))

    def post(self, files: list[tuple[str, str | None, bytes]], caption: str = "Our plan",
             body: bytes | None = None, content_type: str | None = None):
        if body is None:
            body, content_type = multipart(
                [("csrf_token", None, self.token().encode()),
                 ("file_caption", None, caption.encode())] + files)
        response = self.client.post(f"{self.url}/file", data=body, content_type=content_type)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        return response

    def refused(self, response, message: str) -> None:
        """The page says why in its error summary, and nothing was kept."""
        assert response.status_code in (200, 400, 413)
        assert message in summary_of(response)
        self.nothing_saved()

    def nothing_saved(self) -> None:
        assert count(self.app, Evidence) == 0
        assert files_on_disk(self.tmp_path) == self.before


@pytest.fixture
def evidence_upload(app, client, draft, tmp_path) -> EvidenceUpload:
    return EvidenceUpload(app, client, draft, tmp_path)


@pytest.mark.parametrize("name, data, message", [
    ("big.pdf", PDF_BYTES + b"0" * (1024 * 1024), "must be smaller than 1MB"),
    ("huge.pdf", PDF_BYTES + b"0" * (3 * 1024 * 1024), "must be smaller than 1MB"),
    ("empty.pdf", b"", "The selected file is empty"),
    ("setup.pdf", EXE_BYTES, "content is not a .pdf file"),
    ("page.pdf", HTML_BYTES, "content is not a .pdf file"),
    ("photo.png", SVG_BYTES, "content is not a .png file"),
    ("photo.jpg", PNG_BYTES, "content is not a .jpg file"),
    ("policy.docx", docx_named_zip(), "content is not a .docx file"),
    ("cut.png", PNG_BYTES[:40], "damaged or incomplete"),
    ("page.html", HTML_BYTES, "must be a PDF, an image"),
    ("image.svg", SVG_BYTES, "must be a PDF, an image"),
], ids=["over-the-file-limit", "over-the-request-limit", "zero-bytes", "program-as-pdf",
        "html-as-pdf", "svg-as-png", "png-as-jpg", "zip-as-docx", "truncated-png", "html",
        "svg"])
def test_a_bad_evidence_file_is_refused_with_a_message(evidence_upload, name, data, message):
    response = evidence_upload.post([("file", name, data)])
    evidence_upload.refused(response, message)
    assert 'href="#file"' in response.get_data(as_text=True)


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_a_name_that_climbs_out_of_the_folder_is_refused(evidence_upload, tmp_path, name):
    response = evidence_upload.post([("file", name, PDF_BYTES)])
    summary = summary_of(response)
    assert "must not contain folders" in summary or "Select a file" in summary \
        or "must be a PDF" in summary, summary
    evidence_upload.nothing_saved()
    assert not list(tmp_path.parent.rglob("escaped.pdf"))


@pytest.mark.parametrize("name", ["plan\x00.pdf.exe", "plan\x00.pdf", "plan\u202efdp.exe.pdf",
                                  "plan\r\nX-Evil: 1.pdf"])
def test_a_name_with_hidden_characters_is_refused(evidence_upload, name):
    response = evidence_upload.post([("file", name, PDF_BYTES)])
    assert response.status_code in (200, 400)
    summary_of(response)
    evidence_upload.nothing_saved()


def test_an_odd_but_harmless_name_is_kept_only_as_the_download_name(app, evidence_upload):
    name = "%2e%2e%2f plan; \"quoted\" ü.pdf"
    response = evidence_upload.post([("file", name, PDF_BYTES)])
    assert response.status_code == 302
    with app.app_context():
        item = db.session.query(Evidence).one()
        assert item.original_name == name
        assert re.fullmatch(r"[0-9a-f]{40}", item.stored_name)
        folder = awards_config.evidence_path().resolve()
        stored = [path.resolve() for path in folder.iterdir()]
    assert [path.name for path in stored] == [item.stored_name]
    assert all(path.parent == folder for path in stored)


@pytest.mark.parametrize("fields", [["file"] * 50, [f"file{number}" for number in range(50)],
                                    ["file", "file"]],
                         ids=["fifty-in-one-field", "fifty-fields", "two"])
def test_many_files_in_one_request_are_refused(evidence_upload, fields):
    response = evidence_upload.post([(field, f"plan{number}.pdf", PDF_BYTES)
                                     for number, field in enumerate(fields)])
    evidence_upload.refused(response, "Upload one file at a time")


def test_many_files_over_the_request_limit_are_refused(evidence_upload):
    parts = [("file", f"plan{number}.pdf", PDF_BYTES + b"0" * 40_000) for number in range(50)]
    evidence_upload.refused(evidence_upload.post(parts), "must be smaller than 1MB")


@LEFT_FOR_COLLECTION
def test_more_form_parts_than_allowed_are_refused(evidence_upload):
    parts = [(f"field{number}", None, b"x") for number in range(1100)]
    response = evidence_upload.post([("file", "plan.pdf", PDF_BYTES)] + parts)
    assert response.status_code in (200, 400, 413)
    summary_of(response)
    evidence_upload.nothing_saved()
    gc.collect()


@pytest.mark.parametrize("body, content_type", [
    (b"", "multipart/form-data"),
    (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF",
     "multipart/form-data; boundary=x"),
    (b"\x00\xff" * 100, f"multipart/form-data; boundary={BOUNDARY}"),
    (PDF_BYTES, "application/pdf"),
    (None, None),
], ids=["no-boundary", "cut-short", "garbage", "not-multipart", "cut-short-after-the-token"])
@LEFT_FOR_COLLECTION
def test_a_body_that_is_not_a_form_is_refused(evidence_upload, body, content_type):
    if body is None:
        whole, content_type = multipart([("csrf_token", None, evidence_upload.token().encode()),
                                         ("file", "plan.pdf", PDF_BYTES * 50)])
        body = whole[: len(whole) // 2]
    response = evidence_upload.post([], body=body, content_type=content_type)
    # Nothing in it can be trusted, its form token included: the request is refused whole.
    assert response.status_code == 400
    assert "Sorry, there is a problem with your request" in response.get_data(as_text=True)
    evidence_upload.nothing_saved()
    gc.collect()


def test_a_file_part_without_a_file_asks_for_one(evidence_upload):
    evidence_upload.refused(evidence_upload.post([("file", "", b"")]), "Select a file")
    evidence_upload.refused(evidence_upload.post([("file", None, PDF_BYTES)]), "Select a file")


# -- serving a stored evidence file ----------------------------------------------------------------


def test_a_stored_file_is_a_download_only_for_those_entitled(app, client, auth, make_user,
                                                           evidence_upload):
    name = 'plan"; filename="evil.html.pdf'
    assert evidence_upload.post([("file", name, PDF_BYTES)]).status_code == 302
    with app.app_context():
        evidence_id = db.session.query(Evidence).one().id
    link = f"/awards/evidence/{evidence_id}"

    download = client.get(link)
    assert download.status_code == 200 and download.data == PDF_BYTES
    disposition, options = parse_options_header(download.headers["Content-Disposition"])
    assert disposition == "attachment" and options["filename"] == name
    assert download.headers["Content-Type"] == "application/pdf"  # from the content, not sent
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert "no-store" in download.headers["Cache-Control"]
    download.close()

    with app.app_context():
        setting_id = db.session.query(User).filter_by(email=SENCO).one().setting_id
    make_setting_staff(make_user, setting_id, "staff@example.org")
    make_applicant(make_user, make_setting(app, "Busy Bees"), "other@example.org")
    make_user("admin@example.org", roles=[Role.ADMIN])
    auth.sign_out()
    assert client.get(link).status_code in (302, 401, 403)
    for email, status in (("staff@example.org", 403), ("other@example.org", 403),
                          ("admin@example.org", 200)):
        auth.sign_in(email)
        response = client.get(link)
        assert response.status_code == status, email
        response.close()
        auth.sign_out()


# -- CSV imports ----------------------------------------------------------------------------------


class CsvImport:
    """Posts to the settings import form, with the form's token."""

    url = "/admin/imports/settings"

    def __init__(self, app, client, tmp_path: Path):
        self.app, self.client, self.tmp_path = app, client, tmp_path
        self.before = files_on_disk(tmp_path)

    def post(self, files: list[tuple[str, str | None, bytes]]):
        token = csrf_token(self.client.get(self.url).get_data(as_text=True))
        body, content_type = multipart([("csrf_token", None, token.encode())] + files)
        response = self.client.post(self.url, data=body, content_type=content_type)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        return response

    def refused(self, response, message: str) -> None:
        assert response.status_code in (200, 400, 413)
        assert message in summary_of(response)
        assert "nothing was saved" in summary_of(response)
        self.nothing_saved()

    def nothing_saved(self) -> None:
        assert count(self.app, Setting) == 0
        assert files_on_disk(self.tmp_path) == self.before


@pytest.fixture
def csv_import(app, client, make_user, auth, tmp_path) -> CsvImport:
    make_user("ada.admin@example.org", name="Ada Admin", roles=[Role.ADMIN])
    auth.sign_in("ada.admin@example.org")
    app.config["IMPORT_MAX_BYTES"] = 4096
    return CsvImport(app, client, tmp_path)


@pytest.mark.parametrize("name, data, message", [
    ("big.csv", SETTINGS_CSV + b"Oak,nursery,,Leeds,LS1 4AP\r\n" * 200, "smaller than 4 KB"),
    ("huge.csv", SETTINGS_CSV + b"x" * 200_000, "smaller than 4 KB"),
    ("empty.csv", b"", "The selected file is empty"),
    ("blank.csv", b" \r\n\r\n ", "The selected file is empty"),
    ("setup.csv", EXE_BYTES, "not a CSV file of UTF-8 text"),
    ("photo.csv", PNG_BYTES, "not a CSV file of UTF-8 text"),
    ("latin.csv", CSV_HEADER + "Café,nursery,,Leeds,LS1 4AP\r\n".encode("latin-1"),
     "Line 2 is not UTF-8 text"),
    ("book.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "spreadsheet workbook"),
    ("wide.csv", "name\n".encode("utf-16"), "not a CSV file of UTF-8 text"),
    ("page.csv", HTML_BYTES, "problem"),
], ids=["over-the-file-limit", "over-the-request-limit", "zero-bytes", "only-blank-lines",
        "program", "image", "latin-1", "workbook", "utf-16", "html"])
def test_a_bad_csv_file_is_refused_with_a_message(csv_import, name, data, message):
    csv_import.refused(csv_import.post([("file", name, data)]), message)


@pytest.mark.parametrize("name", TRAVERSAL_NAMES[:4] + ["<script>alert(1)</script>.csv"])
def test_a_csv_files_name_is_never_used_to_store_anything(csv_import, tmp_path, name):
    response = csv_import.post([("file", name, EXE_BYTES)])
    csv_import.refused(response, "not a CSV file")
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    csv_import.post([("file", name, SETTINGS_CSV)])
    assert count(csv_import.app, Setting) == 1
    assert files_on_disk(tmp_path) == csv_import.before
    assert not list(tmp_path.parent.rglob("escaped.pdf"))


@pytest.mark.parametrize("fields", [["file"] * 50, ["file", "other"]], ids=["fifty", "two"])
def test_many_csv_files_in_one_request_are_refused(csv_import, fields):
    response = csv_import.post([(field, f"part{number}.csv", SETTINGS_CSV)
                                for number, field in enumerate(fields)])
    csv_import.refused(response, "Upload one CSV file at a time")


def test_a_csv_file_part_without_a_file_asks_for_one(csv_import):
    csv_import.refused(csv_import.post([("file", "", b"")]), "Select a CSV file")
    csv_import.refused(csv_import.post([("file", None, SETTINGS_CSV)]), "Select a CSV file")
