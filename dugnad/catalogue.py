"""The activity catalogue every municipality starts with (from the domain notes).

Municipalities rename, hide and add entries; these are only the seed.
"""

from __future__ import annotations

from sqlalchemy import func, select

from . import audit
from .extensions import db
from .lifecycle import Actor
from .models import ActivityArea

DEFAULT_ACTIVITY_AREAS = (
    "Flyktningguide / flyktningvenn",
    "Språkkafé / norsktrening",
    "Leksehjelp",
    "Idrett",
    "Friluftsliv / turgrupper",
    "Kultur (korps, kor, musikk, kunst)",
    "Utlån av utstyr (BUA)",
    "Velkomstarrangement og møteplasser",
    "Barn og familie (lekekafé, ferieaktiviteter)",
    "Ungdom",
    "Svømmeopplæring",
    "Arbeidstrening og mentorordning",
    "Informasjon og veiledning",
    "Beredskap og mottak",
    "Annet",
)


# --- Administrators change the catalogue ------------------------------------------------
#: The longest name an area may have (the column's width).
NAME_MAX = 120


def areas(municipality_id: int) -> list[ActivityArea]:
    """Every entry of the municipality's catalogue, hidden ones too, in order."""
    return db.session.scalars(
        select(ActivityArea)
        .where(ActivityArea.municipality_id == municipality_id)
        .order_by(ActivityArea.position, ActivityArea.id)
    ).all()


def name_taken(municipality_id: int, name: str, except_id: int | None = None) -> bool:
    """Whether another entry has this name, ignoring case ('Leksehjelp' = 'leksehjelp')."""
    statement = select(ActivityArea.id).where(
        ActivityArea.municipality_id == municipality_id,
        func.lower(ActivityArea.name) == name.strip().lower(),
    )
    if except_id is not None:
        statement = statement.where(ActivityArea.id != except_id)
    return db.session.scalar(statement.limit(1)) is not None


def add_area(municipality_id: int, name: str, actor: Actor) -> ActivityArea:
    """A new entry, last in the list."""
    last = db.session.scalar(
        select(func.max(ActivityArea.position)).where(ActivityArea.municipality_id == municipality_id)
    )
    area = ActivityArea(municipality_id=municipality_id, name=name.strip(), position=(last or 0) + 1)
    db.session.add(area)
    db.session.flush()
    audit.record(municipality_id, actor, "create", "activity_area", area.id, details={"name": area.name})
    return area


def rename_area(area: ActivityArea, name: str, actor: Actor) -> None:
    old = area.name
    area.name = name.strip()
    db.session.flush()
    audit.record(area.municipality_id, actor, "rename", "activity_area", area.id, details={"from": old, "to": area.name})


def set_hidden(area: ActivityArea, hidden: bool, actor: Actor) -> None:
    """Hide an entry from new records (old records keep it), or show it again."""
    area.hidden = hidden
    db.session.flush()
    audit.record(area.municipality_id, actor, "hide" if hidden else "show", "activity_area", area.id)


def move_area(area: ActivityArea, step: int, actor: Actor) -> None:
    """Swap with the neighbour above (step -1) or below (+1); numbers positions 0..n-1."""
    ordered = areas(area.municipality_id)
    index = ordered.index(area)
    target = index + step
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, entry in enumerate(ordered):
        entry.position = position
    db.session.flush()
    audit.record(area.municipality_id, actor, "move", "activity_area", area.id, details={"position": target})
