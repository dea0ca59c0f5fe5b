"""Production mode (DUGNAD_ENV=production): refuses made-up secrets, secure cookies, the seal
certificate's password under SEAL_KEY; SQLite in WAL mode with a busy timeout, writes from
several threads at once; and `make serve`'s gunicorn serving the app."""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import PASSWORD, CSRFClient
from sqlalchemy import func, select, text

from app import create_app
from dugnad import seal
from dugnad.extensions import SQLITE_BUSY_TIMEOUT_MS, db
from dugnad.models import Municipality, Organization, SealCertificate
from dugnad.security import ProductionConfigError

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SECRET_KEY": secrets.token_hex(32), "SEAL_KEY": secrets.token_hex(32)}


@pytest.fixture
def environment(monkeypatch):
    """No Dugnad setting from the shell that runs the tests."""
    for name in ("DUGNAD_ENV", "SECRET_KEY", "SEAL_KEY", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _close(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _production(database_url: str, **config):
    return create_app({"DUGNAD_ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url, **config})


# --- Refusals -------------------------------------------------------------------------------


def test_production_refuses_to_start_without_secret_key(environment, database_url):
    # In development a key would be made under instance/; production must be given one.
    with pytest.raises(ProductionConfigError) as refused:
        _production(database_url, SEAL_KEY=GOOD["SEAL_KEY"])
    message = str(refused.value)
    assert "DUGNAD_ENV=production" in message
    assert "SECRET_KEY is not set." in message
    assert "SEAL_KEY" not in message.replace("SECRET_KEY", "")  # only what is wrong is named


@pytest.mark.parametrize("secret_key", ["test-secret", "change-me", "dev", "x" * 31])
def test_production_refuses_a_default_or_short_secret_key(environment, database_url, secret_key):
    with pytest.raises(ProductionConfigError, match="SECRET_KEY is a default or shorter than 32 characters"):
        _production(database_url, SECRET_KEY=secret_key, SEAL_KEY=GOOD["SEAL_KEY"])


def test_production_takes_secret_key_from_the_environment(environment, database_url):
    environment.setenv("SECRET_KEY", GOOD["SECRET_KEY"])
    app = _production(database_url, SEAL_KEY=GOOD["SEAL_KEY"])
    assert app.config["SECRET_KEY"] == GOOD["SECRET_KEY"]


def test_production_refuses_to_start_without_seal_key(environment, database_url):
    with pytest.raises(ProductionConfigError, match=r"SEAL_KEY \(the key that protects the seal certificate's password\) is not set"):
        _production(database_url, SECRET_KEY=GOOD["SECRET_KEY"])


@pytest.mark.parametrize("seal_key", ["changeme", "passord", "kort"])
def test_production_refuses_a_default_or_short_seal_key(environment, database_url, seal_key):
    with pytest.raises(ProductionConfigError, match="SEAL_KEY is a default or shorter than 32 characters"):
        _production(database_url, SECRET_KEY=GOOD["SECRET_KEY"], SEAL_KEY=seal_key)


def test_production_refuses_seal_key_equal_to_secret_key(environment, database_url):
    with pytest.raises(ProductionConfigError, match="SEAL_KEY must differ from SECRET_KEY"):
        _production(database_url, SECRET_KEY=GOOD["SECRET_KEY"], SEAL_KEY=GOOD["SECRET_KEY"])


def test_an_unknown_mode_is_refused_not_taken_for_development(environment, database_url):
    with pytest.raises(ProductionConfigError, match="DUGNAD_ENV is 'prod'; it must be 'development' or 'production'"):
        create_app({"DUGNAD_ENV": "prod", "SQLALCHEMY_DATABASE_URI": database_url, **GOOD})


def test_refusal_is_a_plain_message_and_exit_status_from_the_command_line(environment, tmp_path):
    environment.setenv("DUGNAD_ENV", "production")
    environment.setenv("SEAL_KEY", "kort")
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "SECRET_KEY is not set." in result.stderr
    assert "SEAL_KEY is a default or shorter than 32 characters." in result.stderr


# --- A good production configuration --------------------------------------------------------------


def test_good_production_config_starts_with_secure_cookies(environment, database_url, factory):
    app = _production(database_url, **GOOD)
    app.test_client_class = CSRFClient
    assert app.config["SESSION_COOKIE_SECURE"] is True
    municipality = factory.municipality()
    email = factory.user(municipality, "admin")
    client = app.test_client()
    # The browser is on HTTPS (the reverse proxy ends TLS); a Secure cookie is sent back only there.
    client.environ_base["wsgi.url_scheme"] = "https"
    response = client.get("/login")
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Over HTTPS Flask-WTF also wants a same-origin Referer, which Referrer-Policy still sends.
    response = client.post("/login", data={"email": email, "password": PASSWORD}, headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # logged in: the session cookie came back
    _close(app)


def test_development_cookie_is_not_secure_so_http_on_localhost_works(client):
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def _seal_password_with(app, municipality_id: int) -> bytes:
    """The seal certificate's password, decrypted as sealing does."""
    with app.app_context():
        record = db.session.scalar(select(SealCertificate).where(SealCertificate.municipality_id == municipality_id))
        return seal._fernet().decrypt(record.password_encrypted.encode())


def test_seal_certificate_password_is_encrypted_under_seal_key(environment, database_url, factory):
    app = _production(database_url, **GOOD)
    municipality = factory.municipality()
    with app.app_context():
        seal.certificate_for(municipality)
        db.session.commit()
        token = db.session.scalar(select(SealCertificate.password_encrypted)).encode()
    _close(app)
    only_seal_key = seal._fernet_from(GOOD["SEAL_KEY"])
    assert only_seal_key.decrypt(token)
    # Changing SECRET_KEY (e.g. after a leak: everyone logs in again) keeps the seal usable.
    rotated = _production(database_url, SECRET_KEY=secrets.token_hex(32), SEAL_KEY=GOOD["SEAL_KEY"])
    assert _seal_password_with(rotated, municipality)
    _close(rotated)


def test_certificate_stored_before_seal_key_was_set_still_opens(app, factory, environment, database_url):
    municipality = factory.municipality()
    with app.app_context():
        seal.certificate_for(municipality)  # under the test app's SECRET_KEY, no SEAL_KEY
        db.session.commit()
    password = _seal_password_with(app, municipality)
    later = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": app.config["SECRET_KEY"], "SEAL_KEY": GOOD["SEAL_KEY"]})
    assert _seal_password_with(later, municipality) == password
    _close(later)


# --- SQLite: write-ahead log and busy timeout -------------------------------------------------------

sqlite_only = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite settings; this run is on PostgreSQL"
)


@sqlite_only
def test_every_sqlite_connection_uses_wal_and_waits_for_locks(app):
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS == 15_000
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


@sqlite_only
def test_a_writer_waits_for_another_writers_lock_instead_of_failing(app, factory):
    """One connection holds the write lock; a request writing meanwhile waits for it
    (busy_timeout) instead of failing with "database is locked"."""
    municipality = factory.municipality()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, until COMMIT
    holder.execute("UPDATE municipality SET name = 'Låst kommune' WHERE id = ?", (municipality,))
    started = threading.Event()
    errors: list[BaseException] = []

    def write():
        try:
            with app.app_context():
                started.set()
                db.session.get(Municipality, municipality).address = "Rådhusplassen 2"
                db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    started.wait()
    # The writer is now waiting on the lock (or about to); let it go.
    writer.join(timeout=0.3)
    holder.execute("COMMIT")
    holder.close()
    writer.join()
    assert errors == []
    with app.app_context():
        row = db.session.get(Municipality, municipality)
        assert (row.name, row.address) == ("Låst kommune", "Rådhusplassen 2")


def test_concurrent_writes_from_many_threads_all_succeed(app, factory):
    """Requests run in threads (gunicorn's gthread workers): none fails to write."""
    municipality = factory.municipality()
    threads, writes = 4, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(n: int):
        try:
            barrier.wait()
            for i in range(writes):
                with app.app_context():
                    db.session.add(Organization(municipality_id=municipality, name=f"Tråd {n} lag {i}"))
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [], errors[:1]
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Organization).where(Organization.municipality_id == municipality))
    assert count == threads * writes


# --- make serve ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_serves_the_app_in_production_mode_behind_a_proxy(environment, database_url):
    """What `make serve` runs: gunicorn with gunicorn.conf.py and `app:create_app()`; the
    proxy's X-Forwarded-Proto makes the request HTTPS (HSTS, Secure cookie)."""
    port = _free_port()
    env = {
        **os.environ, **GOOD, "DUGNAD_ENV": "production", "DATABASE_URL": database_url, "TRUSTED_PROXIES": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Wait until it listens (or has died).
        while server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                threading.Event().wait(0.1)
        assert server.poll() is None, server.stdout.read()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-Proto": "https"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert "Secure" in response.headers["Set-Cookie"]
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            assert "Logg inn" in response.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as response:
            assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert '"GET /login HTTP/1.1" 200' in output  # the access log goes to stdout


@sqlite_only
def test_two_requests_that_read_then_write_at_once_both_succeed(app, factory):
    """Two administrators countersign at the same moment: each request reads, works a
    while (renders the PDF), then writes. Begun as readers, the second writer would fail
    at once with "database is locked" (its snapshot is older than the first one's commit)
    whatever the busy timeout; a state-changing request begins with the write lock
    (BEGIN IMMEDIATE), so the second one waits for the first instead."""
    municipality = factory.municipality()
    first_has_read = threading.Event()
    errors: list[BaseException] = []

    def countersign(name: str, wait_for: threading.Event | None):
        try:
            if wait_for is not None:
                wait_for.wait()
            with app.test_request_context("/", method="POST"), app.app_context():
                row = db.session.get(Municipality, municipality)  # the read that begins the transaction
                if wait_for is None:
                    first_has_read.set()
                    time.sleep(0.3)  # "rendering": the other request comes in meanwhile
                db.session.add(Organization(municipality_id=municipality, name=f"{name} i {row.name}"))
                db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=countersign, args=("Første", None)),
               threading.Thread(target=countersign, args=("Andre", first_has_read))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        names = set(db.session.scalars(select(Organization.name).where(Organization.municipality_id == municipality)))
    assert {name.split(" i ")[0] for name in names} == {"Første", "Andre"}
