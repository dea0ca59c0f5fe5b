"""A full disk while sealing: the administrator is told plainly (507), nothing is half-done,
and countersigning works once there is room again. The disk is made "full" for real: the
process may not grow any file past 64 KiB (RLIMIT_FSIZE) while the request runs, so the
sealed PDF cannot be written, as on a full disk. SQLite only: PostgreSQL writes on its own
server, whose disk this process cannot fill."""

from __future__ import annotations

import os
import resource
import signal
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from helpers import link_in, login, outbox
from world import ACCEPT, countersign_form, write_agreement

from dugnad.extensions import db
from dugnad.models import Agreement

ORG_EMAIL = "kari@rodekors.example.no"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="the database file must be this process's to fill"
)


@contextmanager
def disk_full(app, room: int = 64 * 1024):
    """No file may grow past `room` bytes (writes beyond fail with EFBIG), after the
    write-ahead log was moved into the database file."""
    with app.app_context():
        with db.engine.connect() as connection:
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_full_disk_while_sealing_says_so_and_loses_nothing(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "admin"))
    organization = factory.organization(municipality, name="Røde Kors", email=ORG_EMAIL)
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, "Samarbeid om leksehjelp")
    assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
    assert app.test_client().post(link_in(outbox(app, to=ORG_EMAIL)[-1]), data=ACCEPT).status_code == 302
    form = countersign_form(app, agreement_id)

    # As in production: errors become pages, not exceptions in the test.
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    with disk_full(app):
        response = client.post(f"/agreements/{agreement_id}/countersign", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 507, page[:500]
    assert "Dugnad fikk ikke lagret" in page and "ingenting er tapt" in page
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert agreement.state == "accepted" and agreement.signed_document is None
        assert len(agreement.signatures) == 1  # the organisation's; not the municipality's

    # With room again, the same countersigning works, once.
    response = client.post(f"/agreements/{agreement_id}/countersign", data=form)
    assert response.status_code == 302
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert agreement.state == "signed" and agreement.signed_document is not None
        assert len(agreement.signatures) == 2
