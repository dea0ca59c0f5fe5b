"""CSRF: every POST route refuses a post without a valid token, and changes nothing.

The POST routes come from the url_map; each is posted a form that would succeed
with the token (real objects of the user's own municipality, real emailed links),
so the refusal is the token's doing.
"""

from __future__ import annotations

import hashlib
import io
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD, login
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter, UnicodeConverter
from world import ACCEPT, URL_WORDS, SharedWorlds, meeting_form, section_form, snapshot, write_agreement

from app import create_app
from dugnad import seal
from dugnad.extensions import db
from dugnad.models import Agreement, Organization

POST_RULES = [
    rule
    for rule in create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).url_map.iter_rules()
    if "POST" in rule.methods
]

WORLD = "Dalvik"


def _token_args(rule) -> list[str]:
    # A word such as a section key is not a token (URL_WORDS gives its value).
    return [arg for arg, converter in rule._converters.items() if isinstance(converter, UnicodeConverter) and arg not in URL_WORDS]


def _int_args(rule) -> list[str]:
    return [arg for arg, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]


#: For every POST route: who posts, and a form that would be accepted with a token.
#: A POST route missing here fails its test: add it.
POSTS = {
    "auth.login": (None, lambda w: {"email": w.admin, "password": "correct horse battery staple"}),
    "auth.language": ("admin", lambda w: {"lang": "en", "next": "/"}),
    "auth.logout": ("admin", lambda w: {}),
    "auth.forgot_password": (None, lambda w: {"email": w.staff}),
    "auth.accept_invite": (None, lambda w: {"password": "a new long password", "confirm": "a new long password"}),
    "auth.reset_password": (None, lambda w: {"password": "a new long password", "confirm": "a new long password"}),
    "auth.change_password": ("staff", lambda w: {"current": PASSWORD, "password": "a new long password", "confirm": "a new long password"}),
    "admin.reinvite": ("admin", lambda w: {}),
    "organizations.new": ("staff", lambda w: {"name": "Nytt lag", "contacts-0-name": "Per", "contacts-0-email": "per@lag.no"}),
    "organizations.edit": ("staff", lambda w: {"name": "Endret navn"}),
    "organizations.delete": ("staff", lambda w: {}),
    "organizations.restore": ("staff", lambda w: {}),
    "imports.upload": ("staff", lambda w: {"file": (io.BytesIO(b"navn\nNytt lag\n"), "lag.csv")}),
    "imports.apply": ("staff", lambda w: {}),
    "meetings.new": ("staff", lambda w: meeting_form("Nytt møte")),
    "meetings.invite_organizations": ("staff", lambda w: {"organizations": [str(w.other_organization_id)]}),
    "meetings.edit": ("staff", lambda w: {**meeting_form("Endret møte", place="Et annet sted"), "version": "1"}),
    "meetings.cancel": ("staff", lambda w: {}),
    "meetings.remind": ("staff", lambda w: {}),
    "meetings.record_attendance": ("staff", lambda w: {"notes": "Referat", "version": "1"}),
    "meetings.start_agreement": ("staff", lambda w: {"organization_id": str(w.organization_id)}),
    "agreements.create": ("staff", lambda w: {"organization_id": str(w.other_organization_id)}),
    "agreements.details": ("staff", lambda w: {"title": "Endret avtale", "language": "nn"}),
    "agreements.section": ("staff", lambda w: section_form("purpose", text="Endret formål")),
    "agreements.preview_section": ("staff", lambda w: section_form("purpose", text="Endret formål")),
    "agreements.send": ("staff", lambda w: {}),
    "agreements.withdraw": ("staff", lambda w: {}),
    "agreements.revise": ("staff", lambda w: {}),
    "agreements.resend": ("staff", lambda w: {}),
    "agreements.countersign": ("admin", lambda w: {"role": "Kommunedirektør", "version_sha256": w.accepted_sha256, "password": PASSWORD}),
    "agreements.case_reference": ("staff", lambda w: {"case_reference": "2026/1234"}),
    "agreements.terminate": ("admin", lambda w: {"ends_on": "30.06.2027", "reason": "Ikke lenger behov"}),
    "agreements.renew": ("staff", lambda w: {}),
    "agreements.batch_pdf": ("admin", lambda w: {"agreement": [str(w.agreements["signed"])]}),
    "agreements.archive_zip": ("admin", lambda w: {"agreement": [str(w.agreements["signed"])]}),
    "admin.users": ("admin", lambda w: {"name": "Ny Bruker", "email": "ny@k.no", "role": "admin", "password": "x" * 16}),
    "admin.activities": ("admin", lambda w: {"new-name": "Ny aktivitet"}),
    "admin.activity": ("admin", lambda w: {"action": "rename", f"area-{w.activity_area_id}-name": "Nytt navn"}),
    "admin.clause": ("admin", lambda w: {"nb": "Endret standardtekst", "nn": "Endra standardtekst"}),
    "admin.seal": ("admin", lambda w: {"file": (io.BytesIO(seal.self_signed_pkcs12("Ny", "passord")), "segl.p12"), "password": "passord"}),
    "admin.review_links": ("admin", lambda w: {"review_code_required": "y"}),
    "admin.municipalities": ("operator", lambda w: {"name": "Ny kommune", "kommunenummer": "1566", "org_number": "991000054"}),
    "respond.invitation": (None, lambda w: {"answer": "attending", "comment": "Vi kommer"}),
    "respond.agreement": (None, lambda w: ACCEPT),
    # The world's municipality asks for no code: these would redirect; the token's refusal comes first.
    "respond.agreement_code_send": (None, lambda w: {}),
    "respond.agreement_code": (None, lambda w: {"code": "123456"}),
    "evaluations.respond": (None, lambda w: {"went_well": "Mye", "volunteers": "4", "participants": "20", "name": "Kari"}),
    "evaluations.view": ("staff", lambda w: {"municipality_view": "Godt samarbeid"}),
    "verify.index": (None, lambda w: {"check": "number", "number": "2026-001", "fingerprint": "0" * 64}),
    "privacy.anonymise": ("staff", lambda w: {}),
    "privacy.settings": ("admin", lambda w: {"contact_retention_months": "24", "privacy_notice": "Ny tekst", "accessibility_statement": ""}),
    "mailbox.retry": ("admin", lambda w: {}),
}


def _organizations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Organization.id)))


def _foreign_token(app, raw: str) -> str:
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def test_wrong_tokens_are_refused(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    other = app.test_client()
    login(other, factory.user(factory.municipality(), "staff"))
    forged_key = URLSafeTimedSerializer("not-the-secret", salt="wtf-csrf-token")
    client.csrf_token()  # make sure this session has its raw token
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    tokens = {
        "garbage": "not-a-token",
        "empty": "",
        "tampered": client.csrf_token()[:-2] + "xx",
        "another session's": other.csrf_token(),
        "signed with another key": forged_key.dumps(raw),
        "a made-up raw value": _foreign_token(app, hashlib.sha1(b"guess").hexdigest()),
    }
    before = _organizations(app)
    for kind, token in tokens.items():
        response = client.post("/organizations/new", data={"name": "Lag", "csrf_token": token})
        assert response.status_code == 400, kind
        assert _organizations(app) == before, kind
        response = client.post("/organizations/new", data={"name": "Lag"}, headers={"X-CSRFToken": token}, csrf=False)
        assert response.status_code == 400, kind
        assert _organizations(app) == before, kind
    # The right token, in the form or in the header, is accepted.
    assert client.post("/organizations/new", data={"name": "Lag i skjema"}).status_code == 302
    response = client.post(
        "/organizations/new", data={"name": "Lag i header"}, headers={"X-CSRFToken": client.csrf_token()}, csrf=False
    )
    assert response.status_code == 302
    assert _organizations(app) == before + 2


def _draft(app, client, factory, municipality) -> int:
    organization = factory.organization(municipality, name="Surnadal Røde Kors")
    response = client.post("/agreements/new", data={"organization_id": str(organization)})
    agreement_id = int(urlsplit(response.headers["Location"]).path.split("/")[2])
    write_agreement(client, agreement_id, "Samarbeid om leksehjelp")
    return agreement_id


def _state(app, agreement_id) -> str:
    with app.app_context():
        return db.session.get(Agreement, agreement_id).state


def test_htmx_autosave_with_token_in_header_gets_the_fragment(app, client, factory):
    municipality = factory.municipality()
    login(client, factory.user(municipality, "staff"))
    agreement_id = _draft(app, client, factory, municipality)
    url = f"/agreements/{agreement_id}/sections/purpose"
    typed = {**section_form("purpose", text="Skrevet mens siden var åpen."), "autosave": "1"}

    def stored_text():
        with app.app_context():
            return db.session.get(Agreement, agreement_id).section("purpose").data["text"]

    # Without the header, htmx is refused like any other post.
    before = stored_text()
    response = client.post(url, data=typed, headers={"HX-Request": "true"}, csrf=False)
    assert response.status_code == 400
    assert stored_text() == before

    response = client.post(url, data=typed, headers={"HX-Request": "true", "X-CSRFToken": client.csrf_token()}, csrf=False)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith("Lagret kl.")
    assert 'id="task-list"' in fragment and 'hx-swap-oob="true"' in fragment
    assert "<html" not in fragment and "<body" not in fragment
    assert stored_text() == "Skrevet mens siden var åpen."
    assert "HX-Request" in response.vary  # caches keep fragment and page apart


def test_pages_put_the_token_where_htmx_finds_it(client, factory):
    login(client, factory.user(factory.municipality(), "staff"))
    page = client.get("/organizations/").get_data(as_text=True)
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page


# --- Every POST route (one world, built once for the module) ---------------------------


@pytest.fixture(scope="module")
def shared(database_url):
    worlds = SharedWorlds(database_url, (WORLD,))
    yield worlds
    worlds.close()


def _url(rule, world) -> str:
    values = {**URL_WORDS, **{arg: world.id_for(arg, rule.endpoint) for arg in _int_args(rule)}}
    for arg in _token_args(rule):
        assert arg == "token", rule.rule
        link = world.review_link if rule.endpoint.startswith("respond.agreement") else world.invitation_link
        if rule.endpoint == "evaluations.respond":
            link = world.evaluation_link
        values[arg] = link.rsplit("/", 1)[1]
    return rule.build(values, append_unknown=False)[1]


def test_every_post_route_is_known():
    endpoints = {rule.endpoint for rule in POST_RULES}
    assert endpoints - POSTS.keys() == set(), "POST routes not in POSTS: add them"
    assert POSTS.keys() - endpoints == set(), "POSTS names routes that no longer exist"


@pytest.mark.parametrize("rule", POST_RULES, ids=lambda rule: rule.rule)
def test_post_without_token_is_refused(shared, rule):
    assert rule.endpoint in POSTS, f"{rule.rule} ({rule.endpoint}) is not in POSTS in {__name__}: add it"
    world = shared.get()[WORLD]
    role, form = POSTS[rule.endpoint]
    client = shared.client(getattr(world, role) if role else None)
    url = _url(rule, world)
    before = snapshot(shared.app)
    with client.session_transaction() as session:
        who_before = (session.get("_user_id"), session.get("lang"))

    response = client.post(url, data=form(world), csrf=False)

    assert response.status_code == 400, f"POST {url} -> {response.status_code}"
    assert "Skjemaet er utløpt" in response.get_data(as_text=True)
    assert snapshot(shared.app) == before, f"POST {url} without a token changed the database"
    with client.session_transaction() as session:
        assert (session.get("_user_id"), session.get("lang")) == who_before  # not logged in or out, same language
