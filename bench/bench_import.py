"""How long importing an Enhetsregisteret file takes, and whether memory grows with the file.

Run with `make bench`. A script, not a test: figures vary with the machine.
Goal: a 5,000-row Enhetsregisteret CSV read, previewed and imported in 5 s or less.

Files are generated in a temporary folder: 5,000 rows all of the municipality, then
national-style files where the same 5,000 rows are mixed with rows of other
municipalities (50,000 and 200,000 rows; gzipped JSON too). Peak memory while
reading is measured with tracemalloc (a separate run, since tracing slows Python).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_login import login_user  # noqa: E402
from stdnum.no import orgnr  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.imports.routes import _preview_page  # noqa: E402
from dugnad import accounts, importer  # noqa: E402
from dugnad.extensions import db  # noqa: E402
from dugnad.lifecycle import Actor  # noqa: E402
from dugnad.models import Organization  # noqa: E402

KOMMUNE = "1566"
KEPT = 5_000
HEADERS = [
    "organisasjonsnummer", "navn", "organisasjonsform.kode", "organisasjonsform.beskrivelse",
    "naeringskode1.kode", "naeringskode1.beskrivelse", "epostadresse", "hjemmeside", "telefon",
    "postadresse.adresse", "postadresse.poststed", "postadresse.postnummer", "postadresse.kommune",
    "postadresse.kommunenummer", "forretningsadresse.adresse", "forretningsadresse.poststed",
    "forretningsadresse.postnummer", "forretningsadresse.kommune", "forretningsadresse.kommunenummer",
    "registrertIFrivillighetsregisteret", "konkurs", "underAvvikling", "slettedato",
]


def numbers():
    """Valid organisation numbers, in order."""
    n = 800_000_000
    while True:
        n += 1
        if orgnr.is_valid(str(n)):
            yield str(n)


def entities(total: int):
    """`total` entities, KEPT of them in the municipality, spread evenly through the file."""
    step = total // KEPT
    for i, number in zip(range(total), numbers(), strict=False):
        own = i % step == 0 and i // step < KEPT
        yield {
            "organisasjonsnummer": number,
            "navn": f"{'SURNADAL' if own else 'ANNET'} LAG NR {i}",
            "organisasjonsform": {"kode": "FLI", "beskrivelse": "Forening/lag/innretning"},
            "naeringskode1": {"kode": "94.991", "beskrivelse": "Aktiviteter i andre interesseorganisasjoner"},
            "epostadresse": f"post{i}@lag.example.no",
            "hjemmeside": f"www.lag{i}.example.no",
            "telefon": "71 66 00 00",
            "forretningsadresse": {
                "adresse": [f"Storgata {i % 200 + 1}"], "poststed": "SURNADAL" if own else "OSLO",
                "postnummer": "6650" if own else "0150", "kommune": "SURNADAL" if own else "OSLO",
                "kommunenummer": KOMMUNE if own else "0301",
            },
            "registrertIFrivillighetsregisteret": True, "konkurs": False, "underAvvikling": False,
        }


def write_csv(path: Path, total: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADERS)
        for e in entities(total):
            a = e["forretningsadresse"]
            writer.writerow([
                e["organisasjonsnummer"], e["navn"], "FLI", "Forening/lag/innretning", "94.991", "Aktiviteter",
                e["epostadresse"], e["hjemmeside"], e["telefon"], "", "", "", "", "",
                ", ".join(a["adresse"]), a["poststed"], a["postnummer"], a["kommune"], a["kommunenummer"],
                "true", "false", "false", "",
            ])


def write_json_gz(path: Path, total: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("[")
        for i, e in enumerate(entities(total)):
            out.write(("," if i else "") + json.dumps(e, ensure_ascii=False))
        out.write("]")


def read(path: Path) -> tuple[importer.ReadResult, float]:
    start = time.perf_counter()
    with path.open("rb") as stream:
        result = importer.read_file(stream, KOMMUNE)
    return result, time.perf_counter() - start


def peak_memory(path: Path) -> float:
    tracemalloc.start()
    with path.open("rb") as stream:
        importer.read_file(stream, KOMMUNE)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024 / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {
            "5,000-row CSV (all kept)": (folder / "5k.csv", KEPT, write_csv),
            "50,000-row CSV (5,000 kept)": (folder / "50k.csv", 50_000, write_csv),
            "200,000-row CSV (5,000 kept)": (folder / "200k.csv", 200_000, write_csv),
            "200,000-entity JSON .gz (5,000 kept)": (folder / "200k.json.gz", 200_000, write_json_gz),
        }
        for path, total, write in files.values():
            write(path, total)

        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite", "SECRET_KEY": "bench", "SERVER_NAME": "localhost"})
        with app.app_context(), app.test_request_context():
            db.create_all()
            municipality = accounts.create_municipality("Surnadal kommune", KOMMUNE, "939901965")
            user = accounts.create_user(municipality.id, "admin@example.no", "Anne Admin", "admin", "x" * 12)
            db.session.commit()
            actor = Actor(label="Anne Admin", user_id=user.id, ip="127.0.0.1")

            print(f"{'file':40} {'size':>9} {'read':>8} {'peak memory':>12}")
            for label, (path, _total, _write) in files.items():
                result, seconds = read(path)
                assert len(result.rows) == KEPT, (label, len(result.rows))
                size = path.stat().st_size / 1024 / 1024
                print(f"{label:40} {size:7.1f} MB {seconds:6.2f} s {peak_memory(path):9.1f} MB")

            path = files["5,000-row CSV (all kept)"][0]
            start = time.perf_counter()
            result, read_seconds = read(path)
            registry_import = importer.create_import(municipality.id, user.id, path.name, result)
            db.session.commit()
            stored = time.perf_counter()
            plan = importer.plan_import(registry_import)
            login_user(user)
            page, _status = _preview_page(registry_import)  # the page staff see, with its tables
            planned = time.perf_counter()
            summary = importer.apply_import(registry_import, actor)
            db.session.commit()
            applied = time.perf_counter()
            assert (summary.added, len(plan.to_add)) == (KEPT, KEPT)
            print()
            print(f"5,000-row CSV, first import: read {read_seconds:.2f} s, store {stored - start - read_seconds:.2f} s, "
                  f"preview page {planned - stored:.2f} s ({len(page) / 1024:.0f} KiB), import {applied - planned:.2f} s; "
                  f"total {applied - start:.2f} s (goal ≤ 5 s)")

            # The same file again: everything is matched, nothing is written twice.
            start = time.perf_counter()
            result, _ = read(path)
            again = importer.create_import(municipality.id, user.id, path.name, result)
            db.session.commit()
            plan = importer.plan_import(again)
            summary = importer.apply_import(again, actor)
            db.session.commit()
            seconds = time.perf_counter() - start
            count = db.session.scalar(db.select(db.func.count(Organization.id)))
            print(f"5,000-row CSV, again: {summary.added} added, {summary.unchanged} unchanged, "
                  f"{count} organisations in all; {seconds:.2f} s")
            print(f"kept rows stored for the preview: {len(registry_import.data) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
