"""A municipality with one object of every kind, built through the app's own pages.

Used by test_tenancy, test_access and test_csrf (its forms also by test_bad_input
and test_links): two organisations, a meeting with an invitation (and its emailed
link), agreements in the states draft, sent (with its emailed link), accepted and
signed (so the signed PDF and print view exist), outbox messages, and an uploaded
register file (previewed, not imported). Every name carries a prefix, so a page
that shows another municipality's data can be caught by name.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta

from helpers import PASSWORD, CSRFClient, Factory, empty_database, link_in, login, make_app, outbox
from sqlalchemy import select

from dugnad import evaluations
from dugnad.extensions import db
from dugnad.lifecycle import Actor
from dugnad.models import ActivityArea, Agreement, Contact, Municipality, User
from dugnad.timeutil import OSLO, now_utc

#: The agreement states a World holds, each as its own agreement.
AGREEMENT_STATES = ("draft", "sent", "accepted", "signed")


#: Values for the URL map's non-numeric arguments (e.g. a section of the builder).
URL_WORDS = {"key": "purpose"}


#: A complete, valid form per section of the agreement builder (POST to
#: /agreements/<id>/sections/<key>), each saying the section is complete.
SECTION_FORMS: dict[str, dict] = {
    "parties": {
        "municipality_signatory": "Ola Nordmann", "municipality_signatory_title": "Kommunedirektør",
        "organization_signatory": "Kari Nordmann", "organization_signatory_role": "Styreleder",
        "place": "Fjordvik", "text": "Partene er selvstendige.",
    },
    "purpose": {"text": "Gode lokalsamfunn for nye innbyggere."},
    "target_group": {"text": "Bosatte flyktninger og familiene deres."},
    "activities": {
        "rows-0-area_id": "", "rows-0-what": "Flyktningguide", "rows-0-where": "Biblioteket",
        "rows-0-how_often": "To ganger i måneden", "rows-0-leader": "Kari Nordmann", "text": "",
    },
    "municipality_responsibilities": {"text": "Kontaktperson og lokaler."},
    "organization_responsibilities": {"text": "Frivillige guider med politiattest."},
    "contacts": {
        "municipality_name": "Siri Saksbehandler", "municipality_role": "Flyktningkonsulent",
        "municipality_email": "siri@kommune.example.no", "municipality_phone": "",
        "organization_name": "Kari Nordmann", "organization_role": "Styreleder",
        "organization_email": "kari@lag.example.no", "organization_phone": "",
        "text": "",
    },
    "economy": {
        "grant": "12 500", "payment_schedule": "Utbetales innen 1. mars.",
        "reporting": "Kort rapport innen 1. februar året etter.", "text": "",
    },
    "premises": {"text": "Kommunen låner ut møterom i rådhuset."},
    "privacy": {"text": "Politiattest for frivillige som møter barn."},
    "insurance": {"text": "Organisasjonen forsikrer de frivillige."},
    "meetings": {"text": "Kontaktpersonene møtes to ganger i året."},
    "evaluation": {"interval_months": "12", "text": "Evaluering hver høst."},
    "duration": {"start": "2027-01-01", "end": "2027-12-31", "notice_months": "3", "text": ""},
    "disputes": {"text": "Uenighet løses ved drøftinger."},
}


def section_form(key: str, complete: str = "yes", **overrides) -> dict:
    """A complete, valid form for one section, with `overrides` (field name -> value)."""
    return {**SECTION_FORMS[key], "complete": complete, **overrides}


def write_agreement(client, agreement_id: int, title: str | None = None, **overrides: dict) -> None:
    """Fill every section through the builder, as staff would; `overrides` maps a
    section key to the fields to change (e.g. purpose={"text": "..."})."""
    if title is not None:
        response = client.post(f"/agreements/{agreement_id}/details", data={"title": title, "language": "nb"})
        assert response.status_code == 302, response.get_data(as_text=True)
    for key in SECTION_FORMS:
        response = client.post(f"/agreements/{agreement_id}/sections/{key}", data=section_form(key, **overrides.get(key, {})))
        assert response.status_code == 302, (key, response.status_code, response.get_data(as_text=True)[:2000])


def meeting_form(title: str, starts_in: timedelta = timedelta(days=10), **overrides) -> dict:
    """A complete, valid meeting form, in Norwegian wall-clock time."""
    start = (now_utc() + starts_in).astimezone(OSLO).replace(hour=18, minute=0, second=0, microsecond=0)
    data = {
        "title": title,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "place": "Rådhuset, møterom 1",
        "agenda": "Velkommen",
    }
    data.update(overrides)
    return data


ACCEPT = {
    "action": "accept", "accept-name": "Kari Nordmann", "accept-role": "styreleder", "accept-authority": "y",
    "accept-signature": "Kari Nordmann",
}


@dataclass
class World:
    municipality_id: int
    prefix: str
    admin: str
    staff: str
    #: An operator of the installation (belongs to no municipality).
    operator: str = ""
    organization_id: int = 0
    organization_name: str = ""
    org_email: str = ""
    #: A second organisation, not invited to the meeting and without agreements.
    other_organization_id: int = 0
    other_organization_name: str = ""
    meeting_id: int = 0
    meeting_title: str = ""
    invitation_link: str = ""
    #: state -> agreement id
    agreements: dict[str, int] = field(default_factory=dict)
    #: state -> agreement title
    agreement_titles: dict[str, str] = field(default_factory=dict)
    #: The fingerprint of the version the "accepted" agreement's organisation accepted.
    accepted_sha256: str = ""
    #: The emailed review link of the agreement that is still "sent".
    review_link: str = ""
    #: An outbox message of this municipality (the invitation mail).
    message_id: int = 0
    message_subject: str = ""
    #: An uploaded register file, previewed but not imported; its one row names an organisation.
    import_id: int = 0
    import_row_name: str = ""
    #: An entry of the activity catalogue, renamed to carry the prefix.
    activity_area_id: int = 0
    activity_area_name: str = ""
    #: A third organisation, deleted (soft) through its page.
    deleted_organization_id: int = 0
    deleted_organization_name: str = ""
    #: The signed agreement's evaluation (emailed, not answered) and its emailed link.
    evaluation_id: int = 0
    evaluation_link: str = ""
    #: The primary contact person of the first organisation.
    contact_id: int = 0
    #: A staff member invited by the admin, who has not chosen a password yet.
    invited_user_id: int = 0

    def names(self) -> list[str]:
        """Every distinctive name this municipality's objects carry."""
        return [self.organization_name, self.other_organization_name, self.meeting_title, *self.agreement_titles.values(), self.org_email, self.import_row_name, self.activity_area_name,
                self.deleted_organization_name]

    def id_for(self, arg: str, endpoint: str = "") -> int:
        """A real object id for a URL argument (the agreement in the state the route needs)."""
        if arg == "organization_id":
            # Deleting needs one without agreements waiting; restoring, a deleted one.
            return {
                "organizations.delete": self.other_organization_id,
                "organizations.restore": self.deleted_organization_id,
            }.get(endpoint, self.organization_id)
        if arg == "meeting_id":
            return self.meeting_id
        if arg == "message_id":
            return self.message_id
        if arg == "import_id":
            return self.import_id
        if arg == "area_id":
            return self.activity_area_id
        if arg == "evaluation_id":
            return self.evaluation_id
        if arg == "contact_id":
            return self.contact_id
        if arg == "user_id":
            return self.invited_user_id
        if arg == "agreement_id":
            state = {
                "agreements.edit": "draft",
                "agreements.details": "draft",
                "agreements.section": "draft",
                "agreements.preview_section": "draft",
                "agreements.check": "draft",
                "agreements.send": "draft",
                "agreements.countersign": "accepted",
                "agreements.signed_pdf": "signed",
                "agreements.print_view": "signed",
                "agreements.withdraw": "sent",
                "agreements.resend": "sent",
            }.get(endpoint, "signed")
            return self.agreements[state]
        raise KeyError(f"no object for URL argument {arg!r} (add it to tests/world.py)")


def _id_from(location: str, pattern: str) -> int:
    match = re.search(pattern, location)
    assert match, location
    return int(match.group(1))


def _slug(prefix: str) -> str:
    return prefix.lower().replace("ø", "o").replace("æ", "ae").replace("å", "a").replace(" ", "-")


def build_world(app, factory, prefix: str) -> World:
    """Create a municipality named by `prefix` with one object of every kind, as its admin would."""
    slug = _slug(prefix)
    municipality_id = factory.municipality(f"{prefix} kommune")
    world = World(
        municipality_id=municipality_id,
        prefix=prefix,
        admin=factory.user(municipality_id, "admin", email=f"admin@{slug}.example.no", name=f"{prefix} Admin"),
        staff=factory.user(municipality_id, "staff", email=f"staff@{slug}.example.no", name=f"{prefix} Saksbehandler"),
    )
    world.operator = factory.user(None, "operator", email=f"operator@{slug}.example.no", name=f"{prefix} Drift")
    world.organization_name = f"{prefix} Frivilligsentral"
    world.org_email = f"leder@{slug}-lag.example.no"
    world.organization_id = factory.organization(municipality_id, name=world.organization_name, email=world.org_email)
    with app.app_context():
        world.contact_id = db.session.scalar(select(Contact.id).where(Contact.organization_id == world.organization_id))
    world.other_organization_name = f"{prefix} Idrettslag"
    world.other_organization_id = factory.organization(
        municipality_id, name=world.other_organization_name, email=f"post@{slug}-il.example.no"
    )

    client = app.test_client()
    login(client, world.admin)

    world.meeting_title = f"{prefix} dialogmøte"
    response = client.post("/meetings/new", data=meeting_form(world.meeting_title))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    world.meeting_id = _id_from(response.headers["Location"], r"/meetings/(\d+)")
    response = client.post(f"/meetings/{world.meeting_id}/invite", data={"organizations": [str(world.organization_id)]})
    assert response.status_code == 302
    invitation_mail = outbox(app, to=world.org_email)[-1]
    world.invitation_link = link_in(invitation_mail)
    world.message_id = invitation_mail.id
    world.message_subject = invitation_mail.subject

    world.import_row_name = f"{prefix} Sjakklubb"
    register_file = io.BytesIO(f"navn;organisasjonsnummer\n{world.import_row_name};\n".encode())
    response = client.post("/organizations/import/", data={"file": (register_file, "lag.csv")})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    world.import_id = _id_from(response.headers["Location"], r"/organizations/import/(\d+)")

    with app.app_context():
        world.activity_area_id = db.session.scalar(
            select(ActivityArea.id).where(ActivityArea.municipality_id == municipality_id).order_by(ActivityArea.position)
        )
    world.activity_area_name = f"{prefix} språkvenn"
    response = client.post(
        f"/admin/activities/{world.activity_area_id}",
        data={"action": "rename", f"area-{world.activity_area_id}-name": world.activity_area_name},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    invited = f"ny@{slug}.example.no"
    response = client.post("/admin/users", data={"name": f"{prefix} Nyansatt", "email": invited, "role": "staff"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        world.invited_user_id = db.session.scalar(select(User.id).where(User.email == invited))
    world.deleted_organization_name = f"{prefix} Nedlagt lag"
    world.deleted_organization_id = factory.organization(municipality_id, name=world.deleted_organization_name)
    assert client.post(f"/organizations/{world.deleted_organization_id}/delete", data={}).status_code == 302

    visitor = app.test_client()
    for state in AGREEMENT_STATES:
        response = client.post("/agreements/new", data={"organization_id": str(world.organization_id)})
        assert response.status_code == 302
        agreement_id = _id_from(response.headers["Location"], r"/agreements/(\d+)/edit")
        title = f"{prefix} avtale ({state})"
        write_agreement(client, agreement_id, title)
        world.agreements[state] = agreement_id
        world.agreement_titles[state] = title
        if state == "draft":
            continue
        assert client.post(f"/agreements/{agreement_id}/send", data={}).status_code == 302
        link = link_in(outbox(app, to=world.org_email)[-1])
        if state == "sent":
            world.review_link = link
            continue
        assert visitor.post(link, data=ACCEPT).status_code == 302
        if state == "accepted":
            world.accepted_sha256 = countersign_form(app, agreement_id)["version_sha256"]
        if state == "signed":
            response = client.post(f"/agreements/{agreement_id}/countersign", data=countersign_form(app, agreement_id))
            assert response.status_code == 302
    # The signed agreement's evaluation, emailed as `flask evaluations` does on its date.
    with app.app_context():
        agreement = db.session.get(Agreement, world.agreements["signed"])
        world.evaluation_id = evaluations.request_evaluation(agreement, agreement.valid_to, Actor(label="Dugnad")).id
        db.session.commit()
    world.evaluation_link = link_in(outbox(app, to=world.org_email)[-1])
    assert agreement_states(app, world) == {state: state for state in AGREEMENT_STATES}
    return world


def countersign_form(app, agreement_id: int, role: str = "Kommunedirektør", password: str = PASSWORD) -> dict:
    """The countersign form as the page fills it: the role, the fingerprint of the
    version the organisation accepted (what the administrator was shown), and the
    administrator's password typed again (every Factory user has PASSWORD)."""
    with app.app_context():
        version = db.session.get(Agreement, agreement_id).accepted_version
        return {"role": role, "version_sha256": version.sha256 if version else "", "password": password}


def agreement_states(app, world: World) -> dict[str, str]:
    with app.app_context():
        return {
            label: db.session.get(Agreement, agreement_id).state
            for label, agreement_id in world.agreements.items()
        }


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a request changed nothing."""
    with app.app_context():
        result = {}
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            result[table.name] = [tuple(row) for row in rows]
        db.session.remove()
        return result



# --- Worlds shared by the tests of one module ---------------------------------
#
# Building a world takes a few seconds (the signed PDF is rendered), too slow to
# repeat for each of dozens of parametrised cases that only read. A module builds
# its worlds once, on an app of its own over the same test database; if a test
# using the ordinary `app` fixture empties the database meanwhile, they are rebuilt.


class SharedWorlds:
    """Worlds named by `prefixes`, built once and reused while they still exist."""

    def __init__(self, database_url: str, prefixes: tuple[str, ...]):
        self.database_url = database_url
        self.app = make_app(database_url)
        self.factory = Factory(self.app)
        # Kommunenummer 9700-9999, never those of the `factory` fixture. Worlds are rebuilt
        # only after the database was emptied, so the numbers can go round.
        self.factory.kommunenummer = itertools.cycle(range(9700, 10000))
        self.prefixes = prefixes
        self._worlds: dict[str, World] | None = None
        self._clients: dict[str, CSRFClient] = {}

    def _alive(self) -> bool:
        with self.app.app_context():
            alive = all(
                db.session.scalar(
                    select(Municipality.id).where(
                        Municipality.id == world.municipality_id, Municipality.name == f"{world.prefix} kommune"
                    )
                )
                for world in self._worlds.values()
            )
            db.session.remove()
        return alive

    def get(self) -> dict[str, World]:
        if self._worlds is None or not self._alive():
            empty_database(self.database_url)
            self._clients = {}
            self._worlds = {prefix: build_world(self.app, self.factory, prefix) for prefix in self.prefixes}
        return self._worlds

    def client(self, email: str | None) -> CSRFClient:
        """A client logged in as `email` (anonymous for None), kept for the module's next tests."""
        self.get()
        key = email or ""
        if key not in self._clients:
            client = self.app.test_client()
            if email:
                login(client, email)
            self._clients[key] = client
        return self._clients[key]

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        empty_database(self.database_url)
