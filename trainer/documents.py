"""Documents people download: certificates as PDF, and cells for CSV spreadsheets.

The core and plugins share these, so every certificate looks alike and no CSV cell anywhere
runs as a spreadsheet formula.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Letters with no decomposition to a base letter, and what the core fonts can print instead.
_NO_DECOMPOSITION = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i",
                                   "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t"})


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet will not run as a formula: text starting ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe. ``None`` is an empty cell."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def pdf_text(text: str) -> str:
    """``text`` in the Windows-1252 range of the PDF core fonts: accents kept where the font
    has them ("Zoë", dashes), otherwise their base letter, otherwise "?"."""
    out = []
    for character in text.translate(_NO_DECOMPOSITION):
        try:
            character.encode("cp1252")
            out.append(character)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", character)
                       if not unicodedata.combining(c))
        try:
            base.encode("cp1252")
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


@dataclass(frozen=True)
class Line:
    """One centred line (or paragraph) of a certificate: its text, size in points, the space
    after it in millimetres, and whether it is bold."""

    text: str
    size: int
    gap: float = 4
    bold: bool = False


def certificate_pdf(title: str, lines: Iterable[Line], footer: str, subject: str = "",
                    double_border: bool = False, top: float = 24) -> bytes:
    """One A4 landscape page of centred ``lines`` inside a border, with ``footer`` at the
    foot and ``title`` (and ``subject``) in the PDF's metadata.

    Uses the PDF core fonts, so no font files are needed (text outside Windows-1252 falls back
    as :func:`pdf_text` says); ``CERTIFICATE_FONT`` in the config may name a TrueType font file
    for full Unicode. Uncompressed, so its text can be searched by simple tools.
    """
    from fpdf import FPDF
    from fpdf.enums import Align, XPos, YPos

    service = current_app.config["SERVICE_NAME"]
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.compress = False
    font_file = current_app.config.get("CERTIFICATE_FONT")
    if font_file:
        pdf.add_font("certificate", "", font_file)
        family, clean = "certificate", (lambda text: text)
    else:
        pdf.core_fonts_encoding = "windows-1252"
        family, clean = "Helvetica", pdf_text
    pdf.set_title(clean(title))
    pdf.set_author(clean(service))
    pdf.set_creator(clean(service))
    if subject:
        pdf.set_subject(clean(subject))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    if double_border:
        pdf.set_line_width(0.4)
        pdf.rect(14, 14, pdf.w - 28, pdf.h - 28)

    def write(line: Line) -> None:
        pdf.set_font(family, "B" if line.bold and family == "Helvetica" else "", line.size)
        pdf.multi_cell(0, line.size * 0.45, clean(line.text), align=Align.C,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(line.gap)

    pdf.set_y(top)
    for line in lines:
        write(line)
    pdf.set_y(max(pdf.get_y(), pdf.h - 30))
    write(Line(footer, 9, 0))
    return bytes(pdf.output())
