"""Agreement versions: each as sent, the readable difference between two, and a
countersignature that names the version the organisation accepted."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from helpers import PASSWORD, CSRFClient, link_in, login, outbox
from sqlalchemy import func, select

from dugnad import agreements as ops
from dugnad.diff import Change, Run, collapsed, compare, content_sections, section_lines
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import Agreement, Organization, Signature, SignedDocument, User
from dugnad.sections import SECTION_KEYS, normalize

ORG_EMAIL = "leder@leksehjelp.example.no"
HOSTILE = "<script>alert('x')</script>"

# --- Content as a version stores it ----------------------------------------------------


def _content(**sections) -> dict:
    """A version's content: every section blank unless given."""
    return {
        "title": "Samarbeidsavtale om leksehjelp",
        "number": "2026-001",
        "language": "nb",
        "parties": {
            "municipality": {"name": "Surnadal kommune", "org_number": "939901965", "address": "Rådhuset"},
            "organization": {"name": "Surnadal Røde Kors", "org_number": "", "address": "Storgata 1, 6650 Surnadal"},
        },
        "sections": {key: normalize(key, sections.get(key)) for key in SECTION_KEYS},
    }


def _changed(diffs, key):
    return next(d for d in diffs if d.key == key)


def _runs(diff, kind) -> list[str]:
    return [token.text for token in diff.tokens if token.kind == kind]


ROW = {"area_id": "3", "area": "Leksehjelp", "what": "Leksehjelp", "where": "Biblioteket", "how_often": "Tirsdager", "leader": "Kari"}


def test_added_and_removed_words_are_marked():
    old = _content(purpose={"text": "Vi vil samarbeide om leksehjelp for barn."})
    new = _content(purpose={"text": "Vi vil samarbeide tett om leksehjelp for unge."})
    purpose = _changed(compare(old, new), "purpose")
    assert purpose.status == Change.CHANGED
    assert _runs(purpose, Run.INSERTED) == ["tett ", "unge."]
    assert _runs(purpose, Run.DELETED) == ["barn."]
    # The runs put together give back each side exactly, spaces included.
    assert "".join(t.text for t in purpose.tokens if t.kind != Run.INSERTED) == "Vi vil samarbeide om leksehjelp for barn."
    assert "".join(t.text for t in purpose.tokens if t.kind != Run.DELETED) == "Vi vil samarbeide tett om leksehjelp for unge."


def test_line_breaks_are_kept_and_a_new_line_is_marked():
    old = _content(purpose={"text": "Første avsnitt.\n\nAndre avsnitt."})
    new = _content(purpose={"text": "Første avsnitt.\n\nAndre avsnitt.\nEn ny linje."})
    purpose = _changed(compare(old, new), "purpose")
    assert _runs(purpose, Run.INSERTED) == ["\nEn ny linje."]
    assert _runs(purpose, Run.EQUAL) == ["Første avsnitt.\nAndre avsnitt."]


def test_unchanged_sections_are_detected_and_grouped():
    text = {"text": "Kontaktpersonene møtes to ganger i året."}
    old = _content(purpose={"text": "Før"}, meetings=text, disputes={"text": "Drøftinger."})
    new = _content(purpose={"text": "Etter"}, meetings=text, disputes={"text": "Drøftinger."})
    diffs = compare(old, new)
    statuses = {d.key: d.status for d in diffs}
    assert statuses["title"] == statuses["parties"] == statuses["meetings"] == statuses["disputes"] == Change.UNCHANGED
    assert statuses["purpose"] == Change.CHANGED
    # Blank in both: not in the document, not in the comparison.
    assert "premises" not in statuses and "insurance" not in statuses
    assert [d.key for d in diffs] == ["title", "parties", "purpose", "meetings", "disputes"]  # document order
    assert [(unchanged, [d.key for d in group]) for unchanged, group in collapsed(diffs)] == [
        (True, ["title", "parties"]), (False, ["purpose"]), (True, ["meetings", "disputes"]),
    ]
    assert not any(d.changed for d in compare(old, copy.deepcopy(old)))


def test_added_removed_sections_and_title():
    old = _content(premises={"text": "Lokalene er gratis."})
    new = _content(insurance={"text": "Organisasjonen forsikrer de frivillige."})
    new["title"] = "Samarbeidsavtale om leksehjelp og språkkafé"
    diffs = {d.key: d for d in compare(old, new)}
    assert diffs["premises"].status == Change.REMOVED
    assert _runs(diffs["premises"], Run.DELETED) == ["Lokalene er gratis."]
    assert diffs["insurance"].status == Change.ADDED
    assert _runs(diffs["insurance"], Run.INSERTED) == ["Organisasjonen forsikrer de frivillige."]
    assert diffs["title"].status == Change.CHANGED
    assert _runs(diffs["title"], Run.INSERTED) == [" og språkkafé"]


def test_an_activity_row_change_shows():
    old = _content(activities={"text": "", "rows": [ROW]})
    cafe = {**ROW, "what": "Språkkafé", "area": "Språk", "where": "Kulturhuset", "leader": "Per"}
    new = _content(activities={"text": "", "rows": [{**ROW, "where": "Skolen"}, cafe]})
    activities = _changed(compare(old, new), "activities")
    assert activities.status == Change.CHANGED
    assert "".join(_runs(activities, Run.DELETED)).strip() == "Biblioteket"
    inserted = "".join(_runs(activities, Run.INSERTED))
    assert "Skolen" in inserted and "Språkkafé (Språk)" in inserted
    assert section_lines("activities", new["sections"]["activities"]) == [
        "Aktivitet: Leksehjelp · Hvor: Skolen · Hvor ofte: Tirsdager · Hvem leder: Kari",
        "Aktivitet: Språkkafé (Språk) · Hvor: Kulturhuset · Hvor ofte: Tirsdager · Hvem leder: Per",
    ]


def test_an_amount_change_shows_as_kroner():
    old = _content(economy={"text": "", "grant": "12500.00", "payment_schedule": "", "reporting": ""})
    new = _content(economy={"text": "", "grant": "15000.50", "payment_schedule": "", "reporting": ""})
    economy = _changed(compare(old, new), "economy")
    assert economy.status == Change.CHANGED
    # Whole amounts, as the document writes them (no-break spaces inside).
    assert _runs(economy, Run.DELETED) == ["kr\u00a012\u00a0500"]
    assert _runs(economy, Run.INSERTED) == ["kr\u00a015\u00a0000,50"]


def test_structured_fields_read_as_lines():
    contacts = normalize("contacts", {
        "municipality_name": "Anne Admin", "municipality_role": "Rådgiver", "municipality_email": "anne@kommune.no",
        "organization_name": "Kari Nordmann", "organization_phone": "99 99 99 99", "text": "Si fra ved bytte.",
    })
    assert section_lines("contacts", contacts) == [
        "Kommunens kontaktperson: Anne Admin, Rådgiver, anne@kommune.no",
        "Organisasjonens kontaktperson: Kari Nordmann, 99 99 99 99",
        "Si fra ved bytte.",
    ]
    duration = {"text": "", "start": "2027-01-01", "end": "2027-12-31", "notice_months": "3"}
    assert section_lines("duration", duration) == [
        "Avtalen gjelder fra 01.01.2027 til og med 31.12.2027.", "Oppsigelsestiden er 3 måneder.",
    ]
    assert section_lines("evaluation", {"text": "", "interval_months": "6"}) == ["Samarbeidet evalueres hver 6. måned."]
    parties = {"text": "", "municipality_signatory": "Ola Ordfører", "municipality_signatory_title": "ordfører", "place": "Surnadal"}
    lines = section_lines("parties", parties, parties=_content()["parties"])
    assert lines == [
        "Surnadal kommune, Organisasjonsnummer: 939901965, Rådhuset",
        "Signeres av Ola Ordfører, ordfører",
        "Surnadal Røde Kors, Storgata 1, 6650 Surnadal",
        "Sted: Surnadal",
    ]


def test_older_content_shape_is_read():
    """Versions sent before sections had fields: plain strings at the top level."""
    old = {"title": "Avtale om flyktningguide", "purpose": "Gode lokalsamfunn.", "economy": "Tilskudd kr 12 500.",
           "valid_from": "2026-01-01", "valid_to": ""}
    sections = content_sections(old)
    assert sections["purpose"] == {"text": "Gode lokalsamfunn."}
    assert sections["duration"]["start"] == "2026-01-01"
    assert section_lines("purpose", "Gode lokalsamfunn.\nFor alle.") == ["Gode lokalsamfunn.", "For alle."]

    new = _content(purpose={"text": "Gode lokalsamfunn for alle."}, economy={"text": "Tilskudd kr 12 500."})
    new["title"] = "Avtale om flyktningguide"
    diffs = {d.key: d for d in compare(old, new)}
    assert diffs["title"].status == Change.UNCHANGED
    assert diffs["economy"].status == Change.UNCHANGED
    assert diffs["purpose"].status == Change.CHANGED
    assert _runs(diffs["purpose"], Run.DELETED) == ["lokalsamfunn."]
    assert _runs(diffs["purpose"], Run.INSERTED) == ["lokalsamfunn for alle."]
    assert diffs["duration"].status == Change.REMOVED
    assert diffs["parties"].status == Change.ADDED
    # Nothing at all, or nonsense, is an empty document rather than an error.
    assert compare(None, {}) == []
    assert compare({"sections": "x", "purpose": 7}, {"sections": {"purpose": None}}) == []


# --- An agreement taken through its versions in the domain ----------------------------

COMPLETE = {
    "parties": {
        "municipality_signatory": "Ola Ordfører", "municipality_signatory_title": "ordfører",
        "organization_signatory": "Kari Nordmann", "organization_signatory_role": "styreleder", "place": "Surnadal",
    },
    "purpose": {"text": "Vi vil samarbeide om leksehjelp for barn."},
    "activities": {"text": "", "rows": [ROW]},
    "contacts": {"municipality_name": "Anne Admin", "municipality_email": "anne@kommune.example.no",
                 "organization_name": "Kari Nordmann", "organization_email": ORG_EMAIL},
    "economy": {"grant": "12500.00", "payment_schedule": "I januar.", "reporting": "Innen 1. mars."},
    "duration": {"start": "2027-01-01", "notice_months": "3"},
}


@dataclass
class Case:
    municipality_id: int
    admin: str
    staff: str
    agreement_id: int


def _actor(user: User) -> Actor:
    return Actor(label=user.name, user_id=user.id, ip="203.0.113.9", user_agent="pytest")


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def save_sections(agreement: Agreement, user: User, changes: dict[str, dict]) -> None:
    """Write sections as a user would, each marked complete."""
    for key, values in changes.items():
        data = {**normalize(key, agreement.section(key).data), **values}
        ops.save_section(agreement, key, data, revision=None, complete=True, explicit=True, user=user, actor=_actor(user))


def complete_agreement(app, factory, title: str = "Samarbeidsavtale om leksehjelp") -> Case:
    """A draft with every section complete (the required ones filled in), not sent."""
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    staff = factory.user(municipality, "staff", name="Sara Saksbehandler")
    organization_id = factory.organization(municipality, name="Surnadal Røde Kors", email=ORG_EMAIL)
    with app.app_context():
        user = _user(staff)
        agreement = ops.create_draft(db.session.get(Organization, organization_id), user, _actor(user), title=title)
        save_sections(agreement, user, {key: COMPLETE.get(key, {}) for key in SECTION_KEYS})
        db.session.commit()
        return Case(municipality, admin, staff, agreement.id)


def send(app, case: Case) -> str:
    """Send the draft; the link the organisation was emailed."""
    with app.app_context():
        user = _user(case.staff)
        ops.send(db.session.get(Agreement, case.agreement_id), _actor(user))
        db.session.commit()
    return link_in(outbox(app, to=ORG_EMAIL)[-1])


def revise(app, case: Case, changes: dict[str, dict]) -> None:
    """Back to draft after the organisation's answer, and edit it."""
    with app.app_context():
        user = _user(case.staff)
        agreement = db.session.get(Agreement, case.agreement_id)
        ops.revise(agreement, _actor(user))
        save_sections(agreement, user, changes)
        db.session.commit()


ACCEPT = {
    "action": "accept", "accept-name": "Kari Nordmann", "accept-role": "styreleder", "accept-authority": "y",
    "accept-signature": "Kari Nordmann",
}
CHANGES = {"action": "request_changes", "changes-reason": "Vi vil gjerne ha større tilskudd."}
SECOND = {
    "purpose": {"text": f"Vi vil samarbeide tett om leksehjelp for barn. {HOSTILE}"},
    "activities": {"rows": [{**ROW, "where": "Skolen"}]},
    "economy": {"grant": "15000.50"},
}


def answer(app, link: str, data: dict) -> None:
    """The organisation answers through its emailed link, as in its browser."""
    visitor = app.test_client()
    assert visitor.post(link, data=data).status_code == 302


def two_versions(app, factory) -> Case:
    """Version 1 sent, changes asked for, the draft edited and sent again as version 2."""
    case = complete_agreement(app, factory)
    answer(app, send(app, case), CHANGES)
    revise(app, case, SECOND)
    send(app, case)
    return case


def _fingerprints(app, agreement_id: int) -> dict[int, str]:
    with app.app_context():
        return {v.number: v.sha256 for v in db.session.get(Agreement, agreement_id).versions}


def _page(response, status: int = 200) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:3000]
    return page


# --- The pages -------------------------------------------------------------------------------


def test_version_page_shows_the_document_as_sent(app, client, factory):
    case = two_versions(app, factory)
    fingerprints = _fingerprints(app, case.agreement_id)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}/versions/1"))
    assert "Versjon 1 av avtale" in page
    assert fingerprints[1] in page and 'class="fingerprint"' in page
    assert "Vi vil samarbeide om leksehjelp for barn." in page  # version 1's text, not the draft's
    assert "(CET, Europe/Oslo)" in page or "(CEST, Europe/Oslo)" in page  # the time it was sent
    assert f'href="/agreements/{case.agreement_id}"' in page

    page = _page(client.get(f"/agreements/{case.agreement_id}/versions/2"))
    assert fingerprints[2] in page
    assert "&lt;script&gt;alert(" in page and HOSTILE not in page  # escaped when it was rendered
    assert f"/agreements/{case.agreement_id}/compare?from=1&amp;to=2" in page

    _page(client.get(f"/agreements/{case.agreement_id}/versions/3"), 404)
    _page(client.get(f"/agreements/{case.agreement_id}/versions/0"), 404)
    _page(client.get(f"/agreements/{case.agreement_id}/versions/99999999999999999999"), 404)


def test_compare_two_versions_after_a_request_for_changes(app, client, factory):
    case = two_versions(app, factory)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare", query_string={"from": "1", "to": "2"}))
    assert "Endringer fra versjon 1 til versjon 2" in page
    # Marked in words for screen readers, not by colour alone.
    assert '<ins><span class="visually-hidden">Lagt til: </span>tett </ins>' in page
    assert '<del><span class="visually-hidden">Fjernet: </span>kr\u00a012\u00a0500</del>' in page
    assert '<ins><span class="visually-hidden">Lagt til: </span>kr\u00a015\u00a0000,50</ins>' in page
    assert "Biblioteket</del>" in page and "Skolen</ins>" in page
    # The hostile text the staff typed is shown as text, never run.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    # Unchanged sections are one line; changed ones have a heading and a tag in words.
    assert "Uendret:" in page and "Målgruppe" in page
    assert '<h3 class="ds-heading" data-size="sm" id="diff-purpose">Bakgrunn og formål <span class="ds-tag" data-color="warning">Endret</span></h3>' in page
    assert 'id="diff-target_group"' not in page
    # The form, with both versions chosen, works as a plain GET.
    assert '<form method="get"' in page and '<label class="ds-label" for="from">' in page
    assert '<option selected value="1">' in page and '<option selected value="2">' in page


def test_compare_defaults_to_the_two_newest_and_the_draft(app, client, factory):
    case = two_versions(app, factory)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare"))
    assert "Endringer fra versjon 1 til versjon 2" in page

    # A version against the draft being written.
    answer(app, link_in(outbox(app, to=ORG_EMAIL)[-1]), CHANGES)
    revise(app, case, {"disputes": {"text": "Uenighet løses i et møte mellom partene."}})
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare"))
    assert "Endringer fra versjon 2 til gjeldende utkast" in page
    assert '<ins><span class="visually-hidden">Lagt til: </span>i et møte</ins>' in page
    assert "Uendret: Tittel; Parter og signatarer;" in page
    assert '<option selected value="draft">Gjeldende utkast</option>' in page


def test_compare_with_one_version_says_so(app, client, factory):
    case = complete_agreement(app, factory)
    send(app, case)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare"))
    assert "Avtalen har bare én versjon ennå." in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "1"}, "Velg hva du vil sammenligne med."),
        ({"to": "2"}, "Velg hva du vil sammenligne fra."),
        ({"from": "", "to": "2"}, "Velg hva du vil sammenligne fra."),
        ({"from": "én", "to": "2"}, "Velg en versjon fra listen."),
        ({"from": "1", "to": "²"}, "Velg en versjon fra listen."),
        ({"from": "-1", "to": "2"}, "Velg en versjon fra listen."),
        ({"from": "draft", "to": "2"}, "Avtalen har ikke noe utkast nå."),
        ({"from": HOSTILE, "to": "2"}, "Velg en versjon fra listen."),
    ],
)
def test_bad_compare_parameters_are_400_with_a_message(app, client, factory, query, message):
    case = two_versions(app, factory)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare", query_string=query), 400)
    assert message in page
    assert 'id="error-summary"' in page and 'class="ds-validation-message"' in page
    assert "<script>alert" not in page
    assert "Endringer fra" not in page


@pytest.mark.parametrize("query", [{"from": "1", "to": "3"}, {"from": "99999999999999999999", "to": "1"}, {"from": "0", "to": "1"}])
def test_unknown_version_in_compare_is_404(app, client, factory, query):
    case = two_versions(app, factory)
    login(client, case.staff)
    _page(client.get(f"/agreements/{case.agreement_id}/compare", query_string=query), 404)


def test_another_municipality_sees_neither_versions_nor_differences(app, client, factory):
    case = two_versions(app, factory)
    other = factory.municipality("Annen kommune")
    login(client, factory.user(other, "admin"))
    for url in (
        f"/agreements/{case.agreement_id}/versions/1",
        f"/agreements/{case.agreement_id}/compare?from=1&to=2",
        f"/agreements/{case.agreement_id}/compare",
    ):
        page = _page(client.get(url), 404)
        assert "Fant ikke siden" in page and "leksehjelp" not in page


def test_agreement_page_links_versions_and_offers_to_compare(app, client, factory):
    case = two_versions(app, factory)
    fingerprints = _fingerprints(app, case.agreement_id)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}"))
    for number in (1, 2):
        assert f'href="/agreements/{case.agreement_id}/versions/{number}"' in page
        assert fingerprints[number] in page
    assert f'action="/agreements/{case.agreement_id}/compare"' in page
    assert '<label class="ds-label" for="compare-from">Sammenlign fra</label>' in page
    assert '<label class="ds-label" for="compare-to">Sammenlign med</label>' in page
    assert '<option value="1" selected>' in page and '<option value="2" selected>' in page


def test_agreement_page_offers_a_version_against_the_new_draft(app, client, factory):
    case = complete_agreement(app, factory)
    answer(app, send(app, case), CHANGES)
    revise(app, case, {"purpose": {"text": "Nytt formål."}})
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}"))
    assert '<option value="1" selected>' in page
    assert '<option value="draft" selected>Gjeldende utkast</option>' in page
    page = _page(client.get(f"/agreements/{case.agreement_id}/compare", query_string={"from": "1", "to": "draft"}))
    assert '<ins><span class="visually-hidden">Lagt til: </span>Nytt formål.</ins>' in page


def test_agreement_page_with_one_version_offers_no_comparison(app, client, factory):
    case = complete_agreement(app, factory)
    send(app, case)
    login(client, case.staff)
    page = _page(client.get(f"/agreements/{case.agreement_id}"))
    assert f'href="/agreements/{case.agreement_id}/versions/1"' in page
    assert "/compare" not in page


# --- Countersigning names the accepted version --------------------------------------------


def _accepted(app, factory) -> tuple[Case, dict[int, str]]:
    case = two_versions(app, factory)
    answer(app, link_in(outbox(app, to=ORG_EMAIL)[-1]), ACCEPT)
    return case, _fingerprints(app, case.agreement_id)


def _signed_by_municipality(app, agreement_id: int) -> tuple[str, int, int]:
    with app.app_context():
        state = db.session.get(Agreement, agreement_id).state
        signatures = db.session.scalar(
            select(func.count(Signature.id)).where(Signature.agreement_id == agreement_id, Signature.party == "municipality")
        )
        documents = db.session.scalar(select(func.count(SignedDocument.id)).where(SignedDocument.agreement_id == agreement_id))
        return state, signatures, documents


CHANGED_SINCE = "Avtalen er endret siden du åpnet siden. Se over versjonen organisasjonen godtok, og signer på nytt."


def test_countersign_form_names_the_accepted_fingerprint(app, client, factory):
    case, fingerprints = _accepted(app, factory)
    login(client, case.admin)
    page = _page(client.get(f"/agreements/{case.agreement_id}"))
    assert f'<input type="hidden" name="version_sha256" value="{fingerprints[2]}">' in page
    assert f'<span class="fingerprint">{fingerprints[2]}</span>' in page
    form = page[page.index(f'action="/agreements/{case.agreement_id}/countersign"'):]
    assert form.index(fingerprints[2]) < form.index("Signer avtalen")  # shown above the button
    assert f'href="/agreements/{case.agreement_id}/versions/2"' in form


@pytest.mark.parametrize("fingerprint", ["missing", "empty", "other version", "made up"])
def test_countersign_with_another_fingerprint_is_refused(app, client: CSRFClient, factory, fingerprint):
    case, fingerprints = _accepted(app, factory)
    login(client, case.admin)
    data = {"role": "Kommunedirektør", "password": PASSWORD}
    if fingerprint != "missing":
        data["version_sha256"] = {"empty": "", "other version": fingerprints[1], "made up": "0" * 64}[fingerprint]
    page = _page(client.post(f"/agreements/{case.agreement_id}/countersign", data=data), 409)
    assert CHANGED_SINCE in page
    assert f'<input type="hidden" name="version_sha256" value="{fingerprints[2]}">' in page  # to sign again
    assert _signed_by_municipality(app, case.agreement_id) == ("accepted", 0, 0)

    # The same with htmx: the panel, with the message, in place.
    response = client.post(f"/agreements/{case.agreement_id}/countersign", data=data, headers={"HX-Request": "true"})
    fragment = _page(response, 409)
    assert fragment.lstrip().startswith('<section class="status-panel') and CHANGED_SINCE in fragment
    assert _signed_by_municipality(app, case.agreement_id) == ("accepted", 0, 0)


def test_countersign_signs_the_accepted_fingerprint_only(app, client, factory):
    case, fingerprints = _accepted(app, factory)
    login(client, case.admin)
    refused = client.post(
        f"/agreements/{case.agreement_id}/countersign",
        data={"role": "Kommunedirektør", "version_sha256": fingerprints[1], "password": PASSWORD},
    )
    assert refused.status_code == 409
    response = client.post(
        f"/agreements/{case.agreement_id}/countersign",
        data={"role": "Kommunedirektør", "version_sha256": fingerprints[2], "password": PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _signed_by_municipality(app, case.agreement_id) == ("signed", 1, 1)
    with app.app_context():
        signature = db.session.scalar(select(Signature).where(Signature.party == "municipality"))
        assert signature.version_sha256 == fingerprints[2]
        assert signature.version.number == 2
