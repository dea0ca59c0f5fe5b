"""Run a benchmark on a temporary SQLite file, then on a scratch PostgreSQL database when
BENCH_POSTGRES_URL (default: the local server) is reachable; the scratch database is dropped."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import psycopg

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def on_both_databases(run: Callable[[str, str], None], name: str) -> None:
    """Call run(database_url, label) for SQLite and, if it answers, PostgreSQL."""
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.sqlite", "SQLite")
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        print(f"PostgreSQL at {POSTGRES} not reachable: skipped.")
        return
    database = f"{name}_{os.getpid()}"
    admin.execute(f"CREATE DATABASE {database}")
    try:
        base = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        run(f"{base}/{database}", "PostgreSQL")
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()
