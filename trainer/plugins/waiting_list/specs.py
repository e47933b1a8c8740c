"""The waiting list's own hook, added to the plugin manager through ``trainer_addhooks``."""

from __future__ import annotations

from trainer.hookspecs import hookspec


@hookspec
def trainer_waitlist_priority(entry):
    """Move someone up (or down) a waiting list.

    Called once, when ``entry`` (a :class:`trainer.plugins.waiting_list.models.WaitlistEntry`
    with ``user`` and ``training_session`` set) joins the list, under the session's lock; the
    total of every answer is stored on the entry as its priority. Higher goes first; equal
    priorities keep arrival order (first come, first served). Must not change anything.

    :return: a number (e.g. ``10`` for a setting holding an award), or ``None`` for no change.
    """
