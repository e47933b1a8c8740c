"""The certificate of an award: one A4 landscape page in PDF, made with fpdf2.

It names the setting, the scheme and the outcome, the days it was awarded and is valid until,
the local authority, and the address of its verification page, so anyone shown a printed copy
can check it is genuine and still current. Like the core's certificate of attendance it uses
the PDF core fonts (text in the Windows-1252 range: "Zoë's Nursery" and dashes print as
written; anything outside falls back to its base letter), or the TrueType font file named by
``CERTIFICATE_FONT`` for full Unicode.
"""

from __future__ import annotations

from flask import current_app, url_for

from awards.models import Award
from awards.schemes import get_scheme
from trainer import documents
from trainer.documents import Line
from trainer.times import day


def verification_url(award: Award) -> str:
    """The public address of the award's verification page (needs a request, or
    :func:`trainer.mail.link_context`)."""
    return url_for("awards.verify", code=award.verification_code, _external=True)


def certificate_pdf(award: Award) -> bytes:
    """The award's certificate as PDF bytes, titled in its metadata "Certificate: <scheme>
    awarded to <setting>" (fonts as :func:`trainer.documents.certificate_pdf` says)."""
    scheme = get_scheme(award.scheme_key)
    scheme_name = scheme.name if scheme else award.scheme_key
    outcome = scheme.outcome(award.outcome_key) if scheme else None
    outcome_label = outcome.label if outcome else award.outcome_key
    setting_name = award.setting.name
    service = current_app.config["SERVICE_NAME"]
    place = award.local_authority.name + (f", {award.district}" if award.district else "")
    lines = [
        Line(scheme_name, 30, 8, bold=True),
        Line("This is to certify that", 14),
        Line(setting_name, 26, 6, bold=True),
        Line(place, 13, 6),
        Line("has been awarded", 14),
        Line(outcome_label, 20, 8, bold=True),
        Line(f"Awarded on {day(award.awarded_on)}", 13, 2),
        Line(f"Valid until {day(award.expires_on)}", 13, 8),
        Line("Check this award is genuine and current at:", 11, 1),
        Line(verification_url(award), 11, 2),
    ]
    return documents.certificate_pdf(
        f"Certificate: {scheme_name} awarded to {setting_name}", lines,
        f"{service}. Award reference {award.verification_code}.",
        subject=f"{outcome_label}. Valid until {day(award.expires_on)}.",
        double_border=True, top=26)
