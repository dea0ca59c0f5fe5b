"""The clause library: each municipality's default wording per section and language.

A municipality starts with the built-in wording (dugnad.sections.DEFAULT_CLAUSES);
administrators replace it section by section, in bokmål and nynorsk. New agreements
start from it; agreements already written keep their text.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import Clause
from .sections import DEFAULT_CLAUSES, SECTION_KEYS, TEXT_MAX


def library(municipality_id: int) -> dict[tuple[str, str], str]:
    """(section key, language) -> the wording a new agreement gets."""
    texts = {(key, language): text for key, by_language in DEFAULT_CLAUSES.items() for language, text in by_language.items()}
    for clause in db.session.scalars(select(Clause).where(Clause.municipality_id == municipality_id)):
        texts[(clause.section_key, clause.language)] = clause.text
    return texts


def customised(municipality_id: int) -> dict[tuple[str, str], Clause]:
    """The wording the municipality has changed, with who changed it and when."""
    return {
        (clause.section_key, clause.language): clause
        for clause in db.session.scalars(select(Clause).where(Clause.municipality_id == municipality_id))
    }


def save(municipality_id: int, key: str, language: str, text: str, user_id: int, actor: Actor) -> None:
    """Set the wording; the built-in text again means no row (so later improvements reach it)."""
    if key not in SECTION_KEYS or language not in ("nb", "nn") or len(text) > TEXT_MAX:
        raise ValueError((key, language))
    clause = db.session.scalar(
        select(Clause).where(
            Clause.municipality_id == municipality_id, Clause.section_key == key, Clause.language == language
        )
    )
    if text == (clause.text if clause is not None else DEFAULT_CLAUSES[key][language]):
        # Unchanged: the page saves both languages, but only a real change gets a new author and date.
        return
    if text == DEFAULT_CLAUSES[key][language]:
        if clause is not None:
            db.session.delete(clause)
    elif clause is None:
        db.session.add(Clause(municipality_id=municipality_id, section_key=key, language=language, text=text, updated_by_id=user_id))
    else:
        clause.text = text
        clause.updated_by_id = user_id
    db.session.flush()
    audit.record(municipality_id, actor, "edit_clause", "clause", 0, details={"section": key, "language": language})


def reset(municipality_id: int, key: str, actor: Actor) -> None:
    """Back to the built-in wording in both languages."""
    result = db.session.execute(delete(Clause).where(Clause.municipality_id == municipality_id, Clause.section_key == key))
    if not result.rowcount:
        return  # already the built-in wording: nothing happened worth an audit event
    audit.record(municipality_id, actor, "reset_clause", "clause", 0, details={"section": key})
