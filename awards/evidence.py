"""Evidence files: checked by content and size, stored outside the static folder under random
names, and served only as attachments.

:func:`check_upload` refuses, with a message for the person uploading, a file that is empty,
too big, badly named (``../../x.pdf``), of a type not accepted, or whose content is not what its
name says (a program renamed ``.pdf``). :func:`store` writes an accepted file under a random
name; the original name is kept only as the download name.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import Response, send_file

from awards import config

# Accepted types: the extensions a name may have, and the content type its bytes must show.
ACCEPTED = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
}
ACCEPTED_DESCRIPTION = "a PDF, an image (JPG, PNG, GIF or WebP) or a Word or OpenDocument file"
ACCEPT_ATTRIBUTE = ",".join("." + extension for extension in ACCEPTED)
NAME_MAX = 200


class UploadRefused(ValueError):
    """The file cannot be accepted; ``str(error)`` says why, for the person uploading it."""


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def size_limit_bytes(scheme=None) -> int:
    megabytes = (getattr(scheme, "max_file_megabytes", None)
                 or config.get("AWARDS_MAX_FILE_MEGABYTES"))
    return int(float(megabytes) * 1024 * 1024)


def file_count_limit(scheme=None) -> int:
    return int(getattr(scheme, "max_files", None) or config.get("AWARDS_MAX_FILES"))


def describe_size(size: int) -> str:
    """``"10MB"``, ``"512KB"``: sizes as people read them."""
    if size >= 1024 * 1024:
        megabytes = size / (1024 * 1024)
        return f"{megabytes:.0f}MB" if megabytes >= 10 or megabytes.is_integer() \
            else f"{megabytes:.1f}MB"
    return f"{max(1, round(size / 1024))}KB"


def check_name(name: str | None) -> str:
    """The file's name, if acceptable as a download name; else :class:`UploadRefused`."""
    if not name or not name.strip():
        raise UploadRefused("Select a file")
    name = unicodedata.normalize("NFC", name.strip())
    if any(part in name for part in ("/", "\\", "\x00")) or name.startswith(".") \
            or ".." in name:
        raise UploadRefused("The file name must not contain folders or start with a full "
                            "stop; rename the file and try again")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise UploadRefused("The file name contains characters that cannot be used; rename "
                            "the file and try again")
    if len(name) > NAME_MAX:
        raise UploadRefused(f"The file name must be {NAME_MAX} characters or fewer")
    return name


def check_upload(name: str | None, data: bytes, declared_type: str | None = None,
                 scheme=None) -> CheckedFile:
    """Accept ``data`` uploaded as ``name`` or raise :class:`UploadRefused` saying why.

    The extension must be one of :data:`ACCEPTED`, and the file's own bytes must show that
    same type; a type the browser declared must not contradict it either.
    """
    name = check_name(name)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ACCEPTED:
        raise UploadRefused(f"The selected file must be {ACCEPTED_DESCRIPTION}")
    if not data:
        raise UploadRefused("The selected file is empty")
    limit = size_limit_bytes(scheme)
    if len(data) > limit:
        raise UploadRefused(f"The selected file must be smaller than {describe_size(limit)}")
    expected = ACCEPTED[extension]
    detected = filetype.guess_mime(data)
    if detected != expected:
        raise UploadRefused(f"The selected file's content is not a .{extension} file; "
                            "save it again in the right format and try again")
    if declared_type and declared_type not in (expected, "application/octet-stream") \
            and not _same_family(declared_type, expected):
        raise UploadRefused(f"The selected file was sent as {declared_type}, which does not "
                            f"match a .{extension} file")
    if expected.startswith("image/"):
        _check_image(data)
    return CheckedFile(name, expected, data)


def _same_family(declared: str, expected: str) -> bool:
    # Browsers vary for the same file: image/jpg for image/jpeg, say.
    return declared.split(";")[0].strip().lower() in {expected, expected.replace("jpeg", "jpg")}


def _check_image(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UploadRefused("The selected image is damaged or incomplete; save it again "
                            "and try again") from error


def store(checked: CheckedFile) -> tuple[str, str]:
    """Write an accepted file under a new random name; return ``(stored_name, sha256)``."""
    directory = config.evidence_directory()
    stored_name = secrets.token_hex(20)
    with open(directory / stored_name, "xb") as handle:
        handle.write(checked.data)
    return stored_name, hashlib.sha256(checked.data).hexdigest()


def path_of(stored_name: str) -> Path:
    """Where a stored file is. ``stored_name`` is ours (random hex), never a user's input."""
    if not stored_name or not all(char in "0123456789abcdef" for char in stored_name):
        raise ValueError("not a stored evidence name")
    return config.evidence_directory() / stored_name


def remove(stored_name: str | None) -> None:
    """Delete a stored file, if it is there."""
    if stored_name:
        path_of(stored_name).unlink(missing_ok=True)


def download(evidence) -> Response:
    """The file as an attachment with its original name, never rendered by the browser."""
    response = send_file(
        path_of(evidence.stored_name), mimetype=evidence.content_type, as_attachment=True,
        download_name=evidence.original_name or "evidence", max_age=0, conditional=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
