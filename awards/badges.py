"""Awards as Open Badges 3.0 credentials.

:func:`credential` describes an award as an ``OpenBadgeCredential`` (a W3C Verifiable
Credential): the issuer is this service, the subject the setting, the achievement the scheme.
The credential is **unsigned**: it carries no ``proof``, so a badge wallet cannot verify it
cryptographically. Its ``id`` is the award's verification page, which is the authority on
whether it is still valid (expired and withdrawn awards are shown as such there); the badge
endpoint answers 410 Gone for withdrawn awards rather than hand out a credential for them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app, url_for

from awards.certificates import verification_url
from awards.models import Award
from awards.schemes import get_scheme
from trainer.times import LONDON, day

CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]


def _start_of(london_day: date) -> str:
    """The UTC instant a London day begins, as ISO 8601 (``2026-03-03T00:00:00Z``)."""
    moment = datetime.combine(london_day, time(0), tzinfo=LONDON).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def credential(award: Award) -> dict[str, Any]:
    """The award as an unsigned Open Badges 3.0 ``OpenBadgeCredential``.

    ``validFrom`` is the start of the London day it was awarded and ``validUntil`` the end of
    its last day (the start of the next), both in UTC. Needs a request, or
    :func:`trainer.mail.link_context`, for its addresses.
    """
    scheme = get_scheme(award.scheme_key)
    scheme_name = scheme.name if scheme else award.scheme_key
    outcome = scheme.outcome(award.outcome_key) if scheme else None
    outcome_label = outcome.label if outcome else award.outcome_key
    external = current_app.config["EXTERNAL_URL"].rstrip("/")
    criteria = "; ".join(criterion.title for criterion in scheme.criteria) if scheme else ""
    narrative = (f"Awarded by a moderation panel after assessing the setting's evidence "
                 f"against the scheme's criteria: {criteria}." if criteria else
                 "Awarded by a moderation panel after assessing the setting's evidence.")
    return {
        "@context": list(CONTEXTS),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "id": verification_url(award),
        "name": f"{scheme_name}: {award.setting.name}",
        "issuer": {
            "id": external + "/",
            "type": ["Profile"],
            "name": current_app.config["SERVICE_NAME"],
            "url": external + "/",
        },
        "validFrom": _start_of(award.awarded_on),
        "validUntil": _start_of(award.expires_on + timedelta(days=1)),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": award.setting.name,
            "achievement": {
                "id": url_for("awards.scheme_page", key=award.scheme_key, _external=True),
                "type": ["Achievement"],
                "name": scheme_name,
                "description": (f"{outcome_label}, from {day(award.awarded_on)} until "
                                f"{day(award.expires_on)}. "
                                + (scheme.description if scheme else "")).strip(),
                "criteria": {"narrative": narrative},
            },
        },
    }
