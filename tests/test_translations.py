"""The English and nynorsk catalogues cover every string in the source, and the app serves them.

If a test here fails after you added or changed a user-facing string: run
`make extract-messages`, translate the new entries in translations/en and
translations/nn (messages.po), then `make translations` to compile them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ("en", "nn")
# What `make extract-messages` passes besides Babel's default keywords (-k _l).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
# Not part of the app: the virtualenv, the tests, the migrations, caches.
SKIPPED_DIRS = {".venv", "venv", "tests", "migrations", "node_modules", "instance"}

# printf-style placeholders as Python's % operator reads them: %(name)s, %(num)d, %s.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?([diouxXeEfFgGcrsa%])")


def _keep_dir(path: str) -> bool:
    name = Path(path).name
    return name not in SKIPPED_DIRS and not name.startswith((".", "_"))


@cache
def source_messages() -> dict[tuple, list[str]]:
    """Every msgid in the source, as babel.cfg maps it: {(msgid, context): ["file:line", ...]}."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_keep_dir
    ):
        if isinstance(message, (list, tuple)):
            message = tuple(message)
            if not all(message):  # ngettext with a non-literal argument
                continue
        found.setdefault((message, context), []).append(f"{filename}:{lineno}")
    return found


@cache
def catalogue(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=locale)


def placeholders(text: str) -> list[tuple[str, str]]:
    return sorted((name or "", kind) for name, kind in PLACEHOLDER.findall(text) if kind != "%")


def test_extraction_finds_python_and_template_strings():
    """Guards the other tests: an extraction that silently finds nothing would pass them."""
    files = {where.rsplit(":", 1)[0] for wheres in source_messages().values() for where in wheres}
    assert any(name.endswith(".py") for name in files)
    assert any(name.startswith("templates/") and name.endswith(".html") for name in files)
    assert any(name.startswith("templates/") and name.endswith(".txt") for name in files)
    assert len(source_messages()) > 100


@pytest.mark.parametrize("locale", LOCALES)
def test_every_source_string_is_translated(locale):
    catalog = catalogue(locale)
    missing = []
    for (msgid, context), wheres in source_messages().items():
        entry = catalog.get(msgid, context)
        if isinstance(msgid, tuple):
            ok = (
                entry is not None
                and isinstance(entry.id, tuple)
                and tuple(entry.id) == msgid
                and isinstance(entry.string, tuple)
                and len(entry.string) == catalog.num_plurals
                and all(entry.string)
            )
        else:
            ok = entry is not None and not isinstance(entry.id, tuple) and bool(entry.string)
        if not ok or entry.fuzzy:  # pybabel compile leaves fuzzy entries out
            shown = msgid[0] if isinstance(msgid, tuple) else msgid
            missing.append(f"  {shown!r}  ({wheres[0]})")
    assert not missing, (
        f"{len(missing)} string(s) have no {locale} translation. Run `make extract-messages`, "
        f"translate them in translations/{locale}/LC_MESSAGES/messages.po, then `make translations`:\n"
        + "\n".join(sorted(missing))
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders(locale):
    wrong = []
    for entry in catalogue(locale):
        if not entry.id:
            continue  # the header
        if isinstance(entry.id, tuple):
            expected = placeholders(entry.id[1])
            pairs = list(entry.string) if isinstance(entry.string, tuple) else [entry.string]
        else:
            expected = placeholders(entry.id)
            pairs = [entry.string]
        for string in pairs:
            if string and placeholders(string) != expected:
                wrong.append(f"  {entry.id!r}\n    -> {string!r}")
    assert not wrong, (
        f"These {locale} translations do not have the same placeholders as the source "
        "(keep every %(name)s exactly as written):\n" + "\n".join(wrong)
    )


@pytest.mark.parametrize(
    "locale, expected, not_expected",
    [
        ("nb", ["Logg inn", "For ansatte i kommunen"], []),
        ("en", ["Log in", "For municipal staff", "Email address"], ["Logg inn", "For ansatte"]),
        ("nn", ["Logg inn", "For tilsette i kommunen", "Organisasjonar treng ikkje konto"], ["For ansatte"]),
    ],
)
def test_login_page_in_the_chosen_language(client, locale, expected, not_expected):
    po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if po.exists():
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo.relative_to(ROOT)} is missing or older than its .po: run `make translations`."
        )

    response = client.post("/language", data={"lang": locale, "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")

    page = client.get("/login").get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    for text in expected:
        assert text in page
    for text in not_expected:
        assert text not in page
