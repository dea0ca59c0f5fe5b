"""A readable difference between two versions of an agreement, section by section.

Each section is read as plain text lines (what the document says, in words: labels
and values, one activity per line), and two versions are compared word by word.
Pure functions over `AgreementVersion.content` dicts; no request is needed.

Versions sent before the sections had fields stored each section as a plain string
at the top level of the content; they are read as if that string were the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from difflib import SequenceMatcher

from flask_babel import lazy_gettext as _l

from .money import format_nok
from .sections import SECTION_KEYS, SECTIONS, is_blank


class Change:
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


class Run:
    EQUAL = "equal"
    INSERTED = "inserted"
    DELETED = "deleted"


@dataclass(frozen=True)
class Token:
    """A run of text that is in both versions, only in the newer, or only in the older."""

    kind: str
    text: str


@dataclass(frozen=True)
class SectionDiff:
    key: str
    title: object  # a lazy string
    status: str
    tokens: tuple[Token, ...]

    @property
    def changed(self) -> bool:
        return self.status != Change.UNCHANGED


#: The pseudo-section holding the agreement's title, shown before the sections.
TITLE_KEY = "title"
TITLE_LABEL = _l("Tittel")


# --- A section as lines of text -------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _paragraph_lines(text: str) -> list[str]:
    return [line.rstrip() for line in _text(text).replace("\r\n", "\n").split("\n") if line.strip()]


def _labelled(label, value: str) -> list[str]:
    """'Label: first line', then the value's further lines as they are."""
    lines = _paragraph_lines(value)
    if not lines:
        return []
    return [f"{label}: {lines[0]}", *lines[1:]]


def _joined(*parts) -> str:
    return ", ".join(part for part in (_text(p).strip() for p in parts) if part)


def _date(iso: str) -> str:
    """'2027-01-31' -> '31.01.2027'; text that is no date stays as written."""
    try:
        return date.fromisoformat(iso).strftime("%d.%m.%Y")
    except (TypeError, ValueError):
        return _text(iso)


def _amount(stored: str) -> str:
    try:
        return format_nok(stored)
    except (InvalidOperation, ValueError):
        return _text(stored)


def _party_lines(party: dict) -> list[str]:
    if not isinstance(party, dict) or not party.get("name"):
        return []
    number = _text(party.get("org_number"))
    return [_joined(
        party.get("name"),
        f"{_l('Organisasjonsnummer')}: {number}" if number else "",
        party.get("address"),
    )]


def _parties(data: dict, parties: dict | None) -> list[str]:
    parties = parties if isinstance(parties, dict) else {}
    lines = []
    for side, name_field, role_field in (
        ("municipality", "municipality_signatory", "municipality_signatory_title"),
        ("organization", "organization_signatory", "organization_signatory_role"),
    ):
        lines += _party_lines(parties.get(side))
        if _text(data.get(name_field)).strip():
            lines.append(str(_l(
                "Signeres av %(name)s, %(role)s", name=_text(data[name_field]), role=_text(data.get(role_field))
            )))
    if _text(data.get("place")).strip():
        lines.append(str(_l("Sted: %(place)s", place=_text(data["place"]))))
    return lines


def _activity(row: dict) -> str:
    what, area = _text(row.get("what")).strip(), _text(row.get("area")).strip()
    heading = f"{what} ({area})" if area and area != what else (what or area)
    parts = [f"{_l('Aktivitet')}: {heading}"]
    for name, label in (("where", _l("Hvor")), ("how_often", _l("Hvor ofte")), ("leader", _l("Hvem leder"))):
        value = _text(row.get(name)).strip()
        if value:
            parts.append(f"{label}: {value}")
    return " · ".join(parts)


def _contacts(data: dict) -> list[str]:
    lines = []
    for side, label in (
        ("municipality", _l("Kommunens kontaktperson")),
        ("organization", _l("Organisasjonens kontaktperson")),
    ):
        person = _joined(*(data.get(f"{side}_{name}") for name in ("name", "role", "email", "phone")))
        if person:
            lines.append(f"{label}: {person}")
    return lines


def _economy(data: dict) -> list[str]:
    lines = []
    if _text(data.get("grant")).strip():
        lines.append(str(_l("Tilskudd: %(amount)s", amount=_amount(data["grant"]))))
    lines += _labelled(_l("Utbetaling"), data.get("payment_schedule"))
    lines += _labelled(_l("Rapportering"), data.get("reporting"))
    return lines


def _evaluation(data: dict) -> list[str]:
    months = _text(data.get("interval_months")).strip()
    if not months:
        return []
    if months == "12":
        return [str(_l("Samarbeidet evalueres én gang i året."))]
    return [str(_l("Samarbeidet evalueres hver %(n)s. måned.", n=months))]


def _duration(data: dict) -> list[str]:
    lines = []
    start, end = _text(data.get("start")).strip(), _text(data.get("end")).strip()
    if start and end:
        lines.append(str(_l("Avtalen gjelder fra %(start)s til og med %(end)s.", start=_date(start), end=_date(end))))
    elif start:
        lines.append(str(_l("Avtalen gjelder fra %(start)s og løper til den blir sagt opp.", start=_date(start))))
    elif end:
        lines.append(str(_l("Avtalen gjelder til og med %(end)s.", end=_date(end))))
    notice = _text(data.get("notice_months")).strip()
    if notice == "0":
        lines.append(str(_l("Avtalen har ingen oppsigelsestid.")))
    elif notice == "1":
        lines.append(str(_l("Oppsigelsestiden er én måned.")))
    elif notice:
        lines.append(str(_l("Oppsigelsestiden er %(n)s måneder.", n=notice)))
    return lines


def section_lines(key: str, data: dict | str | None, parties: dict | None = None) -> list[str]:
    """The section as readable plain text lines, in the document's order: its fields
    ("Label: value", one activity per line), then the text, a line per line.

    `parties` is the content's registry data about both parties (names, numbers,
    addresses), which the parties section shows above the signatories.
    """
    # Not normalised: a field an older version lacks stays absent rather than
    # reading as its default, which that version's document never said.
    if isinstance(data, str):
        data = {"text": data}
    elif not isinstance(data, dict):
        data = {}
    if key == "parties":
        lines = _parties(data, parties)
    elif key == "activities":
        lines = [_activity(row) for row in data.get("rows") or [] if isinstance(row, dict)]
    elif key == "contacts":
        lines = _contacts(data)
    elif key == "economy":
        lines = _economy(data)
    elif key == "evaluation":
        lines = _evaluation(data)
    elif key == "duration":
        lines = _duration(data)
    else:
        lines = []
    return lines + _paragraph_lines(data.get("text"))


# --- Reading a version's content ------------------------------------------------------


def content_sections(content: dict | None) -> dict[str, dict]:
    """{key: data} of every section the content has, older shapes included."""
    content = content if isinstance(content, dict) else {}
    raw = content.get("sections")
    if not isinstance(raw, dict):
        # Before sections had fields: plain strings at the top level, dates apart.
        raw = {key: content[key] for key in SECTION_KEYS if key in content}
        if content.get("valid_from") or content.get("valid_to"):
            duration = raw.get("duration")
            duration = {"text": duration} if isinstance(duration, str) else dict(duration or {})
            duration.setdefault("start", _text(content.get("valid_from")))
            duration.setdefault("end", _text(content.get("valid_to")))
            raw["duration"] = duration
    sections = {}
    for key in SECTION_KEYS:
        value = raw.get(key)
        if isinstance(value, str):
            value = {"text": value}
        if isinstance(value, dict):
            sections[key] = value
    return sections


def _document_lines(content: dict | None) -> dict[str, list[str]]:
    """{key: lines} of what the document shows, title first; sections the document
    leaves out (blank) are absent, as in `templates/agreements/_document.html`."""
    content = content if isinstance(content, dict) else {}
    lines = {}
    title = _text(content.get("title")).strip()
    if title:
        lines[TITLE_KEY] = [title]
    parties = content.get("parties")
    for key, data in content_sections(content).items():
        if key == "parties" or not is_blank(key, data):
            lines[key] = section_lines(key, data, parties=parties)
    return lines


# --- Comparing ---------------------------------------------------------------------------

# Words, runs of spaces, and line breaks apart: a changed word never swallows the
# line break next to it, and the marked runs keep the text's own spacing. A no-break
# space belongs to its word, so "kr 12 500" changes as one amount.
_TOKENS = re.compile(r"\n|[ \t\r\f\v]+|[^ \t\r\f\v\n]+")


def _words(lines: list[str]) -> list[str]:
    return _TOKENS.findall("\n".join(lines))


def _merge(tokens: list[Token]) -> tuple[Token, ...]:
    merged: list[Token] = []
    for token in tokens:
        if not token.text:
            continue
        if merged and merged[-1].kind == token.kind:
            merged[-1] = Token(token.kind, merged[-1].text + token.text)
        else:
            merged.append(token)
    return tuple(merged)


def word_diff(old: list[str], new: list[str]) -> tuple[Token, ...]:
    """Runs of equal, deleted and inserted text, word by word; a replaced run reads
    as its deleted words, then its inserted ones."""
    a, b = _words(old), _words(new)
    # [equal?, old text, new text] per stretch of the matcher's opcodes.
    stretches: list[list] = [
        [op == "equal", "".join(a[a1:a2]), "".join(b[b1:b2])]
        for op, a1, a2, b1, b2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    ]
    # A lone space between two changes would chop one rewritten phrase into
    # alternating scraps; it reads better as part of the change.
    for index in range(1, len(stretches) - 1):
        stretch = stretches[index]
        if stretch[0] and not stretch[1].strip(" ") and not stretches[index - 1][0] and not stretches[index + 1][0]:
            stretch[0] = False
    merged: list[list] = []
    for stretch in stretches:
        if merged and not merged[-1][0] and not stretch[0]:
            merged[-1][1] += stretch[1]
            merged[-1][2] += stretch[2]
        else:
            merged.append(stretch)
    # The matcher may take a word with the space before it (" tett"); a word with
    # the space after it ("tett ") reads as the word that was added.
    for index in range(1, len(merged) - 1):
        stretch, following = merged[index], merged[index + 1]
        side = 1 if not stretch[2] else 2 if not stretch[1] else 0
        space = re.match(r"[ \t]+", stretch[side]) if side and not stretch[0] and merged[index - 1][0] else None
        if space and following[0] and following[1].startswith(space.group()):
            width = len(space.group())
            merged[index - 1][1] += stretch[side][:width]
            merged[index - 1][2] += stretch[side][:width]
            stretch[side] = stretch[side][width:] + following[1][:width]
            following[1] = following[2] = following[1][width:]
    tokens = []
    for equal, before, after in merged:
        if equal:
            tokens.append(Token(Run.EQUAL, before))
        else:
            tokens += [Token(Run.DELETED, before), Token(Run.INSERTED, after)]
    return _merge(tokens)


def compare(content_a: dict | None, content_b: dict | None) -> list[SectionDiff]:
    """How `content_b` differs from `content_a` (the older), in document order:
    the title, then every section that either version shows."""
    old, new = _document_lines(content_a), _document_lines(content_b)
    titles = {TITLE_KEY: TITLE_LABEL, **{section.key: section.title for section in SECTIONS}}
    result = []
    for key in (TITLE_KEY, *SECTION_KEYS):
        if key not in old and key not in new:
            continue
        before, after = old.get(key, []), new.get(key, [])
        if key not in new:
            status = Change.REMOVED
        elif key not in old:
            status = Change.ADDED
        elif before == after:
            status = Change.UNCHANGED
        else:
            status = Change.CHANGED
        result.append(SectionDiff(key, titles[key], status, word_diff(before, after)))
    return result


def collapsed(diffs: list[SectionDiff]) -> list[tuple[bool, list[SectionDiff]]]:
    """Consecutive unchanged sections grouped, for one "Unchanged: …" line each run:
    [(unchanged, [diffs])] in document order."""
    groups: list[tuple[bool, list[SectionDiff]]] = []
    for diff in diffs:
        if not diff.changed and groups and groups[-1][0]:
            groups[-1][1].append(diff)
        else:
            groups.append((not diff.changed, [diff]))
    return groups
