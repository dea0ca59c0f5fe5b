"""Every form, fuzzed: whatever is posted, never a 5xx, and a refusal (4xx) changes nothing.

The POST routes come from the app's url_map. FORMS says, for each, who posts, the
fields its view reads (a valid submission, so the fuzzing reaches the checks behind
the first one) and the tables a refusal may still write (with the reason). A POST
route missing from FORMS fails test_every_post_route_is_fuzzed: add it.

Hypothesis draws each submission from the valid one: every field kept, dropped,
replaced (any Unicode with control characters and NUL, very long text, HTML and
script, numbers and dates in odd formats) or repeated, plus extra fields, with or
without htmx's header. The number of examples comes from the profile in conftest.py
(200 in CI, derandomised). One world is built for the module and reused by every example.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from helpers import PASSWORD, outbox
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter
from world import ACCEPT, URL_WORDS, SharedWorlds, meeting_form, section_form

from app import create_app
from dugnad import seal
from dugnad.extensions import db
from dugnad.models import User

POST_RULES = [
    rule
    for rule in create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).url_map.iter_rules()
    if "POST" in rule.methods
]

WORLD = "Fuglevik"
#: A good new password (account forms): twelve characters at least.
NEW_PASSWORD = "et-nytt-og-langt-passord"


class File:
    """A file field: fuzzed as bytes of any kind under any name (or the valid file)."""

    def __init__(self, name: str, content: bytes):
        self.name, self.content = name, content


@dataclass
class Form:
    #: Who posts: a role of the world, or None for an anonymous visitor.
    role: str | None
    #: A valid submission: every field the view reads.
    valid: Callable
    #: Tables a refused post writes on purpose, with why (else: none).
    refusal_writes: dict[str, str] = field(default_factory=dict)


def _organization(w):
    return {
        "name": "Nytt lag", "org_number": "", "org_type": "other", "address": "Storgata 1", "postal_code": "1234",
        "city": "Bygda", "email": "post@lag.no", "phone": "12345678", "website": "https://lag.no",
        "contacts-0-id": "", "contacts-0-name": "Per", "contacts-0-role": "leder", "contacts-0-email": "per@lag.no",
        "contacts-0-phone": "", "contacts-0-is_primary": "y", "activity_areas": str(w.activity_area_id), "notes": "",
        "add_contact": "", "remove_contact": "",
    }


#: Every POST route. The order is the order of the tests: routes that end an object's
#: life (send, cancel, delete, anonymise) come after those that edit it.
FORMS: dict[str, Form] = {
    "auth.login": Form(None, lambda w: {"email": "ingen@fuglevik.example.no", "password": "feil passord"}),
    "auth.language": Form("staff", lambda w: {"lang": "en", "next": "/"}),
    "auth.forgot_password": Form(None, lambda w: {"email": "ingen@fuglevik.example.no"}),
    "organizations.new": Form("staff", _organization),
    "organizations.edit": Form("staff", _organization),
    "organizations.restore": Form("staff", lambda w: {}),
    "imports.upload": Form("staff", lambda w: {"file": File("lag.csv", b"navn;organisasjonsnummer\nNytt lag;\n")}),
    "imports.apply": Form("staff", lambda w: {}),
    "meetings.new": Form("staff", lambda w: {**meeting_form("Nytt møte"), "room": "", "digital_link": "https://møte.no", "message": ""}),
    "meetings.invite_organizations": Form("staff", lambda w: {"organizations": [str(w.other_organization_id)], "message": ""}),
    "meetings.edit": Form("staff", lambda w: {**meeting_form("Endret møte", place="Et annet sted"), "version": "1", "notify": "y"}),
    "meetings.record_attendance": Form("staff", lambda w: {"attended": [str(w.organization_id)], "notes": "Referat", "version": "1"}),
    "meetings.start_agreement": Form("staff", lambda w: {"organization_id": str(w.organization_id)}),
    "agreements.create": Form("staff", lambda w: {
        "organization_id": str(w.other_organization_id), "title": "Ny avtale", "language": "nb",
        "start_from": "clauses", "copy_of": str(w.agreements["signed"]),
    }),
    "agreements.details": Form("staff", lambda w: {"title": "Endret avtale", "language": "nn"}),
    "agreements.section": Form("staff", lambda w: {**section_form("purpose", text="Endret formål"), "revision": "1", "then": "next", "autosave": ""}),
    "agreements.preview_section": Form("staff", lambda w: section_form("purpose", text="Endret formål")),
    "agreements.case_reference": Form("staff", lambda w: {"case_reference": "2026/1234"}),
    "agreements.countersign": Form("admin", lambda w: {"role": "Kommunedirektør", "version_sha256": w.accepted_sha256, "password": "feil passord"},
                                   # A wrong password is kept in the audit log, which counts them: guessing locks signing.
                                   refusal_writes={"audit_event": "wrong passwords are counted"}),
    "agreements.terminate": Form("admin", lambda w: {"ends_on": "30.06.2027", "reason": "Ikke lenger behov"}),
    "agreements.batch_pdf": Form("admin", lambda w: {"agreement": [str(w.agreements["signed"])], "year": "2026", "state": "signed"}),
    "agreements.archive_zip": Form("admin", lambda w: {"agreement": [str(w.agreements["signed"])], "year": "2026", "state": "signed"}),
    "admin.users": Form("admin", lambda w: {"name": "Ny Bruker", "email": "ny@k.no", "title": "Rådgiver", "role": "staff", "password": "x" * 16}),
    "admin.reinvite": Form("admin", lambda w: {}),
    "admin.activities": Form("admin", lambda w: {"new-name": "Ny aktivitet"}),
    "admin.activity": Form("admin", lambda w: {"action": "rename", f"area-{w.activity_area_id}-name": "Nytt navn"}),
    "admin.clause": Form("admin", lambda w: {"nb": "Endret standardtekst", "nn": "Endra standardtekst", "action": "save", "confirm": "1"}),
    "admin.seal": Form("admin", lambda w: {"file": File("segl.p12", seal.self_signed_pkcs12("Ny", "passord")), "password": "passord"}),
    "admin.review_links": Form("admin", lambda w: {"review_code_required": "y"}),
    "admin.municipalities": Form("operator", lambda w: {"name": "Ny kommune", "kommunenummer": "1566", "org_number": "991000054", "address": ""}),
    "respond.invitation": Form(None, lambda w: {
        "answer": "attending", "participants": "2", "participant_names": "Kari\nOla",
        "activity_areas": str(w.activity_area_id), "comment": "Vi kommer",
    }),
    "respond.agreement": Form(None, lambda w: {**ACCEPT, "decline-reason": "", "changes-reason": ""}),
    "respond.agreement_code_send": Form(None, lambda w: {}),
    "respond.agreement_code": Form(None, lambda w: {"code": "123456"}, refusal_writes={
        # A wrong code is counted on the link (and the lock-out logged), so guessing ends.
        "link_token": "wrong codes are counted", "audit_event": "the lock-out is logged",
    }),
    "evaluations.respond": Form(None, lambda w: {
        "went_well": "Mye", "went_badly": "", "wishes": "", "volunteers": "4", "participants": "20", "name": "Kari",
    }),
    "evaluations.view": Form("staff", lambda w: {"municipality_view": "Godt samarbeid"}),
    "verify.index": Form(None, lambda w: {"check": "number", "number": "2026-001", "fingerprint": "0" * 64, "file": File("avtale.pdf", b"%PDF-1.7\n")}),
    "privacy.settings": Form("admin", lambda w: {"contact_retention_months": "24", "privacy_notice": "Ny tekst", "accessibility_statement": ""}),
    "agreements.send": Form("staff", lambda w: {"recipients": [str(w.contact_id)], "asked": "1"}),
    "agreements.resend": Form("staff", lambda w: {}),
    "agreements.withdraw": Form("staff", lambda w: {"reason": "Feil i teksten"}),
    "agreements.revise": Form("staff", lambda w: {}),
    "agreements.renew": Form("staff", lambda w: {}),
    "meetings.remind": Form("staff", lambda w: {}),
    "meetings.cancel": Form("staff", lambda w: {"message": "Avlyst"}),
    "organizations.delete": Form("staff", lambda w: {}),
    "privacy.anonymise": Form("staff", lambda w: {}),
    "mailbox.retry": Form("admin", lambda w: {}),
    # Setting a password ends the user's other sessions: these come last, with logging out.
    "auth.accept_invite": Form(None, lambda w: {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "auth.reset_password": Form(None, lambda w: {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "auth.change_password": Form("staff", lambda w: {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "auth.logout": Form("staff", lambda w: {}),
}

# --- What a submission is made of ------------------------------------------------------

HTML = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea><svg onload=alert(1)>",
    "{{ 7*7 }}", "{% raw %}", "javascript:alert(1)", "'; DROP TABLE organization; --", "%s%s%n", "../../etc/passwd",
]
ODD_NUMBERS = [
    "0", "-1", "-0", "+5", "1e309", "1E5", "NaN", "inf", "-inf", "0x1F", "1_000", "12 500", "12\u00a0500", "12.500,50",
    "1,5", "٣", "١٢٣", "⅕", "²", "99999999999999999999999999", "-99999999999999999999999", "0.0000001", " 7 ", "kr 100",
]
ODD_DATES = [
    "2027-02-30", "2027-13-01", "0000-01-01", "9999-12-31", "31.12.9999", "29.02.2027", "2027-06-30T25:61",
    "2027-06-30T18:00:00+99:00", "1.1.1", "i morgen", "2027-06-30 18:00", "",
]
#: Any Unicode, control characters and NUL included (surrogates cannot be sent).
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)
LONG_TEXT = st.builds(lambda char, n: char * n, st.sampled_from(["x", "æ", "\x00", "😀", "<", "\u202e", " "]), st.integers(1_000, 60_000))
VALUES = st.one_of(
    ANY_TEXT,
    LONG_TEXT,
    st.sampled_from(HTML + ODD_NUMBERS + ODD_DATES),
    st.integers().map(str),
    st.floats().map(str),
    st.lists(ANY_TEXT, max_size=3).map("\r\n".join),
)
#: Names of extra fields: printable (the client encodes them into a multipart header).
NAMES = st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters='"\\'), min_size=1, max_size=20)


def _value(draw, valid):
    if isinstance(valid, File):
        content = draw(st.one_of(st.just(valid.content), st.binary(max_size=4_000), st.just(b""), st.just(valid.content[: len(valid.content) // 2])))
        name = draw(st.one_of(st.just(valid.name), ANY_TEXT.filter(lambda n: '"' not in n and "\\" not in n)))
        return (io.BytesIO(content), name)
    if isinstance(valid, list):
        return draw(st.lists(st.one_of(st.sampled_from(valid), VALUES), max_size=4))
    return draw(VALUES)


@st.composite
def submissions(draw, valid: dict) -> dict:
    """One submission: each valid field kept, dropped, replaced or repeated, and extra fields."""
    data = {}
    for name, value in valid.items():
        what = draw(st.sampled_from(("keep", "drop", "replace", "replace", "repeat")))
        if what == "keep":
            data[name] = (io.BytesIO(value.content), value.name) if isinstance(value, File) else value
        elif what == "replace":
            data[name] = _value(draw, value)
        elif what == "repeat" and not isinstance(value, File):
            data[name] = [value if isinstance(value, str) else "1", _value(draw, value) if not isinstance(value, list) else "2"]
        elif what == "repeat":
            data[name] = _value(draw, value)
    for name in draw(st.lists(st.one_of(NAMES, st.sampled_from(list(valid) or ["x"])), max_size=3)):
        if name not in valid and name != "csrf_token":
            data[name] = draw(st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3)))
    return data


# --- The world, the URLs and what a refusal must leave alone -----------------------------


@pytest.fixture(scope="module")
def shared(database_url):
    worlds = SharedWorlds(database_url, (WORLD,))
    yield worlds
    worlds.close()


def _account_link(app, world, endpoint: str) -> str:
    """The emailed link an account route is opened with: the world's invited user's
    invitation, or a password reset that user asks for now (not a user the other tests
    post as: setting a password ends the user's other sessions)."""
    with app.app_context():
        invited = db.session.get(User, world.invited_user_id).email
    if endpoint == "auth.reset_password":
        assert app.test_client().post("/account/forgot", data={"email": invited}).status_code in (200, 302)
    path = _account_path(outbox(app, to=invited)[-1])
    assert path.startswith("/account/reset/" if endpoint == "auth.reset_password" else "/account/invite/"), path
    return path


def _account_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/account/(?:invite|reset)/[A-Za-z0-9_\-]+)", message.body_text).group(1)


def _url(rule, world, app) -> str:
    args = {}
    for arg, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            args[arg] = 1 if arg == "number" else world.id_for(arg, rule.endpoint)
        elif arg in URL_WORDS:
            args[arg] = URL_WORDS[arg]
        elif rule.endpoint.startswith("auth."):
            return _account_link(app, world, rule.endpoint)
        else:  # an emailed link's token
            link = {"respond": world.review_link, "evaluations": world.evaluation_link}[rule.endpoint.split(".")[0]]
            if rule.endpoint == "respond.invitation":
                link = world.invitation_link
            args[arg] = re.search(r"/r/[a-z]+/([^/]+)", link).group(1)
    return rule.build(args, append_unknown=False)[1]


def _state(app, loose: set[str], watched: set[str]) -> dict:
    """Row counts of every table (one statement), and the rows themselves of the tables
    forms update in place: cheap enough to take around every example."""
    tables = [table for table in db.metadata.sorted_tables if table.name not in loose]
    with app.app_context():
        counts = db.session.execute(
            select(*[select(func.count()).select_from(table).scalar_subquery().label(table.name) for table in tables])
        ).one()
        state = dict(zip([table.name for table in tables], counts, strict=True))
        for table in tables:
            if table.name in watched:
                state[table.name + " rows"] = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        db.session.remove()
        return state


#: The tables whose rows (not only their number) are compared, by the part of the app a
#: route belongs to: those its forms update in place. Every table's row count is always compared.
WATCHED = {
    "auth": {"user_account", "account_token"},
    "organizations": {"organization", "contact", "organization_activity"},
    "imports": {"registry_import", "organization"},
    "meetings": {"meeting", "invitation"},
    "agreements": {"agreement", "agreement_section", "signature"},
    "admin": {"user_account", "activity_area", "clause", "municipality", "seal_certificate"},
    "respond": {"link_token", "invitation", "invitation_activity", "agreement"},
    "evaluations": {"evaluation", "link_token"},
    "verify": set(),
    "privacy": {"municipality", "contact"},
    "mailbox": {"outbox_message"},
}


def test_every_post_route_is_fuzzed():
    endpoints = {rule.endpoint for rule in POST_RULES}
    assert endpoints - FORMS.keys() == set(), "POST routes not in FORMS in tests/test_fuzz_forms.py: add them"
    assert FORMS.keys() - endpoints == set(), "FORMS names routes that no longer exist"
    tables = {table.name for table in db.metadata.sorted_tables}
    assert set().union(*WATCHED.values()) <= tables, "WATCHED names tables that do not exist"
    assert {endpoint.split(".")[0] for endpoint in FORMS} <= WATCHED.keys(), "a part of the app without WATCHED tables"


#: Examples for a route without fields (every form with fields gets the profile's number).
FIELDLESS_EXAMPLES = 20


def _client(shared, world, role):
    """A client of its own for each example (a post may log out or change the language),
    carrying the session of the role's logged-in client: no password hashed per example."""
    client = shared.app.test_client()
    if role:
        logged_in = shared.client(getattr(world, role))
        cookie = logged_in.get_cookie("session", domain="localhost")
        client.set_cookie("session", cookie.value, domain="localhost")
    return client


CASES = [pytest.param(endpoint, id=endpoint) for endpoint in FORMS if endpoint in {rule.endpoint for rule in POST_RULES}]


@pytest.mark.parametrize("endpoint", CASES)
def test_fuzzed_form(shared, endpoint):
    world = shared.get()[WORLD]
    rule = next(rule for rule in POST_RULES if rule.endpoint == endpoint)
    form = FORMS[endpoint]
    url = _url(rule, world, shared.app)
    valid = form.valid(world)
    app = shared.app
    loose = set(form.refusal_writes)
    watched = WATCHED[endpoint.split(".")[0]]
    # The state after a refusal is the state before the next post (it was just proven
    # unchanged): only a post that was let through makes it be read again.
    known = {"state": None}

    @given(data=st.data())
    def check(data):
        client = _client(shared, world, form.role)
        posted = data.draw(submissions(valid))
        headers = {"HX-Request": "true"} if data.draw(st.booleans()) else {}
        before = known["state"] or _state(app, loose, watched)
        known["state"] = None
        response = client.post(url, data=posted, headers=headers)
        assert response.status_code < 500, f"{endpoint} {url} -> {response.status_code} for {posted!r}"
        if 400 <= response.status_code < 500:
            after = _state(app, loose, watched)
            changed = sorted(name for name in before if before[name] != after[name])
            assert not changed, f"{endpoint} {url} -> {response.status_code} but wrote {changed} for {posted!r}"
            known["state"] = after

    if not valid:
        # A route with no fields (an action button: send, renew, delete...) is no form to
        # fuzz: only extra fields can be tried, and most posts succeed and write (a copy,
        # a mail), which is slow to repeat. A few examples prove extra fields do no harm.
        check = settings(max_examples=min(FIELDLESS_EXAMPLES, settings.default.max_examples))(check)
    check()


def test_seal_password_with_nul_is_refused(shared):
    """Found by the fuzzing: a NUL in the certificate's password made cryptography panic (500)."""
    world = shared.get()[WORLD]
    client = _client(shared, world, "admin")
    certificate = seal.self_signed_pkcs12("Ny", "passord")
    response = client.post("/admin/seal", data={"file": (io.BytesIO(certificate), "segl.p12"), "password": "pass\x00ord"})
    assert response.status_code == 400
    assert "Passordet er feil" in response.get_data(as_text=True)
