"""The certificate of an award: one A4 landscape page in PDF, made with fpdf2.

It names the setting, the scheme and the outcome, the days it was awarded and is valid until,
the local authority, and the address of its verification page, so anyone shown a printed copy
can check it is genuine and still current. Like the core's certificate of attendance it uses
the PDF core fonts (text in the Windows-1252 range: "Zoë's Nursery" and dashes print as
written; anything outside falls back to its base letter), or the TrueType font file named by
``CERTIFICATE_FONT`` for full Unicode.
"""

from __future__ import annotations

import unicodedata

from flask import current_app, url_for

from awards.models import Award
from awards.schemes import get_scheme
from trainer.times import day

# Letters with no decomposition to a base letter that the core fonts have.
_NO_DECOMPOSITION = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i",
                                   "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t"})


def core_font_text(text: str) -> str:
    """``text`` as the PDF core fonts can print it: Windows-1252 characters as they are,
    others as their base letter, else "?"."""
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


def verification_url(award: Award) -> str:
    """The public address of the award's verification page (needs a request, or
    :func:`trainer.mail.link_context`)."""
    return url_for("awards.verify", code=award.verification_code, _external=True)


def certificate_pdf(award: Award) -> bytes:
    """The award's certificate as PDF bytes, titled in its metadata "Certificate: <scheme>
    awarded to <setting>". Uncompressed, so its text can be searched by simple tools."""
    from fpdf import FPDF
    from fpdf.enums import Align, XPos, YPos

    scheme = get_scheme(award.scheme_key)
    scheme_name = scheme.name if scheme else award.scheme_key
    outcome = scheme.outcome(award.outcome_key) if scheme else None
    outcome_label = outcome.label if outcome else award.outcome_key
    setting_name = award.setting.name
    service = current_app.config["SERVICE_NAME"]

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.compress = False
    font_file = current_app.config.get("CERTIFICATE_FONT")
    if font_file:
        pdf.add_font("certificate", "", font_file)
        family, clean = "certificate", (lambda text: text)
    else:
        pdf.core_fonts_encoding = "windows-1252"
        family, clean = "Helvetica", core_font_text
    pdf.set_title(clean(f"Certificate: {scheme_name} awarded to {setting_name}"))
    pdf.set_author(clean(service))
    pdf.set_creator(clean(service))
    pdf.set_subject(clean(f"{outcome_label}. Valid until {day(award.expires_on)}."))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_line_width(0.4)
    pdf.rect(14, 14, pdf.w - 28, pdf.h - 28)

    def line(text: str, size: int, gap: float = 4, style: str = "") -> None:
        pdf.set_font(family, style if family == "Helvetica" else "", size)
        pdf.multi_cell(0, size * 0.45, clean(text), align=Align.C,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    pdf.set_y(26)
    line(scheme_name, 30, 8, "B")
    line("This is to certify that", 14)
    line(setting_name, 26, 6, "B")
    line(award.local_authority.name + (f", {award.district}" if award.district else ""), 13, 6)
    line("has been awarded", 14)
    line(outcome_label, 20, 8, "B")
    line(f"Awarded on {day(award.awarded_on)}", 13, 2)
    line(f"Valid until {day(award.expires_on)}", 13, 8)
    line("Check this award is genuine and current at:", 11, 1)
    line(verification_url(award), 11, 2)
    pdf.set_y(max(pdf.get_y(), pdf.h - 30))
    line(f"{service}. Award reference {award.verification_code}.", 9, 0)
    return bytes(pdf.output())
