"""Writes the register files in this folder (run it after changing the rows below).

Made-up entities of Surnadal (kommunenummer 1566) and one of Trondheim (5001); the
organisation numbers are invented but pass the MOD11 check. Each file holds a row
for every case the importer tells apart; tests/test_import.py names them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent

IDRETTSLAG = "999100007"
FRIVILLIGSENTRAL = "999100015"
RODE_KORS = "999100023"  # registered in the test's registry already: an update
SLETTET = "999100031"
KONKURS = "999100058"
AVVIKLING = "999100066"
TRONDHEIM = "999100074"
SJAKKLUBB = "999100082"
KOR = "999100090"


def entity(number, name, kommune="1566", address=None, postal=None, **extra):
    data = {"organisasjonsnummer": number, "navn": name,
            "organisasjonsform": {"kode": "FLI", "beskrivelse": "Forening/lag/innretning"}}
    if address is not False:
        data["forretningsadresse"] = address or {
            "land": "Norge", "landkode": "NO", "postnummer": "6650", "poststed": "SURNADAL",
            "adresse": ["Øragata 3"], "kommune": "SURNADAL", "kommunenummer": kommune,
        }
    if postal:
        data["postadresse"] = postal
    data.update({"registrertIFrivillighetsregisteret": False, "konkurs": False, "underAvvikling": False,
                 "underTvangsavviklingEllerTvangsopplosning": False})
    data.update(extra)
    return data


ENTITIES = [
    entity(IDRETTSLAG, "SURNADAL IDRETTSLAG", naeringskode1={"kode": "93.120", "beskrivelse": "Idrettslag og -klubber"},
           registrertIFrivillighetsregisteret=True, epostadresse="post@surnadal-il.example.no",
           hjemmeside="www.surnadal-il.example.no", telefon="71 66 00 01"),
    # Only a postal address: the municipality comes from it.
    entity(FRIVILLIGSENTRAL, "Surnadal Frivilligsentral", address=False, postal={
        "land": "Norge", "landkode": "NO", "postnummer": "6650", "poststed": "SURNADAL",
        "adresse": ["Postboks 12", "Skulvegen 1"], "kommune": "SURNADAL", "kommunenummer": "1566"},
        epostadresse="frivilligsentral@surnadal.example.no"),
    entity(RODE_KORS, "SURNADAL RØDE KORS", epostadresse="post@surnadal-rodekors.example.no", telefon="71 66 00 02"),
    entity("123456789", "Feilnummer Velforening"),
    entity(SJAKKLUBB, ""),
    entity(IDRETTSLAG, "SURNADAL IDRETTSLAG (DOBBEL)"),
    entity(SLETTET, "Nedlagt Husflidslag", slettedato="2023-05-01"),
    entity(KONKURS, "Konkurs Kafé AS", konkurs=True),
    entity(AVVIKLING, "Avviklet Korps", underAvvikling=True),
    entity(TRONDHEIM, "Trondheim Sjakklubb", kommune="5001"),
    entity(KOR, "Surnadal Mannskor", naeringskode1={"kode": "90.012", "beskrivelse": "Utøvende kunstnere"}),
]

CSV_HEADERS = [
    "organisasjonsnummer", "navn", "organisasjonsform.kode", "organisasjonsform.beskrivelse",
    "naeringskode1.kode", "naeringskode1.beskrivelse", "epostadresse", "hjemmeside", "telefon",
    "postadresse.adresse", "postadresse.poststed", "postadresse.postnummer", "postadresse.kommune",
    "postadresse.kommunenummer", "postadresse.land", "postadresse.landkode",
    "forretningsadresse.adresse", "forretningsadresse.poststed", "forretningsadresse.postnummer",
    "forretningsadresse.kommune", "forretningsadresse.kommunenummer", "forretningsadresse.land",
    "forretningsadresse.landkode", "registrertIFrivillighetsregisteret", "konkurs", "underAvvikling",
    "underTvangsavviklingEllerTvangsopplosning", "slettedato",
]


def flat(data: dict) -> dict:
    row = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                row[f"{key}.{inner}"] = ", ".join(v) if isinstance(v, list) else v
        else:
            row[key] = value
    return {h: ("true" if row.get(h) is True else "false" if row.get(h) is False else row.get(h, "")) for h in CSV_HEADERS}


def write_enhetsregisteret_csv(path: Path, entities) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, CSV_HEADERS, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for data in entities:
            writer.writerow(flat(data))


PLAIN = [
    ["navn", "organisasjonsnummer", "adresse", "postnummer", "poststed", "e-post", "telefon", "nettside", "kontaktperson", "kommunenummer"],
    ["Språkkafeen på biblioteket", "", "Biblioteket, Øragata 5", "6650", "Surnadal", "sprakkafe@example.no", "", "", "Kari Nordmann", ""],
    ["Surnadal Røde Kors", "999 100 023", "", "", "", "leder@surnadal-rodekors.example.no", "", "", "", "1566"],
    ["Leksehjelpen", "", "", "", "", "", "900 00 001", "", "", ""],
    ["Sjakklubben", "12345678", "", "", "", "", "", "", "", ""],
    ["", "999100082", "Et sted", "", "", "", "", "", "", ""],
    ["Surnadal Idrettslag", "999100007", "Øragata 3", "6650", "Surnadal", "", "", "", "", ""],
    ["Surnadal idrettslag", "999100007", "", "", "", "", "", "", "", ""],
    ["Språkkafeen på Biblioteket", "", "", "", "", "", "", "", "", ""],
    ["Trondheim Sjakklubb", "999100074", "", "", "", "", "", "", "", "5001"],
]


def main() -> None:
    (HERE / "enhetsregisteret.json").write_text(json.dumps(ENTITIES, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    write_enhetsregisteret_csv(HERE / "enhetsregisteret.csv", ENTITIES)
    with (HERE / "plain.csv").open("w", encoding="utf-8-sig", newline="") as out:  # Excel's "CSV UTF-8" has a BOM
        csv.writer(out, delimiter=";").writerows(PLAIN)
    english = ["name", "org_number", "address", "postal_code", "city", "email", "phone", "website", "contact_name"]
    with (HERE / "plain_comma.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([english, *[row[:9] for row in PLAIN[1:]]])
    with (HERE / "latin1.csv").open("w", encoding="cp1252", newline="") as out:  # Excel's "CSV (semikolonseparert)"
        csv.writer(out, delimiter=";").writerows([
            ["Navn", "Orgnr", "Poststed", "E-post"],
            ["Bøfjorden Sjakklubb", "999100082", "Surnadal", "sjakk@example.no"],
            ["Ærlig Talt Språkkafé", "", "Surnadal", ""],
            ["Ugyldig Øvelseslag", "999100083", "", ""],
        ])
    (HERE / "not_a_csv.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


if __name__ == "__main__":
    main()
