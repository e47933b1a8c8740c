"""``flask trainer ...`` commands."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from trainer import demo, hooks, mail
from trainer.db import db, utcnow
from trainer.people import Role, User, find_user_by_email, normalise_email

trainer_group = AppGroup("trainer", help="Run and look after trainer.")


@trainer_group.command("init")
@click.option(
    "--demo/--no-demo", "load_demo", default=True, help="Load demo data into an empty database."
)
def init_command(load_demo: bool):
    """Apply migrations; load demo data when the database is empty; print the demo logins."""
    upgrade()
    if load_demo and not demo.has_data():
        click.echo("Loading demo data ...")
        demo.create("small", echo=click.echo)
    if load_demo:
        print_logins()


def print_logins() -> None:
    click.echo(f"\nDemo logins (password for each: {demo.DEMO_PASSWORD}):")
    for role, email, _password in demo.logins():
        click.echo(f"  {role:<28} {email}")
    click.echo("")


@trainer_group.command("demo-data")
@click.option(
    "--scale", type=click.Choice(sorted(demo.SCALES)), default="small", show_default=True,
    help="small for trying it out; national for England-sized benchmark data.",
)
def demo_data_command(scale: str):
    """Fill an empty database with demo data."""
    if demo.has_data():
        raise click.ClickException("The database already has people in it; demo data is "
                                   "only loaded into an empty database.")
    started = time.monotonic()
    made = demo.create(scale, echo=click.echo)
    click.echo(f"Demo data ({scale}) made in {time.monotonic() - started:.1f}s: {made}")
    print_logins()


@trainer_group.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.password_option()
def create_admin_command(email: str, name: str, password: str):
    """Create an administrator, or make an existing user one."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise click.BadParameter("enter a real email address", param_hint="--email")
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    user = find_user_by_email(email)
    if user is None:
        if len(password) < minimum:
            raise click.BadParameter(f"use at least {minimum} characters", param_hint="password")
        user = User(email=email, name=name.strip()[:120] or email, email_verified_at=utcnow())
        user.set_password(password)
        db.session.add(user)
        click.echo(f"Created administrator {email}.")
    else:
        click.echo(f"{email} already has an account; it is now an administrator.")
    user.grant(Role.ADMIN)
    db.session.commit()


@trainer_group.command("send-mail")
@click.option("--loop", is_flag=True, help="Keep running, checking every --interval seconds.")
@click.option("--interval", default=10.0, show_default=True)
@click.option("--limit", default=100, show_default=True, help="Messages per batch.")
def send_mail_command(loop: bool, interval: float, limit: int):
    """Deliver queued mail, retrying failures with back-off. Safe to run on several hosts."""
    while True:
        total = {"sent": 0, "retrying": 0, "failed": 0}
        while True:
            counts = mail.deliver_due(limit=limit)
            for key, value in counts.items():
                total[key] += value
            if sum(counts.values()) < limit:
                break
        if sum(total.values()) or not loop:
            click.echo(
                f"Mail: {total['sent']} sent, {total['retrying']} to retry, "
                f"{total['failed']} failed"
            )
        if not loop:
            return
        time.sleep(interval)


@trainer_group.command("tick")
def tick_command():
    """Send due reminders, mark ended sessions, then plugins' ``trainer_tick``.

    Idempotent and safe to run on several hosts at once; run it every minute.
    """
    from trainer import booking

    now = utcnow()
    with mail.link_context():  # emails carry links to the public address
        click.echo(f"Reminders sent: {booking.send_reminders(now)}")
        click.echo(f"Sessions ended: {booking.end_sessions(now)}")
        for summary in hooks.call("trainer_tick", now=now):
            if summary:
                click.echo(summary)
    click.echo(f"Tick done at {now.isoformat(timespec='seconds')}")


@trainer_group.command("plugins")
def plugins_command():
    """List loaded plugins and the hooks each implements."""
    summaries = hooks.plugin_summaries()
    if not summaries:
        click.echo("No plugins loaded.")
    for plugin in summaries:
        click.echo(f"{plugin['name']}: {', '.join(plugin['hooks']) or 'no hooks'}")
    for name in hooks.blocked_plugins():
        click.echo(f"{name}: disabled")




@trainer_group.command("check")
@click.option("--hosts", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many app hosts will share the database.")
@click.pass_context
def check_command(context: click.Context, hosts: int):
    """Report misconfiguration before start: one line per problem, exit status 1 if any."""
    from trainer import checks

    context.exit(checks.report(checks.run_checks(current_app, hosts=hosts), click.echo))


@trainer_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--portable", is_flag=True,
              help="Dump rows as JSON instead of pg_dump or a SQLite copy.")
def backup_command(path: Path, portable: bool):
    """Write the database and uploaded files to one new archive at PATH."""
    from trainer import backup

    try:
        summary = backup.create_backup(current_app, path, portable=portable, echo=click.echo)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backed up {summary.describe()} to {path}")


@trainer_group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a database that has rows and folders that have files.")
def restore_command(path: Path, force: bool):
    """Restore the database and uploaded files from the archive at PATH (app stopped)."""
    from trainer import backup

    try:
        summary = backup.restore_backup(current_app, path, force=force, echo=click.echo)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored {summary.describe()} from {path}")
