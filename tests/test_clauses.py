"""The clause library: administrators set each section's default wording per language;
new agreements of their municipality start from it, agreements already written keep theirs."""

from __future__ import annotations

import re

import pytest
from helpers import login
from markupsafe import escape
from sqlalchemy import func, select

from dugnad import agreements
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement, AuditEvent, Clause, Organization, User
from dugnad.sections import DEFAULT_CLAUSES, SECTIONS

PURPOSE_NB = "Kommunen og laget vil sammen gi nye innbyggere en god start i Testkommunen."
PURPOSE_NN = "Kommunen og laget vil saman gi nye innbyggjarar ein god start i Testkommunen."
CHANGED = re.compile(r"Endret av Anne Admin, \d\d\.\d\d\.\d{4} \d\d:\d\d \((CET|CEST), Europe/Oslo\)")


@pytest.fixture
def admin(client, factory):
    municipality = factory.municipality()
    client.municipality_id = municipality
    client.email = factory.user(municipality, "admin", name="Anne Admin")
    login(client, client.email)
    return client


def _new_agreement(app, organization_id: int, email: str, language: str) -> int:
    """A draft started the way the agreement pages start one."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        organization = db.session.get(Organization, organization_id)
        agreement = agreements.create_draft(organization, user, Actor(label=user.name, user_id=user.id), language=language)
        db.session.commit()
        return agreement.id


def _texts(app, agreement_id: int) -> dict[str, str]:
    with app.app_context():
        return {section.key: section.data["text"] for section in db.session.get(Agreement, agreement_id).sections}


def _clauses(app, municipality_id: int) -> dict[tuple[str, str], str]:
    with app.app_context():
        return {
            (clause.section_key, clause.language): clause.text
            for clause in db.session.scalars(select(Clause).where(Clause.municipality_id == municipality_id))
        }


def _audit(app, municipality_id: int) -> list[tuple[str, dict]]:
    with app.app_context():
        return [
            (event.action, event.details)
            for event in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.municipality_id == municipality_id, AuditEvent.object_type == "clause")
                .order_by(AuditEvent.id)
            )
        ]


def _save(client, key: str, nb: str, nn: str):
    return client.post(f"/admin/clauses/{key}", data={"nb": nb, "nn": nn, "action": "save"})


def test_the_library_lists_every_section_in_order_with_its_text(admin):
    page = admin.get("/admin/clauses").get_data(as_text=True)
    assert "<h1" in page and "Standardtekster for avtaler" in page
    assert "Avtaler som allerede er skrevet, sendt eller signert, beholder teksten de har." in page
    headings = re.findall(r'<h2 class="ds-heading" data-size="sm">([^<]+)</h2>', page)
    assert headings == [str(escape(str(section.title))) for section in SECTIONS]
    assert page.count('<p class="ds-paragraph muted">Standardtekst</p>') == len(SECTIONS)
    assert DEFAULT_CLAUSES["target_group"]["nb"] in page
    assert DEFAULT_CLAUSES["target_group"]["nn"] not in page  # the list shows bokmål
    # Each "Endre" link says which section it edits.
    assert (
        '<a class="ds-link" href="/admin/clauses/target_group">Endre<span class="visually-hidden">'
        " standardteksten for «Målgruppe»</span></a>"
    ) in page
    assert 'href="/admin/clauses">Standardtekster</a>' in page  # in the menu


def test_the_edit_page_shows_both_languages_the_limit_and_the_guidance(admin):
    response = admin.get("/admin/clauses/purpose")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<label class="ds-label" for="nb">Bokmål', page)
    assert re.search(r'<label class="ds-label" for="nn">Nynorsk', page)
    assert page.count("Høyst 5 000 tegn. La feltet stå tomt hvis avsnittet skal starte uten tekst.") == 2
    assert re.search(r'<textarea[^>]*id="nn"[^>]*lang="nn"|<textarea[^>]*lang="nn"[^>]*id="nn"', page)
    assert "Hvorfor samarbeider dere, og hva vil dere oppnå sammen?" in page  # the section's guidance
    assert f">\r\n{DEFAULT_CLAUSES['purpose']['nn']}</textarea>" in page
    assert "Tilbakestill til Dugnads standardtekst" not in page  # nothing to reset yet


def test_unknown_section_is_404(admin):
    assert admin.get("/admin/clauses/nonsense").status_code == 404
    assert admin.post("/admin/clauses/nonsense", data={"nb": "x", "nn": "y"}).status_code == 404


def test_new_agreements_start_from_the_edited_text_in_their_language(app, admin, factory):
    municipality = admin.municipality_id
    organization = factory.organization(municipality)
    earlier_nb = _new_agreement(app, organization, admin.email, "nb")
    earlier_nn = _new_agreement(app, organization, admin.email, "nn")

    response = _save(admin, "purpose", PURPOSE_NB, PURPOSE_NN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/clauses#clause-purpose")
    page = admin.get("/admin/clauses").get_data(as_text=True)
    assert "Standardtekstene for «Bakgrunn og formål» er lagret." in page
    assert CHANGED.search(page) and PURPOSE_NB in page

    nb = _texts(app, _new_agreement(app, organization, admin.email, "nb"))
    nn = _texts(app, _new_agreement(app, organization, admin.email, "nn"))
    assert nb["purpose"] == PURPOSE_NB and nn["purpose"] == PURPOSE_NN
    assert (nb["target_group"], nn["target_group"]) == (DEFAULT_CLAUSES["target_group"]["nb"], DEFAULT_CLAUSES["target_group"]["nn"])
    # Agreements already started keep the wording they were written with.
    assert _texts(app, earlier_nb)["purpose"] == DEFAULT_CLAUSES["purpose"]["nb"]
    assert _texts(app, earlier_nn)["purpose"] == DEFAULT_CLAUSES["purpose"]["nn"]
    assert _audit(app, municipality) == [
        ("edit_clause", {"section": "purpose", "language": "nb"}),
        ("edit_clause", {"section": "purpose", "language": "nn"}),
    ]

    # The edit page shows the saved wording and who changed it.
    page = admin.get("/admin/clauses/purpose").get_data(as_text=True)
    assert f">\r\n{PURPOSE_NN}</textarea>" in page and CHANGED.search(page)


def test_only_the_language_changed_is_saved(app, admin):
    assert _save(admin, "insurance", "Laget har egen forsikring.", DEFAULT_CLAUSES["insurance"]["nn"]).status_code == 302
    assert _clauses(app, admin.municipality_id) == {("insurance", "nb"): "Laget har egen forsikring."}
    assert _audit(app, admin.municipality_id) == [("edit_clause", {"section": "insurance", "language": "nb"})]
    # Saving again without a change is no new change (no author, date or audit event).
    assert _save(admin, "insurance", "Laget har egen forsikring.", DEFAULT_CLAUSES["insurance"]["nn"]).status_code == 302
    assert len(_audit(app, admin.municipality_id)) == 1


def test_an_empty_text_means_the_section_starts_empty(app, admin, factory):
    assert _save(admin, "premises", "", "   ").status_code == 302
    assert _clauses(app, admin.municipality_id) == {("premises", "nb"): "", ("premises", "nn"): ""}
    agreement = _new_agreement(app, factory.organization(admin.municipality_id), admin.email, "nn")
    assert _texts(app, agreement)["premises"] == ""
    assert "Ingen tekst: avsnittet starter tomt." in admin.get("/admin/clauses").get_data(as_text=True)


def test_text_is_cleaned_of_stray_spaces_and_control_characters(app, admin):
    assert _save(admin, "meetings", "  Vi møtes\x00 hver\x07 høst.\r\nOg vår.  ", "Vi møtest.").status_code == 302
    assert _clauses(app, admin.municipality_id)[("meetings", "nb")] == "Vi møtes hver høst.\nOg vår."


@pytest.mark.parametrize(
    ("language", "field", "message"),
    [("nb", "Bokmål", "Teksten på bokmål kan ha høyst 5 000 tegn."), ("nn", "Nynorsk", "Teksten på nynorsk kan ha høyst 5 000 tegn.")],
)
def test_too_long_a_text_is_refused_and_nothing_is_saved(app, admin, language, field, message):
    data = {"nb": PURPOSE_NB, "nn": PURPOSE_NN, language: "x" * 5001}
    response = admin.post("/admin/clauses/purpose", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<a class="ds-link" href="#{language}">{field}: {message}</a>' in page  # the error summary
    assert f'id="{language}-error">{message}</div>' in page
    assert re.search(rf'<textarea[^>]*aria-invalid="true"[^>]*id="{language}"', page)
    assert "x" * 5001 in page  # what was typed is not lost
    assert _clauses(app, admin.municipality_id) == {}
    assert _audit(app, admin.municipality_id) == []
    # Exactly the limit is fine.
    assert admin.post("/admin/clauses/purpose", data={**data, language: "x" * 5000}).status_code == 302


def test_unknown_action_is_400(app, admin):
    assert admin.post("/admin/clauses/purpose", data={"nb": "x", "nn": "y", "action": "delete"}).status_code == 400
    assert _clauses(app, admin.municipality_id) == {}


def test_reset_restores_the_built_in_text_after_confirming(app, admin, factory):
    municipality = admin.municipality_id
    assert _save(admin, "disputes", "Vi ringer hverandre.", "Vi ringjer kvarandre.").status_code == 302
    page = admin.get("/admin/clauses/disputes").get_data(as_text=True)
    assert re.search(
        r'<form method="get" action="/admin/clauses/disputes">\s*<input type="hidden" name="reset" value="1">\s*'
        r'<button[^>]*>Tilbakestill til Dugnads standardtekst</button>',
        page,
    )

    # A post that has not been confirmed asks first, and changes nothing.
    response = admin.post("/admin/clauses/disputes", data={"action": "reset"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/clauses/disputes?reset=1")
    assert len(_clauses(app, municipality)) == 2
    confirm = admin.get("/admin/clauses/disputes?reset=1").get_data(as_text=True)
    assert "Tilbakestille «Tvister»?" in confirm
    assert DEFAULT_CLAUSES["disputes"]["nn"] in confirm  # what it will be
    assert '<input type="hidden" name="confirm" value="1">' in confirm
    assert 'name="action" value="reset">Ja, tilbakestill</button>' in confirm
    assert 'name="nb"' not in confirm  # the confirmation, not the form
    assert len(_clauses(app, municipality)) == 2

    response = admin.post("/admin/clauses/disputes", data={"action": "reset", "confirm": "1"})
    assert response.status_code == 302
    assert _clauses(app, municipality) == {}
    assert _audit(app, municipality)[-1] == ("reset_clause", {"section": "disputes"})
    # Resetting what is already the built-in wording changes nothing, and records nothing.
    assert admin.post("/admin/clauses/disputes", data={"action": "reset", "confirm": "1"}).status_code == 302
    assert _audit(app, municipality).count(("reset_clause", {"section": "disputes"})) == 1
    page = admin.get("/admin/clauses").get_data(as_text=True)
    assert "«Tvister» bruker Dugnads standardtekst igjen." in page
    assert not CHANGED.search(page)
    agreement = _new_agreement(app, factory.organization(municipality), admin.email, "nb")
    assert _texts(app, agreement)["disputes"] == DEFAULT_CLAUSES["disputes"]["nb"]


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_others_get_403_and_change_nothing(app, client, factory, role):
    municipality = factory.municipality()
    login(client, factory.user(municipality if role == "staff" else None, role))
    if role == "staff":
        assert 'href="/admin/clauses"' not in client.get("/organizations/").get_data(as_text=True)
    assert client.get("/admin/clauses").status_code == 403
    assert client.get("/admin/clauses/purpose").status_code == 403
    assert client.get("/admin/clauses/purpose?reset=1").status_code == 403
    assert client.post("/admin/clauses/purpose", data={"nb": "Kapret", "nn": "Kapra"}).status_code == 403
    assert client.post("/admin/clauses/purpose", data={"action": "reset", "confirm": "1"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Clause.id))) == 0


def test_each_municipality_has_its_own_library(app, admin, factory):
    assert _save(admin, "purpose", PURPOSE_NB, PURPOSE_NN).status_code == 302
    other = factory.municipality()
    other_email = factory.user(other, "admin", name="Bjørn Bjørkvik")
    other_admin = app.test_client()
    login(other_admin, other_email)

    page = other_admin.get("/admin/clauses").get_data(as_text=True)
    assert PURPOSE_NB not in page and "Anne Admin" not in page
    assert DEFAULT_CLAUSES["purpose"]["nb"] in page
    assert PURPOSE_NN not in other_admin.get("/admin/clauses/purpose").get_data(as_text=True)
    for language in ("nb", "nn"):
        agreement = _new_agreement(app, factory.organization(other), other_email, language)
        assert _texts(app, agreement)["purpose"] == DEFAULT_CLAUSES["purpose"][language]

    # B's change and B's reset leave A's library alone.
    assert _save(other_admin, "purpose", "Bjørkviks formål.", "Bjørkvik sitt formål.").status_code == 302
    assert other_admin.post("/admin/clauses/purpose", data={"action": "reset", "confirm": "1"}).status_code == 302
    assert _clauses(app, admin.municipality_id) == {("purpose", "nb"): PURPOSE_NB, ("purpose", "nn"): PURPOSE_NN}
    assert _clauses(app, other) == {}


def test_html_in_the_text_is_shown_escaped(app, admin):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert _save(admin, "evaluation", hostile, hostile).status_code == 302
    for url in ("/admin/clauses", "/admin/clauses/evaluation"):
        page = admin.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, url
        assert str(escape(hostile)) in page, url
