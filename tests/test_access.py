"""Roles on every route (generated from the url_map), login, logout and the CLI."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import PASSWORD, login
from sqlalchemy import select
from werkzeug.routing import IntegerConverter
from world import URL_WORDS, SharedWorlds, meeting_form, section_form, snapshot

from app import create_app
from dugnad import demo, seal
from dugnad.extensions import db
from dugnad.models import Agreement, AgreementSection, Municipality, Signature, SignedDocument, User

ALL_RULES = list(create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).url_map.iter_rules())


def is_public(rule) -> bool:
    """Pages for people without an account: log in, choose a language, answer an emailed link,
    check a signed agreement, read the privacy notice and the accessibility statement."""
    return rule.rule in ("/login", "/language", "/verify", "/personvern", "/tilgjengelighet", "/account/forgot") or rule.rule.startswith(
        ("/r/", "/static/", "/account/invite/", "/account/reset/")
    )


PRIVATE_RULES = [rule for rule in ALL_RULES if not is_public(rule)]

LOGGED_IN = ("staff", "admin", "operator")
STAFF = ("staff", "admin")
ADMIN = ("admin",)
OPERATOR = ("operator",)

#: Who may use each non-public route. A route missing here fails test_every_route_has_a_rule.
ACCESS = {
    "main.index": LOGGED_IN,
    "main.pipeline": STAFF,
    "auth.logout": LOGGED_IN,
    "auth.change_password": LOGGED_IN,
    "organizations.index": STAFF,
    "organizations.new": STAFF,
    "organizations.show": STAFF,
    "organizations.edit": STAFF,
    "organizations.delete": STAFF,
    "organizations.restore": STAFF,
    "imports.upload": STAFF,
    "imports.preview": STAFF,
    "imports.apply": STAFF,
    "meetings.index": STAFF,
    "meetings.new": STAFF,
    "meetings.show": STAFF,
    "meetings.invite_organizations": STAFF,
    "meetings.tally": STAFF,
    "meetings.edit": STAFF,
    "meetings.cancel": STAFF,
    "meetings.choose": STAFF,
    "meetings.choose_count": STAFF,
    "meetings.preview": STAFF,
    "meetings.remind": STAFF,
    "meetings.participants_csv": STAFF,
    "meetings.attendance_pdf": STAFF,
    "meetings.record_attendance": STAFF,
    "meetings.start_agreement": STAFF,
    "mailbox.attachment": ADMIN,
    "agreements.index": STAFF,
    "agreements.create": STAFF,
    "agreements.show": STAFF,
    "agreements.edit": STAFF,
    "agreements.details": STAFF,
    "agreements.section": STAFF,
    "agreements.preview_section": STAFF,
    "agreements.preview": STAFF,
    "agreements.check": STAFF,
    "agreements.send": STAFF,
    "agreements.withdraw": STAFF,
    "agreements.revise": STAFF,
    "agreements.resend": STAFF,
    "agreements.countersign": ADMIN,
    "agreements.signed_pdf": ADMIN,
    "agreements.print_view": ADMIN,
    "agreements.case_reference": STAFF,
    "agreements.batch": ADMIN,
    "agreements.batch_pdf": ADMIN,
    "agreements.archive_zip": ADMIN,
    "agreements.version": STAFF,
    "agreements.compare": STAFF,
    "agreements.expiring": STAFF,
    "agreements.terminate": ADMIN,
    "agreements.renew": STAFF,
    "reports.council": STAFF,
    "reports.council_pdf": STAFF,
    "reports.council_csv": STAFF,
    "reports.council_xlsx": STAFF,
    "evaluations.index": STAFF,
    "evaluations.show": STAFF,
    "evaluations.view": STAFF,
    "mailbox.index": ADMIN,
    "mailbox.show": ADMIN,
    "mailbox.retry": ADMIN,
    "admin.users": ADMIN,
    "admin.reinvite": ADMIN,
    "admin.activities": ADMIN,
    "admin.activity": ADMIN,
    "admin.clauses": ADMIN,
    "admin.clause": ADMIN,
    "admin.seal": ADMIN,
    "admin.review_links": ADMIN,
    "admin.municipalities": OPERATOR,
    "privacy.contact": STAFF,
    "privacy.contact_export": STAFF,
    "privacy.anonymise": STAFF,
    "privacy.settings": ADMIN,
    "auditlog.index": ADMIN,
    "auditlog.export_csv": ADMIN,
}


def _int_args(rule) -> list[str]:
    return [arg for arg, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]


def _id(world, arg: str, endpoint: str) -> int:
    # Versions are numbered from 1 in each agreement: every sent agreement has a version 1.
    return 1 if arg == "number" else world.id_for(arg, endpoint)


def _url(rule, world=None) -> str:
    values = {**URL_WORDS, **{arg: (_id(world, arg, rule.endpoint) if world else 1) for arg in _int_args(rule)}}
    return rule.build(values, append_unknown=False)[1]


def _valid_post(endpoint: str, world) -> dict:
    """A post that would succeed for a permitted user, so a missing check would show as a change."""
    return {
        "organizations.new": {"name": "Nytt lag", "contacts-0-name": "Per", "contacts-0-email": "per@lag.example.no"},
        "organizations.edit": {"name": "Endret navn"},
        "organizations.delete": {},
        "organizations.restore": {},
        "admin.activities": {"new-name": "Ny aktivitet"},
        "admin.activity": {"action": "hide"},
        "admin.clause": {"nb": "Ny standardtekst", "nn": "Ny standardtekst"},
        "admin.seal": {"file": (io.BytesIO(seal.self_signed_pkcs12("Ny", "passord")), "segl.p12"), "password": "passord"},
        "admin.review_links": {"review_code_required": "y"},
        "imports.upload": {"file": (io.BytesIO(b"navn\nNytt lag\n"), "lag.csv")},
        "imports.apply": {},
        "meetings.new": meeting_form("Nytt møte"),
        "meetings.invite_organizations": {"organizations": [str(world.other_organization_id)]},
        "meetings.edit": {**meeting_form("Endret møte", place="Et annet sted"), "version": "1"},
        "meetings.record_attendance": {"notes": "Referat", "version": "1"},
        "meetings.start_agreement": {"organization_id": str(world.organization_id)},
        "agreements.create": {"organization_id": str(world.organization_id)},
        "agreements.details": {"title": "Endret avtale", "language": "nb"},
        "agreements.section": section_form("purpose", text="Endret formål"),
        "agreements.preview_section": section_form("purpose", text="Endret formål"),
        "agreements.countersign": {"role": "Kommunedirektør", "version_sha256": world.accepted_sha256, "password": PASSWORD},
        "agreements.case_reference": {"case_reference": "2026/1234"},
        "evaluations.view": {"municipality_view": "Godt samarbeid"},
        "agreements.terminate": {"ends_on": "2027-06-30", "reason": "Ikke lenger behov"},
        "agreements.batch_pdf": {"agreement": [str(world.agreements["signed"])]},
        "agreements.archive_zip": {"agreement": [str(world.agreements["signed"])]},
        "admin.users": {"name": "Ny Bruker", "email": "ny@kommune.example.no", "role": "admin", "password": "x" * 16},
        "admin.municipalities": {"name": "Ny kommune", "kommunenummer": "1566", "org_number": "991000054"},
        "auth.logout": {},
        "privacy.anonymise": {},
        "privacy.settings": {"contact_retention_months": "6", "privacy_notice": "Kapret tekst", "accessibility_statement": ""},
    }.get(endpoint, {})


def test_every_route_has_a_rule():
    endpoints = {rule.endpoint for rule in PRIVATE_RULES}
    assert endpoints - ACCESS.keys() == set(), "routes without an entry in ACCESS: decide who may use them"
    assert ACCESS.keys() - endpoints == set(), "ACCESS names routes that no longer exist"
    assert {rule.endpoint for rule in ALL_RULES if is_public(rule)} == {
        "auth.login", "auth.language", "respond.invitation", "respond.agreement", "respond.agreement_done", "static",
        "respond.agreement_version_pdf", "respond.agreement_signed_pdf",
        "respond.agreement_code_send", "respond.agreement_code",
        "evaluations.respond",
        "verify.index",
        "privacy.notice", "privacy.accessibility",
        "auth.forgot_password", "auth.accept_invite", "auth.reset_password",
    }


# --- Anonymous visitors ----------------------------------------------------------

ANONYMOUS_CASES = [
    pytest.param(rule, method, id=f"{method} {rule.rule}")
    for rule in PRIVATE_RULES
    for method in ("GET", "POST")
    if method in rule.methods
]


@pytest.mark.parametrize(("rule", "method"), ANONYMOUS_CASES)
def test_anonymous_is_sent_to_login(client, rule, method):
    url = _url(rule)
    response = client.get(url) if method == "GET" else client.post(url, data={})
    assert response.status_code == 302, f"{method} {url} -> {response.status_code}"
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    if method == "GET" and url != "/":
        assert parse_qs(location.query)["next"] == [url]  # back to the page after logging in


def test_public_pages_need_no_login(client):
    assert client.get("/login").status_code == 200
    with client.get("/static/css/app.css") as response:
        assert response.status_code == 200
    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert client.get("/r/agreement/not-a-real-token").status_code == 404  # answered, not sent to login
    assert client.get("/r/invitation/not-a-real-token").status_code == 404
    assert client.get("/verify").status_code == 200
    assert client.get("/personvern").status_code == 200
    assert client.get("/tilgjengelighet").status_code == 200


def test_login_returns_to_the_page_asked_for(client, factory):
    staff = factory.user(factory.municipality(), "staff")
    response = client.get("/agreements/")
    next_url = response.headers["Location"]
    response = client.post(next_url, data={"email": staff, "password": PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/agreements/"


# --- Login and logout ------------------------------------------------------------


def _login_error(response) -> str:
    match = re.search(r'class="ds-validation-message"[^>]*>([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return match.group(1).strip()


def test_wrong_password_and_unknown_email_get_the_same_answer(client, factory, app):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    inactive = factory.user(municipality, "staff")
    with app.app_context():
        db.session.scalar(select(User).where(User.email == inactive)).active = False
        db.session.commit()

    wrong_password = client.post("/login", data={"email": staff, "password": "not the password"})
    unknown_email = client.post("/login", data={"email": "nobody@kommune.example.no", "password": "not the password"})
    deactivated = client.post("/login", data={"email": inactive, "password": PASSWORD})
    for response in (wrong_password, unknown_email, deactivated):
        assert response.status_code == 401
    assert _login_error(wrong_password) == _login_error(unknown_email) == _login_error(deactivated)
    assert _login_error(wrong_password) == "Feil e-postadresse eller passord."
    # None of them logged in.
    assert urlsplit(client.get("/organizations/").headers["Location"]).path == "/login"


def test_login_starts_a_fresh_session(client, factory):
    staff = factory.user(factory.municipality(), "staff")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, staff)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"]


def test_logout_is_post_only(client, factory):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    assert client.get("/logout").status_code == 405
    assert client.get("/organizations/").status_code == 200  # still logged in
    response = client.post("/logout", data={})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert urlsplit(client.get("/organizations/").headers["Location"]).path == "/login"


def test_deactivated_user_loses_access_at_once(client, factory, app):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    assert client.get("/organizations/").status_code == 200
    with app.app_context():
        db.session.scalar(select(User).where(User.email == staff)).active = False
        db.session.commit()
    response = client.get("/organizations/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


# --- Administrators and operators ----------------------------------------------------


def test_admin_adds_users_to_own_municipality_only_as_staff_or_admin(client, factory, app):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)
    response = client.post(
        "/admin/users",
        data={"name": "Ola Operatør", "email": "ola@kommune.example.no", "role": "operator", "password": "x" * 16},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "ola@kommune.example.no")) is None
    response = client.post(
        "/admin/users",
        data={"name": "Siri Staff", "email": "siri@kommune.example.no", "role": "staff", "password": "x" * 16},
    )
    assert response.status_code == 302
    with app.app_context():
        siri = db.session.scalar(select(User).where(User.email == "siri@kommune.example.no"))
        assert (siri.role, siri.municipality_id) == ("staff", municipality)


def test_operator_creates_municipalities(client, factory, app):
    operator = factory.user(None, "operator")
    login(client, operator)
    assert urlsplit(client.get("/").headers["Location"]).path == "/admin/municipalities"
    response = client.post(
        "/admin/municipalities",
        data={"name": "Surnadal kommune", "kommunenummer": "1566", "org_number": "991 000 054"},
    )
    assert response.status_code == 302
    with app.app_context():
        surnadal = db.session.scalar(select(Municipality).where(Municipality.kommunenummer == "1566"))
        assert (surnadal.name, surnadal.org_number) == ("Surnadal kommune", "991000054")
    assert "Surnadal kommune" in client.get("/admin/municipalities").get_data(as_text=True)


# --- The command line ----------------------------------------------------------------


def _municipality(app, kommunenummer):
    with app.app_context():
        municipality = db.session.scalar(select(Municipality).where(Municipality.kommunenummer == kommunenummer))
        db.session.expunge_all()
        return municipality


def _user(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def test_cli_create_municipality(runner, app):
    result = runner.invoke(
        args=["create-municipality", "--name", "Surnadal kommune", "--number", "1566", "--org-number", "991 000 054"]
    )
    assert result.exit_code == 0, result.output
    assert "Surnadal kommune" in result.output
    surnadal = _municipality(app, "1566")
    assert (surnadal.name, surnadal.org_number) == ("Surnadal kommune", "991000054")

    again = runner.invoke(args=["create-municipality", "--name", "Kopi", "--number", "1566", "--org-number", "991000054"])
    assert again.exit_code != 0 and "exists already" in again.output
    bad_number = runner.invoke(args=["create-municipality", "--name", "X", "--number", "15", "--org-number", "991000054"])
    assert bad_number.exit_code != 0
    bad_org = runner.invoke(args=["create-municipality", "--name", "X", "--number", "1567", "--org-number", "123456789"])
    assert bad_org.exit_code != 0
    assert _municipality(app, "1567") is None and _municipality(app, "15") is None


def test_cli_create_user(runner, app, client):
    assert runner.invoke(
        args=["create-municipality", "--name", "Surnadal kommune", "--number", "1566", "--org-number", "991000054"]
    ).exit_code == 0
    password = "a long enough password"

    result = runner.invoke(
        args=["create-user", "--email", "Drift@Example.no", "--name", "Dag Drift", "--role", "operator", "--password", password]
    )
    assert result.exit_code == 0, result.output
    operator = _user(app, "drift@example.no")
    assert (operator.role, operator.municipality_id) == ("operator", None)

    result = runner.invoke(
        args=["create-user", "--email", "sara@surnadal.kommune.no", "--name", "Sara Staff", "--role", "staff",
              "--municipality", "1566", "--password", password]
    )
    assert result.exit_code == 0, result.output
    staff = _user(app, "sara@surnadal.kommune.no")
    assert (staff.role, staff.municipality_id) == ("staff", _municipality(app, "1566").id)

    refused = {
        "operator with a municipality": ["--email", "o2@example.no", "--role", "operator", "--municipality", "1566"],
        "staff without one": ["--email", "s2@example.no", "--role", "staff"],
        "unknown municipality": ["--email", "s3@example.no", "--role", "staff", "--municipality", "9998"],
        "email taken": ["--email", "sara@surnadal.kommune.no", "--role", "admin", "--municipality", "1566"],
    }
    for case, args in refused.items():
        result = runner.invoke(args=["create-user", "--name", "N N", *args, "--password", password])
        assert result.exit_code != 0, case
    short = runner.invoke(
        args=["create-user", "--email", "s4@example.no", "--name", "N", "--role", "staff", "--municipality", "1566",
              "--password", "short"]
    )
    assert short.exit_code != 0
    for email in ("o2@example.no", "s2@example.no", "s3@example.no", "s4@example.no"):
        assert _user(app, email) is None

    # Both can log in; each lands where the role belongs.
    response = client.post("/login", data={"email": "drift@example.no", "password": password})
    assert urlsplit(client.get(response.headers["Location"]).headers["Location"]).path == "/admin/municipalities"
    client.post("/logout", data={})
    login(client, "sara@surnadal.kommune.no", password)
    assert client.get("/organizations/").status_code == 200


def test_cli_demo_is_idempotent(runner, app, client):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data loaded." in first.output
    after_first = {table: len(rows) for table, rows in snapshot(app).items()}
    assert after_first["municipality"] == 1 and after_first["organization"] == len(demo.ORGANIZATIONS)
    # A draft half-way through the builder: two sections done, one begun.
    assert after_first["agreement"] == 1
    with app.app_context():
        statuses = sorted(db.session.scalars(
            select(AgreementSection.status).where(AgreementSection.status != "not_started")
        ))
    assert statuses == ["completed", "completed", "in_progress"]

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "Demo data loaded." not in second.output
    assert {table: len(rows) for table, rows in snapshot(app).items()} == after_first

    for email, password in demo.CREDENTIALS.values():
        assert email in second.output  # it still says how to log in
        login(client, email, password)
        assert "Fjordvik Røde Kors" in client.get("/organizations/").get_data(as_text=True)
        client.post("/logout", data={})


# --- Every role on every route (one world, built once for the module) -----------------


@pytest.fixture(scope="module")
def shared(database_url):
    worlds = SharedWorlds(database_url, ("Cedervik",))
    yield worlds
    worlds.close()


ROLE_CASES = [
    pytest.param(role, rule, method, id=f"{role} {method} {rule.rule}")
    for role in LOGGED_IN
    for rule in PRIVATE_RULES
    for method in ("GET", "POST")
    if method in rule.methods and rule.endpoint in ACCESS
    # Permitted posts change things; the whole path and the tests above make them.
    and not (method == "POST" and role in ACCESS[rule.endpoint])
]


@pytest.mark.parametrize(("role", "rule", "method"), ROLE_CASES)
def test_role_on_route(shared, role, rule, method):
    world = shared.get()["Cedervik"]
    client = shared.client(getattr(world, role))
    url = _url(rule, world)
    allowed = role in ACCESS[rule.endpoint]
    before = snapshot(shared.app)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data=_valid_post(rule.endpoint, world))
    if not allowed:
        assert response.status_code == 403, f"{role} {method} {url} -> {response.status_code}"
        assert "Du har ikke tilgang" in response.get_data(as_text=True)
    elif rule.endpoint == "main.index" and role == "operator":
        assert urlsplit(response.headers["Location"]).path == "/admin/municipalities"
    else:
        assert response.status_code == 200, f"{role} {method} {url} -> {response.status_code}"
    assert snapshot(shared.app) == before


def test_staff_cannot_countersign(shared):
    world = shared.get()["Cedervik"]
    agreement_id = world.agreements["accepted"]
    staff = shared.client(world.staff)
    page = staff.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "En administrator i kommunen må signere." in page  # no signing form for staff
    response = staff.post(f"/agreements/{agreement_id}/countersign", data={"role": "Kommunedirektør", "version_sha256": world.accepted_sha256, "password": PASSWORD})
    assert response.status_code == 403
    with shared.app.app_context():
        assert db.session.get(Agreement, agreement_id).state == "accepted"
        assert db.session.scalar(
            select(Signature).where(Signature.agreement_id == agreement_id, Signature.party == "municipality")
        ) is None
        assert db.session.scalar(select(SignedDocument).where(SignedDocument.agreement_id == agreement_id)) is None
        db.session.remove()


def test_staff_cannot_fetch_the_signed_pdf(shared):
    world = shared.get()["Cedervik"]
    staff = shared.client(world.staff)
    signed = world.agreements["signed"]
    for url in (f"/agreements/{signed}/signed.pdf", f"/agreements/{signed}/print", "/mailbox/", "/admin/users"):
        assert staff.get(url).status_code == 403, url
    assert shared.client(world.admin).get(f"/agreements/{signed}/signed.pdf").mimetype == "application/pdf"


def test_operator_sees_municipalities_but_no_municipality_data(shared):
    world = shared.get()["Cedervik"]
    operator = shared.client(world.operator)
    response = operator.get("/admin/municipalities")
    assert response.status_code == 200
    assert "Cedervik kommune" in response.get_data(as_text=True)
    for url in ("/organizations/", f"/organizations/{world.organization_id}", "/agreements/", "/mailbox/", "/admin/users"):
        assert operator.get(url).status_code == 403, url


def test_admin_cannot_manage_municipalities(shared):
    world = shared.get()["Cedervik"]
    admin = shared.client(world.admin)
    before = snapshot(shared.app)
    assert admin.get("/admin/municipalities").status_code == 403
    response = admin.post(
        "/admin/municipalities", data={"name": "Ny kommune", "kommunenummer": "1566", "org_number": "991000054"}
    )
    assert response.status_code == 403
    assert snapshot(shared.app) == before


# --- Public pages: the same answer whoever asks --------------------------------------
#
# A public page answers an anonymous visitor, every role and a user of another
# municipality alike (an emailed link's token is its credential, not the session), except
# that a logged-in user is sent from the login page to the start page. Token routes get
# the world's real links; the account links, which the world does not keep, a made-up
# token. A public GET route missing here fails.

PUBLIC_GETS = {
    # endpoint: (the world's link or a fixed path for <token>, the status for everyone)
    "auth.login": (None, 200),
    "auth.forgot_password": (None, 200),
    "auth.accept_invite": ("made-up", 404),
    "auth.reset_password": ("made-up", 404),
    "verify.index": (None, 200),
    "privacy.notice": (None, 200),
    "privacy.accessibility": (None, 200),
    "respond.invitation": ("invitation_link", 200),
    "respond.agreement": ("review_link", 200),
    # The "sent" agreement is not answered yet: its receipt page sends back to it.
    "respond.agreement_done": ("review_link", 302),
    "respond.agreement_version_pdf": ("review_link", 200),
    # Not signed yet: no signed PDF behind the link.
    "respond.agreement_signed_pdf": ("review_link", 404),
    "evaluations.respond": ("evaluation_link", 200),
    "static": (None, 200),
}
PUBLIC_GET_RULES = [rule for rule in ALL_RULES if is_public(rule) and "GET" in rule.methods]
VISITORS = (None, "staff", "admin", "operator", "other municipality")


def test_every_public_page_has_an_answer():
    endpoints = {rule.endpoint for rule in PUBLIC_GET_RULES}
    assert endpoints - PUBLIC_GETS.keys() == set(), "public GET routes not in PUBLIC_GETS: say what they answer"
    assert PUBLIC_GETS.keys() - endpoints == set(), "PUBLIC_GETS names routes that no longer exist"


def _other_municipalitys_admin(shared) -> str:
    """An administrator of a second municipality, made once beside the module's world."""
    email = "admin@dunvik.example.no"
    with shared.app.app_context():
        exists = db.session.scalar(select(User.id).where(User.email == email))
        db.session.remove()
    if not exists:
        shared.factory.user(shared.factory.municipality("Dunvik kommune"), "admin", email=email)
    return email


@pytest.mark.parametrize("rule", [pytest.param(rule, id=rule.rule) for rule in PUBLIC_GET_RULES])
def test_public_page_answers_everyone_alike(shared, rule):
    assert rule.endpoint in PUBLIC_GETS, f"{rule.rule} ({rule.endpoint}) is not in PUBLIC_GETS: add it"
    world = shared.get()["Cedervik"]
    other_admin = _other_municipalitys_admin(shared)
    link, status = PUBLIC_GETS[rule.endpoint]
    values = {"filename": "css/app.css"}
    if "token" in rule.arguments:
        values["token"] = "made-up-token" if link == "made-up" else re.search(r"/r/[a-z]+/([^/]+)", getattr(world, link)).group(1)
    url = rule.build(values, append_unknown=False)[1]
    before = snapshot(shared.app)
    for visitor in VISITORS:
        email = other_admin if visitor == "other municipality" else (getattr(world, visitor) if visitor else None)
        response = shared.client(email).get(url)
        expected = 302 if rule.endpoint == "auth.login" and visitor else status
        assert response.status_code == expected, f"{visitor or 'anonymous'} GET {url} -> {response.status_code}"
        response.close()
    if rule.endpoint not in ("respond.invitation", "respond.agreement", "evaluations.respond"):
        assert snapshot(shared.app) == before  # opening an emailed link marks it opened; nothing else writes
