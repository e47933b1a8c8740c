"""The one exception the awards operations raise for a request they cannot carry out."""

from __future__ import annotations


class Refused(Exception):
    """The operation cannot be done as asked; ``str(error)`` tells the person why, in words
    they can act on. Raised before anything is written, or inside a transaction that is then
    rolled back, so nothing is half-saved. ``field`` names the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
