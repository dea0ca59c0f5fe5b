"""`flask backup`: a consistent copy of a live SQLite database (its online backup API) with a
manifest, taken while another connection writes; restored into a fresh path, the app finds
everything, the signed PDF byte for byte. On PostgreSQL the command points to pg_dump.

These tests run on an SQLite file of their own in both runs (the backup is SQLite's)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading

import pytest
from flask_migrate import upgrade
from helpers import Factory, login, make_app
from sqlalchemy import func, select
from world import build_world

from app import create_app
from dugnad import backup
from dugnad.extensions import db
from dugnad.models import Organization, SignedDocument


def _migrated_app(path):
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
    return app


def _close(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A live database with one object of every kind, a signed agreement among them."""
    path = tmp_path_factory.mktemp("live") / "dugnad.sqlite"
    app = _migrated_app(path)
    world = build_world(app, Factory(app), "Bakkevik")
    yield app, world
    _close(app)


def _signed_pdf_sha256(app, world) -> str:
    with app.app_context():
        document = db.session.scalar(select(SignedDocument).where(SignedDocument.agreement_id == world.agreements["signed"]))
        assert hashlib.sha256(document.pdf).hexdigest() == document.sha256
        return document.sha256


def _organizations(app, municipality_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Organization).where(Organization.municipality_id == municipality_id))


def test_backup_while_writing_then_restore_into_a_fresh_path(live, tmp_path):
    app, world = live
    original_sha256 = _signed_pdf_sha256(app, world)
    before = _organizations(app, world.municipality_id)

    # Another connection keeps writing, each row its own transaction, all through the backup.
    first_write, stop = threading.Event(), threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def write():
        try:
            while not stop.is_set() or not written:
                with app.app_context():
                    db.session.add(Organization(municipality_id=world.municipality_id, name=f"Skrevet under kopiering {len(written)}"))
                    db.session.commit()
                written.append(1)
                first_write.set()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
            first_write.set()

    writer = threading.Thread(target=write)
    writer.start()
    first_write.wait()
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    finally:
        stop.set()
        writer.join()
    assert errors == []
    assert result.exit_code == 0, result.output
    (made,) = (tmp_path / "backups").iterdir()  # one folder, complete (no .partial left)
    assert made.name.startswith("dugnad-") and f"Backup in {made}" in result.output
    assert "signed PDFs checked: 1" in result.output

    # The files match the manifest, also as `sha256sum -c SHA256SUMS` checks them.
    manifest = backup.verify(made)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=made, capture_output=True, text=True, check=False)
    assert check.returncode == 0 and "dugnad.sqlite: OK" in check.stdout

    # Restore (README, Backups): copy the file to where the app's database lives, open the app.
    restored = tmp_path / "restored" / "instance" / "dugnad.sqlite"
    restored.parent.mkdir(parents=True)
    shutil.copy2(made / "dugnad.sqlite", restored)
    restored_app = make_app(f"sqlite:///{restored}")
    try:
        client = restored_app.test_client()
        login(client, world.admin)
        response = client.get(f"/agreements/{world.agreements['signed']}/signed.pdf")
        assert response.status_code == 200
        assert hashlib.sha256(response.data).hexdigest() == original_sha256
        assert world.organization_name in client.get("/organizations/").get_data(as_text=True)
        # A snapshot of one instant: some of the rows written meanwhile, none half-written.
        copied = _organizations(restored_app, world.municipality_id)
        assert before < copied <= before + len(written)
        assert manifest["rows"]["organization"] == copied + _other_organizations(restored_app, world.municipality_id)
        # The restored database is a working one: it takes writes again.
        with restored_app.app_context():
            db.session.add(Organization(municipality_id=world.municipality_id, name="Etter gjenoppretting"))
            db.session.commit()
    finally:
        _close(restored_app)


def _other_organizations(app, municipality_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Organization).where(Organization.municipality_id != municipality_id))


def test_manifest_says_when_what_and_how_big(live, tmp_path):
    app, _world = live
    with app.app_context():
        made = backup.backup_to(tmp_path)
        head = db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar()
    manifest = json.loads((made.directory / "manifest.json").read_text())
    assert manifest == made.manifest
    (entry,) = manifest["files"]
    copy = made.directory / "dugnad.sqlite"
    assert entry == {"name": "dugnad.sqlite", "bytes": copy.stat().st_size, "sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["schema_revision"] == head
    assert manifest["signed_documents_checked"] == 1
    assert manifest["rows"]["signed_document"] == 1 and manifest["rows"]["seal_certificate"] == 1
    # One file, no write-ahead log beside it; readable by others only by choice.
    assert sorted(p.name for p in made.directory.iterdir()) == ["SHA256SUMS", "dugnad.sqlite", "manifest.json"]
    assert copy.stat().st_mode & 0o077 == 0
    # A second backup the same second gets a folder of its own.
    with app.app_context():
        again = backup.backup_to(tmp_path)
    assert again.directory != made.directory


def test_a_damaged_backup_is_refused_on_restore(live, tmp_path):
    app, _world = live
    with app.app_context():
        made = backup.backup_to(tmp_path)
    copy = made.directory / "dugnad.sqlite"
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(backup.BackupError, match="does not match the manifest"):
        backup.verify(made.directory)


def test_on_postgresql_the_command_explains_pg_dump(tmp_path):
    # The address is never contacted: the command only looks at what kind of database it is.
    app = create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://dugnad@192.0.2.1:5432/dugnad"})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code == 1
    assert "PostgreSQL" in result.output
    assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
    assert not (tmp_path / "backups").exists()


def test_an_in_memory_database_cannot_be_backed_up(tmp_path):
    app = create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path)])
    assert result.exit_code == 1
    assert "in memory" in result.output
