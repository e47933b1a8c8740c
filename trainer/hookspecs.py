"""Every hook of trainer, each with its contract.

Plugins implement hooks with ``@hookimpl``::

    from trainer.hookspecs import hookimpl

    @hookimpl
    def trainer_nav_items(user):
        return [NavItem("Waiting lists", "/waiting-lists")]

The core calls hooks only through :func:`trainer.hooks.call`, with keyword arguments. A hook
returns a list of the non-``None`` results of every plugin, unless it is marked ``firstresult``,
when the first non-``None`` result wins. ``docs/plugin_hooks.md`` documents each one with an
example.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("trainer")
hookimpl = pluggy.HookimplMarker("trainer")


@hookspec(historic=True)
def trainer_addhooks(plugin_manager):
    """Add a plugin's own hook specifications, so other plugins can implement them.

    Historic: called for every plugin as it is registered, whenever that is, with the
    :class:`pluggy.PluginManager`. Call ``plugin_manager.add_hookspecs(module)`` with a
    module of ``@hookspec`` functions. The waiting list adds ``trainer_waitlist_priority``
    this way.

    :return: nothing.
    """


@hookspec
def trainer_blueprints():
    """Hand in Flask blueprints to register, at app start.

    Called once in :func:`trainer.create_app` after the core's blueprints are registered.

    :return: a list of :class:`flask.Blueprint` (or a single blueprint). Every view of a
        blueprint must state who may see it with the decorators in :mod:`trainer.access`.
    """


@hookspec
def trainer_nav_items(user):
    """Add items to the main navigation, for every page.

    :param user: the signed-in :class:`trainer.people.User`, or ``None`` for a visitor.
    :return: a list of :class:`trainer.hooks.NavItem` (``text``, ``href``, optional
        ``order``, lower first; the core's items use 10 to 90). Return only items the user
        may follow.
    """


@hookspec
def trainer_page_panels(page, obj, user):
    """Add panels to a core page.

    :param page: the page's name: ``"dashboard"`` (the signed-in home page; ``obj`` is
        ``None``), ``"profile"`` (``obj`` is the user), ``"session"`` (the public page of a
        training session; ``obj`` is the session), ``"booking"`` (one of the person's
        bookings), ``"my_training"`` (``obj`` is ``None``), ``"manage_session"`` (the
        trainers' page of a session), ``"home"`` (the start page visitors see; ``obj`` and
        ``user`` are ``None``), ``"admin"`` (the administration page; ``obj`` is
        ``None``) and ``"la_dashboard"`` (a local authority's dashboard of take-up, seen by
        its LA officers and by administrators; ``obj`` is the
        :class:`trainer.people.LocalAuthority`: show only figures about people from it,
        aggregated, as the viewer may see them).
    :param obj: the object the page shows, or ``None``.
    :param user: the signed-in user, or ``None``.
    :return: a list of :class:`trainer.hooks.Panel` (``title``, ``html`` — already-escaped
        markup, use :func:`flask.render_template` — and optional ``order``).
    """


@hookspec
def trainer_tick(now):
    """Do time-based work. Called by ``flask trainer tick`` after the core's own work.

    ``tick`` may run every minute, twice at once on two hosts, or after a week's gap, so an
    implementation must be idempotent: decide from the database what is due (not from how
    long ago the last tick was), claim it in a transaction, and record that it was done.

    :param now: the current time as an aware UTC :class:`datetime.datetime`.
    :return: optionally a short summary string for the command's output.
    """


# -- booking -------------------------------------------------------------------------------------


@hookspec
def trainer_booking_refusal(training_session, user):
    """Say why ``user`` may not book ``training_session``, or nothing.

    Called by :func:`trainer.booking.book` under the session's lock, after the core's own
    checks (cancelled, booking window, LA restriction, already booked) have passed.

    :param training_session: the :class:`trainer.catalogue.TrainingSession`.
    :param user: the :class:`trainer.people.User` trying to book.
    :return: a sentence to show the person (e.g. "This session is for SENCOs only"), or
        ``None`` to allow. Any non-``None`` answer refuses the booking.
    """


@hookspec
def trainer_places_held(training_session):
    """Count places held outside bookings (e.g. open waiting-list offers).

    Called under the session's lock each time free places are counted, and when pages show
    places left. Held places count against capacity exactly like confirmed bookings.

    :return: a whole number of places (0 or more), or ``None`` for none.
    """


@hookspec(firstresult=True)
def trainer_session_full(training_session, user):
    """Take over when ``user`` tries to book a session with no place left.

    ``firstresult``: the first plugin to answer decides. Called under the session's lock by
    :func:`trainer.booking.book`, and without a lock by pages showing a full session (the
    session page, the booking page), so they offer the same way forward before anyone tries
    to book. It must therefore not change anything. With no answer the person is told the
    session is fully booked.

    :return: ``None`` to let the core say "fully booked", or a
        :class:`trainer.booking.FullAnswer` (``message`` to show and optional ``url`` to send
        the person to, e.g. "Join the waiting list").
    """


@hookspec
def trainer_booking_confirmed(booking):
    """A booking was confirmed (new, or re-booked after a cancellation).

    Called inside the booking's transaction, under the session's lock: anything the plugin
    adds to ``db.session`` is committed with the booking, or rolled back with it. Do not commit.

    :param booking: the :class:`trainer.booking.Booking`.
    :return: nothing.
    """


@hookspec
def trainer_booking_cancelled(booking):
    """A booking was cancelled, by the person or because the session was cancelled.

    Called inside the cancellation's transaction, under the session's lock. Do not commit.
    ``booking.cancel_reason`` says why.
    """


@hookspec
def trainer_places_freed(training_session):
    """Places may have become free: a booking was cancelled or the capacity was raised.

    Called inside that transaction, under the session's lock, after the change, so
    :func:`trainer.booking.free_places` already counts the freed places. A waiting list offers
    them here. Do not commit.
    """


@hookspec
def trainer_session_cancelled(training_session):
    """A training session was cancelled by its trainers or an administrator.

    Called inside the cancellation's transaction, under the session's lock, after every
    booking was cancelled (each heard ``trainer_booking_cancelled``).
    ``training_session.cancel_reason`` says why. Do not commit.
    """


@hookspec
def trainer_attendance_recorded(booking, meeting):
    """The register was taken for ``booking`` at ``meeting`` (attended or absent).

    Called inside the register's transaction. ``booking.attendance_for(meeting)`` has the mark.
    """


@hookspec
def trainer_session_ended(training_session):
    """A training session's last meeting has ended. Called once per session, from ``tick``.

    Called inside the transaction that records the session as handled, so work done here and
    that record commit together: it is never done twice and never skipped.
    """


@hookspec
def trainer_demo_data(rng, echo):
    """Add the plugin's own demo data, after the core's (``flask trainer demo-data``).

    Called inside the demo data's transaction, once the demo people, settings, training
    sessions and bookings exist (demo practitioners have emails ending ``@example.net``).
    Do not commit.

    :param rng: a seeded :class:`random.Random`, so demo data is the same on every run.
    :param echo: a function printing one line of progress.
    :return: optionally a mapping of what was made (name to count) for the summary.
    """


@hookspec
def trainer_booking_email(booking, template):
    """Add paragraphs to an email the core sends about a booking.

    Called while each email about a booking is written, inside its transaction: the
    confirmation (``template`` ``"booking_confirmed"``), the reminders before each meeting
    (``"reminder"``), and the emails about changes and cancellations (``"session_changed"``,
    ``"booking_cancelled"``, ``"session_cancelled"``).

    :param booking: the :class:`trainer.booking.Booking` the email is about.
    :param template: the email's template name.
    :return: a list of plain-text paragraphs (links written out in full), or ``None``.
    """


# -- reports --------------------------------------------------------------------------------------


@hookspec
def trainer_report_sections(user):
    """Add sections to the reports page (``/reports/``).

    Called for a signed-in trainer or administrator; return only what ``user`` may see (a
    trainer: their delivery partner's courses and the sessions they run).

    :param user: the signed-in :class:`trainer.people.User`.
    :return: a list of :class:`trainer.hooks.ReportSection` (``title``, ``html`` — already
        escaped markup with headline figures — optional ``url`` of the full report and
        ``order``).
    """


@hookspec
def trainer_people_waiting(training_session_ids):
    """Say how many people are waiting for places on training sessions.

    Called by the oversubscription report and the national overview, with at most 5000 ids at
    a time. The core adds up the answers of every plugin; when no plugin answers, the reports
    leave out their "People waiting" column rather than show zeros.

    :param training_session_ids: a list of :class:`trainer.catalogue.TrainingSession` ids.
    :return: a dict of session id to the number of people waiting (sessions with nobody
        waiting may be left out), or ``None``.
    """


# -- imports --------------------------------------------------------------------------------------


@hookspec
def trainer_importers():
    """Add kinds of CSV import to **Administration → Imports** (``/admin/imports/``).

    Called each time the list of imports is needed (the imports pages and every upload), in
    a request. Each importer's format (its columns, key and template) is shown to
    administrators, and :func:`trainer.imports.run` does the reading, the header check, the
    all-or-nothing transaction and the counts: the importer checks its rows and writes them.

    :return: a list of :class:`trainer.imports.Importer` instances. Each ``kind`` (a slug in
        the page's address) must be unique: one already taken by the core or an earlier
        plugin is left out. ``validate(rows, context)`` must report every problem and write
        nothing that matters; ``apply(rows, context)`` must match rows to stored records by
        the importer's stated ``key``, so importing the same file twice changes nothing, and
        must not commit.
    """


# -- personal data --------------------------------------------------------------------------------


@hookspec
def trainer_user_data(user):
    """Subject access: hand over what the plugin holds about ``user``.

    Called when someone downloads their data (and by administrators answering a request).
    Must not change anything.

    :param user: the :class:`trainer.people.User` whose data it is.
    :return: a mapping of section title to a list of records, each a mapping of field name
        to a plain value (text, number, boolean or ``None``; times as ISO 8601 strings in UTC),
        or ``None`` when the plugin holds nothing about them.
    """


@hookspec
def trainer_erase_user(user):
    """Erasure: remove or anonymise everything the plugin holds that identifies ``user``.

    Called inside the erasure's transaction (do not commit), before the core anonymises the
    account. Figures already reported must not change: keep counts and answers, cut their
    link to the person. Must be safe to call twice.

    :param user: the :class:`trainer.people.User` being erased.
    :return: optionally a short summary string ("12 questionnaire answers detached").
    """


# -- deployment -----------------------------------------------------------------------------------


@hookspec
def trainer_file_folders():
    """Name the folders of files a plugin keeps outside the database (uploads and the like).

    Called by ``flask trainer check``, which reports a folder that cannot be written, and by
    ``flask trainer backup`` and ``flask trainer restore``, which put each folder into the
    archive with the database and bring it back. Must not change anything (nor create the
    folders).

    :return: a mapping of a short name (letters, digits, ``-`` and ``_``; the folder's name
        inside backup archives, so keep it stable) to the folder's :class:`pathlib.Path`, or
        ``None`` when the plugin keeps no files.
    """
