"""Command-line operations: `flask create-municipality`, `create-user`, `demo`, `outbox`,
and the cron commands `reminders`, `expiry-notices`, `evaluations` and `retention`,
and `backup`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import orgnr

from . import accounts, mail
from .extensions import db
from .models import Municipality, User


@click.command("create-municipality")
@click.option("--name", required=True, help="e.g. 'Surnadal kommune'")
@click.option("--number", "kommunenummer", required=True, help="4-digit kommunenummer")
@click.option("--org-number", required=True, help="the municipality's organisation number")
@click.option("--address", default="")
@with_appcontext
def create_municipality_command(name, kommunenummer, org_number, address):
    """Create a municipality (tenant)."""
    if not (len(kommunenummer) == 4 and kommunenummer.isdigit()):
        raise click.BadParameter("must be 4 digits", param_hint="--number")
    try:
        org_number = orgnr.validate(org_number)
    except StdnumError:
        raise click.BadParameter("not a valid organisation number", param_hint="--org-number") from None
    if db.session.scalar(select(Municipality).where(Municipality.kommunenummer == kommunenummer)):
        raise click.ClickException(f"municipality {kommunenummer} exists already")
    municipality = accounts.create_municipality(name, kommunenummer, org_number, address)
    db.session.commit()
    click.echo(f"Created {municipality.name} ({municipality.kommunenummer}).")


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["staff", "admin", "operator"]), required=True)
@click.option("--municipality", "kommunenummer", help="kommunenummer; not for operators")
@click.option("--title", default="")
@click.password_option()
@with_appcontext
def create_user_command(email, name, role, kommunenummer, title, password):
    """Create a user. Staff and admins belong to a municipality; operators to none."""
    municipality_id = None
    if role == "operator":
        if kommunenummer:
            raise click.BadParameter("operators belong to no municipality", param_hint="--municipality")
    else:
        if not kommunenummer:
            raise click.BadParameter("required for staff and admin", param_hint="--municipality")
        municipality = db.session.scalar(select(Municipality).where(Municipality.kommunenummer == kommunenummer))
        if municipality is None:
            raise click.ClickException(f"no municipality {kommunenummer}")
        municipality_id = municipality.id
    if db.session.scalar(select(User).where(User.email == email.strip().lower())):
        raise click.ClickException(f"a user {email} exists already")
    if len(password) < 12:
        raise click.BadParameter("at least 12 characters", param_hint="password")
    accounts.create_user(municipality_id, email, name, role, password, title=title)
    db.session.commit()
    click.echo(f"Created {role} {email}.")


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo municipality (idempotent) and print how to log in."""
    from .demo import load_demo

    created = load_demo()
    db.session.commit()
    if created:
        click.echo("Demo data loaded.")
    from .demo import CREDENTIALS

    click.echo("Log in at http://127.0.0.1:5000 as:")
    for role, (email, password) in CREDENTIALS.items():
        click.echo(f"  {role:<6} {email}  password: {password}")


@click.group("outbox")
def outbox_group():
    """The mail outbox."""


def _require_mail_server() -> None:
    from flask import current_app

    if not current_app.config["MAIL_SERVER"]:
        raise click.ClickException("MAIL_SERVER is not set; messages stay in the Mailbox page")


@outbox_group.command("deliver")
@click.option("--max-batch", type=click.IntRange(min=1), default=100, show_default=True, help="Most messages to send.")
@with_appcontext
def outbox_deliver_command(max_batch):
    """Send the pending messages that are due, once (needs MAIL_SERVER); the same as
    `flask outbox run --once`. Messages waiting after a failure wait their time."""
    _require_mail_server()
    sent, failed = mail.deliver_due(limit=max_batch)
    click.echo(f"sent {sent}, failed {failed}")


class _Stop(BaseException):
    """Raised by the signal handler to cut the worker's pause between passes short."""


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron and tests).")
@click.option("--max-batch", type=click.IntRange(min=1), default=100, show_default=True, help="Most messages per pass.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), help="Pause between passes [default: OUTBOX_POLL_SECONDS].")
@with_appcontext
def outbox_run_command(once, max_batch, poll_seconds):
    """The outbox worker: deliver due messages until SIGTERM or Ctrl+C (needs MAIL_SERVER).
    Several may run at once (on PostgreSQL); none sends a message another one sends."""
    import signal
    import time

    from flask import current_app

    _require_mail_server()
    if once:
        sent, failed = mail.deliver_due(limit=max_batch)
        click.echo(f"sent {sent}, failed {failed}")
        return

    stopping = idle = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        # While a message is in hand the worker finishes it (raising here could leave it
        # sent but not marked): it stops before the next. Asleep, it stops at once.
        if idle:
            raise _Stop

    def sleep(seconds: float) -> None:
        nonlocal idle
        idle = True
        try:
            if not stopping:
                time.sleep(seconds)
        except _Stop:
            pass
        finally:
            idle = False

    # Left in place after the loop: a second signal while the process exits (`make run`
    # sends SIGTERM after Ctrl+C) finds a handler that only sets the flag.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    poll = poll_seconds or current_app.config["OUTBOX_POLL_SECONDS"]
    click.echo(f"outbox worker: polling every {poll:g} s; SIGTERM or Ctrl+C stops it")
    try:
        mail.work(poll, max_batch, should_stop=lambda: stopping, sleep=sleep, echo=click.echo)
    except _Stop:  # the signal came a moment before or after the pause itself
        pass
    click.echo("outbox worker: stopped")


def _queue_from_cron(operation, label: str, what: str) -> None:
    """Run a daily operation that queues emails, then deliver them when SMTP is set up.
    Links in the emails need the public address; no request gives it here."""
    from flask import current_app

    from .lifecycle import Actor

    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        queued = operation(Actor(label=label))
        db.session.commit()
    click.echo(f"{what} queued: {queued}")
    if queued and current_app.config["MAIL_SERVER"]:
        sent, failed = mail.deliver_due()
        click.echo(f"sent {sent}, failed {failed}")


@click.command("reminders")
@with_appcontext
def reminders_command():
    """Remind organisations that have not answered an agreement (for cron, e.g. daily)."""
    from .agreements import send_due_reminders

    _queue_from_cron(send_due_reminders, "Dugnad (påminnelse)", "reminders")


@click.command("expiry-notices")
@with_appcontext
def expiry_notices_command():
    """Tell owners that a signed agreement ends soon, once each (for cron, e.g. daily)."""
    from .agreements import send_expiry_notices

    _queue_from_cron(send_expiry_notices, "Dugnad (varsel om utløp)", "expiry notices")


@click.command("evaluations")
@with_appcontext
def evaluations_command():
    """Email the evaluations that are due, and remind organisations that have not answered
    one (for cron, e.g. daily)."""
    from .evaluations import send_due, send_reminders

    _queue_from_cron(send_due, "Dugnad (evaluering)", "evaluations")
    _queue_from_cron(send_reminders, "Dugnad (påminnelse om evaluering)", "evaluation reminders")


@click.command("retention")
@with_appcontext
def retention_command():
    """Anonymise contact persons each municipality's retention period says are no longer
    needed (for cron, e.g. daily). Signed agreements are records and stay as they are."""
    from .lifecycle import Actor
    from .personal_data import apply_retention
    from .timeutil import today_oslo

    anonymised = apply_retention(today_oslo(), Actor(label="Dugnad (lagringstid)"))
    db.session.commit()
    click.echo(f"contacts anonymised: {anonymised}")


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(target: Path):
    """Back up the SQLite database, in use or not, into a new folder in TARGET (with a
    manifest and SHA256SUMS). On PostgreSQL it explains pg_dump instead."""
    from . import backup

    try:
        made = backup.backup_to(target)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    files = ", ".join(f"{entry['name']} ({entry['bytes']} bytes)" for entry in made.manifest["files"])
    click.echo(f"Backup in {made.directory}: {files}; signed PDFs checked: {made.manifest['signed_documents_checked']}.")


def init_app(app: Flask) -> None:
    for command in (
        create_municipality_command, create_user_command, demo_command, outbox_group, reminders_command,
        expiry_notices_command, evaluations_command, retention_command, backup_command,
    ):
        app.cli.add_command(command)
