"""The agreement lifecycle: every (state, action) pair, legal and illegal.

Each case starts from an Agreement row put straight into the database in the
given state, calls `apply_action`, and checks the row and the audit trail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dugnad import lifecycle
from dugnad.extensions import db
from dugnad.lifecycle import ACTIONS, STATES, TRANSITIONS, Actor, IllegalTransition, apply_action
from dugnad.models import Agreement, AgreementVersion, AuditEvent

ROOT = Path(__file__).resolve().parents[1]
ACTOR = Actor(label="Tester Testesen", ip="203.0.113.7", user_agent="pytest")
UNKNOWN_ACTION = "explode"
ALL_PAIRS = [(state, action) for state in STATES for action in (*ACTIONS, UNKNOWN_ACTION)]
LEGAL_PAIRS = sorted(TRANSITIONS)


def _pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-{pair[1]}"


def _make_agreement(app, factory, state: str) -> tuple[int, int]:
    """An agreement row in `state`, with a version (accepted/signed must name one).

    Returns (agreement id, version id).
    """
    municipality = factory.municipality()
    organization = factory.organization(municipality)
    with app.app_context():
        agreement = Agreement(
            municipality_id=municipality,
            organization_id=organization,
            number="2026-001",
            title="Samarbeid om flyktningguide",
        )
        db.session.add(agreement)
        db.session.flush()
        version = AgreementVersion(
            municipality_id=municipality,
            agreement_id=agreement.id,
            number=1,
            content={},
            html="<p>Avtale</p>",
            sha256="0" * 64,
        )
        db.session.add(version)
        db.session.flush()
        # Test setup only: put the row in the state under test, bypassing the lifecycle.
        accepted_version_id = version.id if state in ("accepted", "signed") else None
        db.session.execute(
            update(Agreement)
            .where(Agreement.id == agreement.id)
            .values(state=state, accepted_version_id=accepted_version_id)
        )
        db.session.commit()
        return agreement.id, version.id


def _stored(app, agreement_id: int) -> tuple[str, list[tuple]]:
    """The agreement's state in the database and its audit events, from a fresh session."""
    with app.app_context():
        state = db.session.scalar(select(Agreement.state).where(Agreement.id == agreement_id))
        events = [
            (e.action, e.from_state, e.to_state, e.actor_label, e.actor_user_id, e.ip, e.user_agent)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "agreement", AuditEvent.object_id == agreement_id)
                .order_by(AuditEvent.id)
            )
        ]
        return state, events


def _also(action: str, version_id: int) -> dict | None:
    # Accepting must name the accepted version (a check constraint), as agreements.accept does.
    return {"accepted_version_id": version_id} if action == "accept" else None


def test_the_table_covers_only_known_states_and_actions():
    for (state, action), to_state in TRANSITIONS.items():
        assert state in STATES
        assert to_state in STATES
        assert action in ACTIONS
    assert UNKNOWN_ACTION not in ACTIONS
    # A signed agreement can only be terminated; withdrawn and terminated are final.
    assert lifecycle.allowed_actions("signed") == ["terminate"]
    assert lifecycle.allowed_actions("withdrawn") == []
    assert lifecycle.allowed_actions("terminated") == []


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_every_state_and_action(app, factory, pair):
    state, action = pair
    agreement_id, version_id = _make_agreement(app, factory, state)
    expected = TRANSITIONS.get((state, action))

    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        assert lifecycle.can(agreement, action) is (expected is not None)
        if expected is None:
            with pytest.raises(IllegalTransition) as raised:
                apply_action(agreement, action, ACTOR, also=_also(action, version_id))
            assert (raised.value.state, raised.value.action) == (state, action)
            assert agreement.state == state
            db.session.commit()  # even a commit after the refusal changes nothing
        else:
            result = apply_action(agreement, action, ACTOR, details={"case": "test"}, also=_also(action, version_id))
            assert result == expected
            assert agreement.state == expected  # the loaded object follows the row
            db.session.commit()

    stored_state, events = _stored(app, agreement_id)
    if expected is None:
        assert stored_state == state
        assert events == []
    else:
        assert stored_state == expected
        assert events == [(action, state, expected, ACTOR.label, None, ACTOR.ip, ACTOR.user_agent)]
        with app.app_context():
            event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_id == agreement_id))
            assert event.details == {"case": "test"}
            if action == "accept":
                assert db.session.get(Agreement, agreement_id).accepted_version_id == version_id


@pytest.mark.parametrize("pair", LEGAL_PAIRS, ids=_pair_id)
def test_state_change_and_audit_event_share_the_transaction(app, factory, pair):
    """Rolled back, neither the new state nor its audit event remains."""
    state, action = pair
    agreement_id, version_id = _make_agreement(app, factory, state)
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        apply_action(agreement, action, ACTOR, also=_also(action, version_id))
        db.session.flush()
        # Inside the transaction both are visible ...
        assert db.session.scalar(select(Agreement.state).where(Agreement.id == agreement_id)) == TRANSITIONS[pair]
        assert db.session.scalar(select(func.count(AuditEvent.id))) == 1
        db.session.rollback()

    # ... and after the rollback neither is.
    assert _stored(app, agreement_id) == (state, [])


def test_stale_object_loses_to_the_committed_transition(app, factory):
    """Two sessions load a sent agreement; one accepts, the other withdraws from stale state."""
    agreement_id, version_id = _make_agreement(app, factory, "sent")
    withdrawer = Actor(label="Saksbehandler", ip="198.51.100.2")

    with app.app_context():  # the second request's session
        stale = db.session.get(Agreement, agreement_id)
        assert stale.state == "sent"

        with app.app_context():  # the first request, in its own session, wins
            assert db.session.get(Agreement, agreement_id) is not stale
            winner = db.session.get(Agreement, agreement_id)
            apply_action(winner, "accept", ACTOR, also={"accepted_version_id": version_id})
            db.session.commit()

        assert stale.state == "sent"  # still the old value in memory
        with pytest.raises(IllegalTransition) as raised:
            apply_action(stale, "withdraw", withdrawer)
        # The refusal names the state actually found, and the object is refreshed to it.
        assert raised.value.state == "accepted"
        assert stale.state == "accepted"
        db.session.rollback()

    state, events = _stored(app, agreement_id)
    assert state == "accepted"
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [("accept", "sent", "accepted", ACTOR.label)]


def test_a_repeated_action_on_the_same_object_is_refused(app, factory):
    """A double click in one session: the second send finds the agreement sent."""
    agreement_id, _version_id = _make_agreement(app, factory, "draft")
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        apply_action(agreement, "send", ACTOR)
        with pytest.raises(IllegalTransition):
            apply_action(agreement, "send", ACTOR)
        db.session.commit()
    state, events = _stored(app, agreement_id)
    assert state == "sent"
    assert len(events) == 1


# --- Nothing but lifecycle.py assigns Agreement.state --------------------------------

ALLOWED_FILES = {ROOT / "dugnad" / "lifecycle.py"}
#: Calls in which a `state=` keyword would set an agreement's state.
WRITING_CALLS = {"Agreement", "values", "insert", "update"}


def _state_writes(source: str) -> list[int]:
    """Line numbers where `source` may assign an agreement's state."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):  # also tuple targets: `a.state, b = ...`
                if isinstance(part, ast.Attribute) and part.attr == "state" and isinstance(part.ctx, ast.Store):
                    lines.append(node.lineno)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in WRITING_CALLS and any(k.arg == "state" for k in node.keywords):
                lines.append(node.lineno)
            # setattr(obj, "state", ...)
            if (
                name == "setattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "state"
            ):
                lines.append(node.lineno)
            # .values({"state": ...}) / update(...).values(**{"state": ...})
            if name in WRITING_CALLS:
                for arg in [*node.args, *(k.value for k in node.keywords if k.arg is None)]:
                    if isinstance(arg, ast.Dict) and any(
                        isinstance(key, ast.Constant) and key.value == "state" for key in arg.keys
                    ):
                        lines.append(node.lineno)
    return sorted(set(lines))


def test_the_scanner_finds_state_assignments():
    """The check below is only worth something if it catches the usual ways."""
    assert _state_writes("agreement.state = 'signed'") == [1]
    assert _state_writes("a.state, b = 'x', 1") == [1]
    assert _state_writes("Agreement(title='x', state='sent')") == [1]
    assert _state_writes("update(Agreement).values(state='sent')") == [1]
    assert _state_writes("update(Agreement).values({'state': 'sent'})") == [1]
    assert _state_writes("setattr(agreement, 'state', 'sent')") == [1]
    assert _state_writes("x = agreement.state\nif agreement.state == 'sent': pass") == []
    assert _state_writes("_l('Status %(state)s', state=label)") == []


def test_nothing_else_assigns_agreement_state():
    files = sorted(
        path
        for folder in ("dugnad", "blueprints")
        for path in (ROOT / folder).rglob("*.py")
        if path not in ALLOWED_FILES
    )
    files.append(ROOT / "app.py")
    assert len(files) > 10  # the tree was found
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in files
        for line in _state_writes(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "Agreement.state must change only through lifecycle.apply_action"
