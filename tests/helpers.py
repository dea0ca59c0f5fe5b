"""Test helpers: a client that posts forms with their CSRF token, factories, mail links."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from datetime import timedelta

from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.orm import selectinload

from app import create_app
from dugnad import accounts
from dugnad.extensions import db
from dugnad.models import Contact, Meeting, Organization, OutboxMessage
from dugnad.timeutil import now_utc

PASSWORD = "correct horse battery staple"


class CSRFClient(FlaskClient):
    """Adds the session's CSRF token to form posts, as the pages' forms do.

    Pass `csrf=False` to send a post without it.
    """

    def csrf_token(self) -> str:
        # What flask_wtf.csrf.generate_csrf does: a raw token in the session, signed.
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def post(self, *args, csrf: bool = True, **kwargs):
        data = kwargs.get("data")
        if csrf and isinstance(data, dict) and "csrf_token" not in data:
            kwargs["data"] = {**data, "csrf_token": self.csrf_token()}
        return super().post(*args, **kwargs)


class Factory:
    """Builds objects in one call each; every object gets its own municipality unless given."""

    def __init__(self, app):
        self.app = app
        self._n = 0
        #: Kommunenummer for new municipalities: four digits (a check constraint), so they
        #: have their own counter, not the one every object shares.
        self.kommunenummer = itertools.count(9001)

    def _next(self) -> int:
        self._n += 1
        return self._n

    def municipality(self, name: str | None = None):
        n = self._next()
        with self.app.app_context():
            municipality = accounts.create_municipality(
                name or f"Testkommune {n}", str(next(self.kommunenummer)), "991000054", "Rådhuset"
            )
            db.session.commit()
            return municipality.id

    def user(self, municipality_id: int | None, role: str = "staff", email: str | None = None, name: str | None = None):
        n = self._next()
        email = email or f"{role}{n}@kommune.example.no"
        with self.app.app_context():
            accounts.create_user(municipality_id, email, name or f"{role.title()} {n}", role, PASSWORD, title="Rådgiver")
            db.session.commit()
        return email

    def organization(self, municipality_id: int, name: str | None = None, email: str = "leder@lag.example.no", org_number: str | None = None):
        n = self._next()
        with self.app.app_context():
            organization = Organization(
                municipality_id=municipality_id,
                name=name or f"Lag nummer {n}",
                org_number=org_number,
                address="Storgata 1",
                postal_code="1234",
                city="Bygda",
            )
            if email:
                organization.contacts.append(
                    Contact(municipality_id=municipality_id, name=f"Leder {n}", role="styreleder", email=email, is_primary=True)
                )
            db.session.add(organization)
            db.session.commit()
            return organization.id

    def meeting(self, municipality_id: int, starts_in: timedelta = timedelta(days=7)):
        with self.app.app_context():
            start = now_utc() + starts_in
            meeting = Meeting(
                municipality_id=municipality_id,
                title="Dialogmøte om frivillighet",
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                place="Rådhuset, møterom 1",
                agenda="Velkommen",
            )
            db.session.add(meeting)
            db.session.commit()
            return meeting.id


def login(client: CSRFClient, email: str, password: str = PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


LINK = re.compile(r"https?://[^/\s]+(/r/[A-Za-z0-9_\-/]+)")


def outbox(app, to: str | None = None) -> list[OutboxMessage]:
    with app.app_context():
        # Attachments loaded too: the messages are read after the session is gone.
        query = db.select(OutboxMessage).options(selectinload(OutboxMessage.attachments)).order_by(OutboxMessage.id)
        if to:
            query = query.where(OutboxMessage.to_addr == to)
        messages = db.session.scalars(query).all()
        db.session.expunge_all()
        return messages


def link_in(message: OutboxMessage) -> str:
    """The path of the token link in a message's plain-text body."""
    match = LINK.search(message.body_text)
    assert match, f"no link in: {message.body_text}"
    return match.group(1)


def make_app(database_url: str, **config):
    """The app every test runs against (conftest's `app` fixture and the shared worlds).

    Rate limits are off: the route-table tests log in and open links from one address far
    more often than a person would. tests/test_rate_limits.py turns them on."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SERVER_NAME": "localhost",
            "RATELIMIT_ENABLED": False,
            **config,
        }
    )
    app.test_client_class = CSRFClient
    return app


def empty_database(url: str) -> None:
    """Every table emptied: what happens after each test."""
    tables = list(reversed(db.metadata.sorted_tables))
    engine = create_engine(url)
    with engine.connect() as connection:
        if url.startswith("postgresql"):
            with connection.begin():
                names = ", ".join(f'"{t.name}"' for t in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Outside any transaction, where SQLite honours it (inside one it is ignored):
            # agreement and agreement_version refer to each other.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            with connection.begin():
                for table in tables:
                    connection.execute(table.delete())
    engine.dispose()
