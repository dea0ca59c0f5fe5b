"""Tenancy: a user of municipality A cannot reach any object of municipality B.

Every object route (a rule with an int converter) is taken from the app's
url_map, so a new route is tested as soon as it exists, and fails until this
module says how to post to it.
"""

from __future__ import annotations

import pytest
from helpers import PASSWORD
from sqlalchemy import select
from werkzeug.routing import IntegerConverter
from world import URL_WORDS, SharedWorlds, meeting_form, section_form, snapshot

from app import create_app
from dugnad.extensions import db
from dugnad.models import Invitation, OutboxMessage

A, B = "Askeby", "Bjørkvik"


def _rules():
    app = create_app({"SECRET_KEY": "collect", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return list(app.url_map.iter_rules())


def _int_args(rule) -> list[str]:
    return [arg for arg, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]


OBJECT_RULES = [rule for rule in _rules() if _int_args(rule)]

#: Every object route, by endpoint: the form a user of A posts to B's object, as
#: if it were their own (None: the route takes GET only). An endpoint missing
#: here fails its test: add it, with the most damaging valid post you can think of.
KNOWN = {
    "organizations.show": None,
    "organizations.edit": lambda a, b: {"name": "Kapret navn", "contacts-0-name": "Inntrenger", "contacts-0-email": "x@x.no"},
    # B's organisation without agreements waiting (B's deleted one, for restore; see World.id_for),
    # so only the tenant check stops it.
    "organizations.delete": lambda a, b: {},
    "organizations.restore": lambda a, b: {},
    "meetings.show": None,
    # A's own organisation into B's meeting: exactly the post A's form would make.
    "meetings.invite_organizations": lambda a, b: {"organizations": [str(a.organization_id)]},
    "meetings.tally": None,
    "meetings.edit": lambda a, b: {**meeting_form("Kapret møte", place="Et annet sted"), "version": "1"},
    "meetings.cancel": lambda a, b: {},
    "meetings.choose": None,
    "meetings.choose_count": None,
    "meetings.preview": None,
    "meetings.remind": lambda a, b: {},
    "meetings.participants_csv": None,
    "meetings.attendance_pdf": None,
    "meetings.record_attendance": lambda a, b: {"attended": ["1", "2"], "notes": "Kapret referat", "version": "1"},
    # B's organisation, invited to B's meeting: only the tenant check stops a draft.
    "meetings.start_agreement": lambda a, b: {"organization_id": str(b.organization_id)},
    "mailbox.attachment": None,
    "agreements.show": None,
    "agreements.edit": None,
    "agreements.details": lambda a, b: {"title": "Kapret avtale", "language": "nn"},
    "agreements.section": lambda a, b: section_form("purpose", text="Kapret formål"),
    "agreements.preview_section": lambda a, b: section_form("purpose", text="Kapret formål"),
    "agreements.preview": None,
    "agreements.check": None,
    "agreements.send": lambda a, b: {},
    "agreements.withdraw": lambda a, b: {},
    "agreements.revise": lambda a, b: {},
    "agreements.resend": lambda a, b: {},
    "agreements.countersign": lambda a, b: {"role": "Kommunedirektør", "version_sha256": b.accepted_sha256, "password": PASSWORD},
    "agreements.signed_pdf": None,
    "agreements.print_view": None,
    "agreements.case_reference": lambda a, b: {"case_reference": "Kapret saksnummer"},
    "agreements.version": None,
    "agreements.compare": None,
    # B's signed agreement ended, or copied into a new draft, on A's word.
    "agreements.terminate": lambda a, b: {"ends_on": "2027-06-30", "reason": "Kapret oppsigelse"},
    "agreements.renew": lambda a, b: {},
    "evaluations.show": None,
    # B's evaluation given A's view of it.
    "evaluations.view": lambda a, b: {"municipality_view": "Kapret vurdering"},
    "mailbox.show": None,
    # B's message sent once more on A's word.
    "mailbox.retry": lambda a, b: {},
    "admin.activity": lambda a, b: {"action": "rename", f"area-{b.activity_area_id}-name": "Kapret aktivitet"},
    "imports.preview": None,
    # Importing B's previewed file: it would add B's rows to B's registry, on A's word.
    "imports.apply": lambda a, b: {},
    "privacy.contact": None,
    "privacy.contact_export": None,
    # B's contact person erased on A's word.
    "privacy.anonymise": lambda a, b: {},
    # B's invited user sent a new invitation on A's word.
    "admin.reinvite": lambda a, b: {},
}

CASES = [
    pytest.param(rule, method, id=f"{method} {rule.rule}")
    for rule in OBJECT_RULES
    for method in ("GET", "POST")
    if method in rule.methods
]


@pytest.fixture(scope="module")
def shared(database_url):
    worlds = SharedWorlds(database_url, (A, B))
    yield worlds
    worlds.close()


def _id(world, arg: str, endpoint: str) -> int:
    # Versions are numbered from 1 in each agreement: every sent agreement has a version 1.
    return 1 if arg == "number" else world.id_for(arg, endpoint)


def _urls(rule, world) -> list[str]:
    """The rule's URL for each of the world's objects that fit it (every agreement, whatever its state)."""
    args = _int_args(rule)
    if "agreement_id" in args:
        ids = list(world.agreements.values())
    else:
        ids = [None]
    urls = []
    for agreement_id in ids:
        values = {**URL_WORDS, **{arg: _id(world, arg, rule.endpoint) for arg in args}}
        if agreement_id is not None:
            values["agreement_id"] = agreement_id
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls


def test_every_object_route_is_known():
    """The mapping names exactly the object routes there are: none missing, none stale."""
    endpoints = {rule.endpoint for rule in OBJECT_RULES}
    assert endpoints - KNOWN.keys() == set(), "object routes not in KNOWN: add them"
    assert KNOWN.keys() - endpoints == set(), "KNOWN names routes that no longer exist"
    # Only the four kinds of object a world holds appear in URLs.
    assert {arg for rule in OBJECT_RULES for arg in _int_args(rule)} == {
        "organization_id", "meeting_id", "agreement_id", "message_id", "import_id", "area_id", "evaluation_id", "contact_id",
        "user_id",
        "number",  # of a version, within its agreement
    }
    for endpoint, post in KNOWN.items():
        methods = next(rule.methods for rule in OBJECT_RULES if rule.endpoint == endpoint)
        assert (post is not None) == ("POST" in methods), endpoint


@pytest.mark.parametrize(("rule", "method"), CASES)
def test_other_municipalitys_object_is_404(shared, rule, method):
    assert rule.endpoint in KNOWN, f"{rule.rule} ({rule.endpoint}) is not in KNOWN in {__name__}: add it"
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    admin_a = shared.client(a.admin)
    before = snapshot(shared.app)
    urls = _urls(rule, b)
    assert urls
    for url in urls:
        if method == "GET":
            response = admin_a.get(url)
        else:
            response = admin_a.post(url, data=KNOWN[rule.endpoint](a, b))
        page = response.get_data(as_text=True)
        assert response.status_code == 404, f"{method} {url} -> {response.status_code}"
        assert "Fant ikke siden" in page
        for name in b.names():
            assert name not in page
    assert snapshot(shared.app) == before, f"{method} {rule.rule} changed the database"
    # The object fit for the route opens for B's own administrator: the 404 is about the tenant.
    if method == "GET":
        url = rule.build({**URL_WORDS, **{arg: _id(b, arg, rule.endpoint) for arg in _int_args(rule)}}, append_unknown=False)[1]
        assert shared.client(b.admin).get(url).status_code == 200, url


#: Every route without an object id that a municipality's user can open or post to (the
#: public ones aside): the tenant is the user's own municipality. For a GET: names of A
#: that its page must show (B's must not show), or a reason the body is not compared.
#: For a POST: the form A's administrator posts with B's ids in it, and the status that
#: refuses it (None: the form takes no ids; what it writes is the poster's own
#: municipality's, proven by the route's own tests). A route missing here fails.
LIST_GETS: dict = {
    "main.index": lambda a: [a.agreement_titles["accepted"]],  # waiting for the countersignature
    "main.pipeline": lambda a: [],  # counts only: B's names must still not show
    "organizations.index": lambda a: [a.organization_name],
    "organizations.new": lambda a: [a.activity_area_name],  # A's catalogue offered
    "imports.upload": lambda a: ["Last opp"],
    "meetings.index": lambda a: [a.meeting_title],
    "meetings.new": lambda a: [],
    "agreements.index": lambda a: list(a.agreement_titles.values()),
    "agreements.create": lambda a: [a.organization_name],  # A's organisations offered
    "agreements.expiring": lambda a: [],
    "agreements.batch": lambda a: [a.agreement_titles["signed"]],
    "mailbox.index": lambda a: [a.message_subject],
    "admin.users": lambda a: [a.admin, a.staff],
    # The form shows the user's own address (for password managers).
    "auth.change_password": lambda a: [a.admin],
    "admin.activities": lambda a: [a.activity_area_name],
    # The clause library takes no object id: the tenant is the user's own municipality.
    "admin.clauses": lambda a: ["Standardtekster for avtaler"],
    "admin.clause": lambda a: ["Bakgrunn og formål"],
    # The world's signed agreement made A's own self-signed seal certificate.
    "admin.seal": lambda a: [f"{a.prefix} kommune (selvutstedt segl, Dugnad)"],
    "admin.review_links": lambda a: ["Krev engangskode før organisasjonen kan åpne avtalen"],
    # The world's signed agreement has an evaluation, emailed and not yet answered.
    "evaluations.index": lambda a: [a.agreement_titles["signed"]],
    "privacy.settings": lambda a: ["Lagringstid for kontaktpersoner"],
    # The report takes no object id; its coverage lists A's own activity catalogue.
    "reports.council": lambda a: [f"{a.prefix} kommune", a.activity_area_name],
    "reports.council_csv": lambda a: [a.activity_area_name],
    "reports.council_pdf": "compressed PDF: the page it is made from is compared",
    "reports.council_xlsx": "zipped workbook: the page it is made from is compared",
    # The audit log: the municipality's own events, by its own people.
    "auditlog.index": lambda a: [f"{a.prefix} Admin", "Sendt til organisasjonen"],
    "auditlog.export_csv": lambda a: [f"{a.prefix} Admin", "Sendt til organisasjonen"],
    "admin.municipalities": "operators only (403 for A's administrator): lists every municipality by design",
}
LIST_POSTS: dict = {
    "agreements.create": (lambda a, b: {"organization_id": str(b.organization_id)}, 404),
    "agreements.batch_pdf": (lambda a, b: {"agreement": [str(b.agreements["signed"])]}, 400),
    "agreements.archive_zip": (lambda a, b: {"agreement": [str(b.agreements["signed"])]}, 400),
    "organizations.new": None,
    "imports.upload": None,
    "meetings.new": None,
    "admin.users": None,
    "admin.activities": None,
    "admin.clause": None,
    "admin.seal": None,
    "admin.review_links": None,
    "privacy.settings": None,
    "admin.municipalities": None,  # operators only
    "auth.logout": None,
    "auth.change_password": None,
}
PUBLIC = ("/login", "/language", "/verify", "/personvern", "/tilgjengelighet", "/r/", "/static/", "/account/forgot", "/account/invite/", "/account/reset/")
LIST_RULES = [rule for rule in _rules() if not _int_args(rule) and not rule.rule.startswith(PUBLIC)]


def test_every_route_without_an_object_is_known():
    gets = {rule.endpoint for rule in LIST_RULES if "GET" in rule.methods}
    posts = {rule.endpoint for rule in LIST_RULES if "POST" in rule.methods}
    assert gets - LIST_GETS.keys() == set(), "GET routes without an object id not in LIST_GETS: add them"
    assert LIST_GETS.keys() - gets == set(), "LIST_GETS names routes that no longer exist"
    assert posts - LIST_POSTS.keys() == set(), "POST routes without an object id not in LIST_POSTS: add them"
    assert LIST_POSTS.keys() - posts == set(), "LIST_POSTS names routes that no longer exist"


@pytest.mark.parametrize(
    "rule", [pytest.param(rule, id=rule.rule) for rule in LIST_RULES if "GET" in rule.methods]
)
def test_pages_without_an_object_show_only_own_municipality(shared, rule):
    assert rule.endpoint in LIST_GETS, f"{rule.rule} ({rule.endpoint}) is not in LIST_GETS in {__name__}: add it"
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    url = rule.build(URL_WORDS, append_unknown=False)[1]
    response = shared.client(a.admin).get(url)
    own = LIST_GETS[rule.endpoint]
    if isinstance(own, str):  # a reason the body is not compared
        assert response.status_code == (403 if rule.endpoint == "admin.municipalities" else 200), url
        return
    assert response.status_code == 200, url
    page = response.get_data(as_text=True)
    for name in b.names() + [b.admin, b.staff, b.message_subject]:
        assert name not in page, f"{url} shows {name!r} of {B}"
    for name in own(a):
        assert name in page, f"{url} does not show {name!r} of {A}"


@pytest.mark.parametrize("endpoint", [endpoint for endpoint, post in LIST_POSTS.items() if post])
def test_posts_naming_other_municipalitys_objects_are_refused(shared, endpoint):
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    rule = next(rule for rule in LIST_RULES if rule.endpoint == endpoint)
    form, status = LIST_POSTS[endpoint]
    before = snapshot(shared.app)
    response = shared.client(a.admin).post(rule.build(URL_WORDS, append_unknown=False)[1], data=form(a, b))
    assert response.status_code == status
    assert snapshot(shared.app) == before
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        for name in b.names():
            assert name not in page


@pytest.mark.parametrize("htmx", [False, True])
def test_search_does_not_find_other_municipalitys_organisations(shared, htmx):
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    client = shared.client(a.admin)
    headers = {"HX-Request": "true"} if htmx else {}
    b_link = f'href="/organizations/{b.organization_id}"'
    for query in (b.organization_name, "Frivilligsentral", b.org_email, "Leder", ""):
        page = client.get("/organizations/", query_string={"q": query}, headers=headers).get_data(as_text=True)
        assert b_link not in page, query
    # The search itself works: A's organisation is found by the words B's shares.
    page = client.get("/organizations/", query_string={"q": "Frivilligsentral"}, headers=headers).get_data(as_text=True)
    assert f'href="/organizations/{a.organization_id}"' in page


def test_cannot_start_an_agreement_with_other_municipalitys_organisation(shared):
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    before = snapshot(shared.app)
    response = shared.client(a.admin).post("/agreements/new", data={"organization_id": str(b.organization_id)})
    assert response.status_code == 404
    assert snapshot(shared.app) == before


def test_cannot_invite_other_municipalitys_organisation(shared):
    worlds = shared.get()
    a, b = worlds[A], worlds[B]
    response = shared.client(a.admin).post(
        f"/meetings/{a.meeting_id}/invite", data={"organizations": [str(b.organization_id)]}
    )
    assert response.status_code == 400
    assert b.organization_name not in response.get_data(as_text=True)
    with shared.app.app_context():
        invited = db.session.scalars(
            select(Invitation.organization_id).where(Invitation.meeting_id == a.meeting_id)
        ).all()
        mail_to_b = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == b.org_email, OutboxMessage.municipality_id == a.municipality_id)
        ).all()
        db.session.remove()
    assert invited == [a.organization_id]
    assert mail_to_b == []
