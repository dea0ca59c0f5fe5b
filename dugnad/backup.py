"""`flask backup`: a consistent copy of a live SQLite database, with a manifest.

Everything Dugnad stores is in the database: signed PDFs (signed_document.pdf), seal
certificates (seal_certificate.pkcs12), mail and its attachments. Nothing is kept as
files under instance/ except the development SECRET_KEY (instance/secret_key), which is
configuration, not data: a backup deliberately leaves it out, since it decrypts the seal
certificates' passwords that the backup holds (keep SECRET_KEY and SEAL_KEY apart from
the backups, as the README says).

SQLite is copied with its online backup API (sqlite3.Connection.backup): one read
transaction, so the copy is the database as it was at one instant, while requests go on
writing (write-ahead logging lets them). PostgreSQL is backed up with pg_dump instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from .extensions import db

DATABASE_FILE = "dugnad.sqlite"
MANIFEST_FILE = "manifest.json"
#: In `sha256sum` format, so a restore can check the copy with `sha256sum -c SHA256SUMS`.
CHECKSUM_FILE = "SHA256SUMS"

PG_DUMP_ADVICE = """\
The database is PostgreSQL: back it up with pg_dump, which makes a consistent copy of a live database:

  pg_dump --format=custom --file=dugnad-$(date +%Y%m%d-%H%M%S).dump "$DATABASE_URL"

and restore into an empty database with:

  pg_restore --no-owner --dbname="$NEW_DATABASE_URL" dugnad-YYYYMMDD-HHMMSS.dump

Signed PDFs and seal certificates are in the database, so the dump holds them. See README, Backups."""


class BackupError(Exception):
    """No backup was made; the message says why and what to do."""


@dataclass
class Backup:
    directory: Path
    manifest: dict


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL; BackupError for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        raise BackupError(PG_DUMP_ADVICE)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(f"Backing up a {parsed.get_backend_name()} database is not supported.")
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("The database is in memory; there is nothing to back up.")
    return Path(parsed.database)


def copy_sqlite(source: Path, destination: Path) -> None:
    """`source` as it is at one instant, into the new file `destination`, as one file
    (journal_mode DELETE: no -wal file needed beside it)."""
    if not source.exists():
        raise BackupError(f"No database file at {source}.")
    live = sqlite3.connect(source, timeout=15)
    target = sqlite3.connect(destination)
    try:
        # pages=-1 (all in one step): a single read transaction, so one consistent snapshot
        # while other connections go on writing to the write-ahead log.
        live.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")
        problems = target.execute("PRAGMA integrity_check").fetchall()
        if problems != [("ok",)]:
            raise BackupError(f"The copy failed SQLite's integrity check: {problems[:5]}")
    finally:
        target.close()
        live.close()


def _contents(database: Path) -> dict:
    """What the copy holds: rows per table, the schema revision, and each signed PDF
    checked against the SHA-256 stored with it (a backup that damaged one is refused)."""
    connection = sqlite3.connect(database)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )]
        rows = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        revision = None
        if "alembic_version" in tables:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        checked = 0
        if "signed_document" in tables:
            for document_id, pdf, sha256 in connection.execute("SELECT id, pdf, sha256 FROM signed_document"):
                if hashlib.sha256(pdf).hexdigest() != sha256:
                    raise BackupError(f"Signed document {document_id} in the copy does not match its SHA-256.")
                checked += 1
    finally:
        connection.close()
    return {"schema_revision": revision, "rows": rows, "signed_documents_checked": checked}


def backup_to(target: Path, url: str | None = None) -> Backup:
    """A new folder `dugnad-<UTC time>` in `target` with the database copy, manifest.json
    and SHA256SUMS. Written under a temporary name and renamed when complete, so a folder
    with the final name is always a whole backup."""
    url = url or str(db.engine.url)
    source = sqlite_path(url)
    started = datetime.now(UTC)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    name = f"dugnad-{started:%Y%m%d-%H%M%S}"
    final = target / name
    n = 1
    while final.exists():  # two backups in the same second
        n += 1
        final = target / f"{name}-{n}"
    partial = target / f".{final.name}.partial"
    partial.mkdir(mode=0o700)
    database = partial / DATABASE_FILE
    copy_sqlite(source, database)
    database.chmod(0o600)  # personal data and seal certificates
    manifest = {
        "created_at": started.isoformat(timespec="seconds"),
        "source": str(source.resolve()),
        "files": [{"name": DATABASE_FILE, "bytes": database.stat().st_size, "sha256": _sha256(database)}],
        "documents": "Signed PDFs, seal certificates and mail attachments are stored in the database.",
        "not_included": "SECRET_KEY and SEAL_KEY (configuration; keep them apart from backups).",
        **_contents(database),
    }
    (partial / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (partial / CHECKSUM_FILE).write_text(
        "".join(f"{entry['sha256']}  {entry['name']}\n" for entry in manifest["files"]), encoding="utf-8"
    )
    os.replace(partial, final)
    return Backup(directory=final, manifest=manifest)


def verify(directory: Path) -> dict:
    """The manifest of a backup folder, after checking its files against it (for a restore)."""
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        path = directory / entry["name"]
        if not path.exists() or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path} is missing or does not match the manifest.")
    return manifest
