"""Every action the app writes to the audit trail has a readable label: the labels are shown
in the agreement's history, the audit log page, a contact's export page and the signed PDF's
audit-trail page, where a raw key like "countersign_password_failed" has no place."""

from __future__ import annotations

import ast
from pathlib import Path

from dugnad.ui import ACTION_LABELS

ROOT = Path(__file__).resolve().parent.parent


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets if isinstance(target, ast.Name)
    }


def _recorded_actions() -> set[str]:
    """The action (third argument) of every audit.record(...) call in the app's code: a
    string, a module constant, or either side of a conditional."""
    actions = set()
    for path in [*ROOT.glob("dugnad/*.py"), *ROOT.glob("blueprints/**/*.py")]:
        tree = ast.parse(path.read_text())
        constants = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "record" and len(node.args) >= 3:
                action = node.args[2]
                for part in (action.body, action.orelse) if isinstance(action, ast.IfExp) else (action,):
                    if isinstance(part, ast.Constant):
                        actions.add(part.value)
                    elif isinstance(part, ast.Name) and part.id in constants:
                        actions.add(constants[part.id])
    return actions


def test_every_recorded_action_has_a_label():
    actions = _recorded_actions()
    assert {"countersign_password_failed", "hide", "show", "cancel"} <= actions  # the scan finds them
    assert actions - ACTION_LABELS.keys() == set()
