"""Fixtures: a fresh database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL),
a client that carries the CSRF token like a browser would, and factories."""

from __future__ import annotations

import os

import pytest
from helpers import CSRFClient, Factory, empty_database, make_app
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

from app import create_app
from dugnad.extensions import db

# Hypothesis (tests/test_fuzz_forms.py): 200 examples per form in CI, derandomised so a
# failure there is the same failure here; fewer locally. HYPOTHESIS_PROFILE picks one.
_HYPOTHESIS = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", max_examples=200, derandomize=True, **_HYPOTHESIS)
settings.register_profile("dev", max_examples=30, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database, migrated to head once per run (which also proves the migrations).

    On PostgreSQL each run gets a schema of its own, so runs side by side never meet.
    """
    url = _database_url(tmp_path_factory)
    schema = None
    if url.startswith("postgresql"):
        schema = f"test_{os.getpid()}"
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        engine.dispose()
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    if schema:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_database(database_url)


@pytest.fixture
def client(app) -> CSRFClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)
