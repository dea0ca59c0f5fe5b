"""The demo municipality that `make run` loads into an empty database.

Fjordvik is fictional; its organisation numbers pass the MOD11 check but are
made up. Mail goes to the Mailbox page unless MAIL_SERVER is set.
"""

from __future__ import annotations

from sqlalchemy import select

from . import accounts, agreements
from .extensions import db
from .lifecycle import Actor
from .models import ActivityArea, Contact, Municipality, Organization, User

KOMMUNENUMMER = "9999"

CREDENTIALS = {
    "admin": ("admin@fjordvik.eksempel.no", "fjordvik-admin-2026"),
    "staff": ("saksbehandler@fjordvik.eksempel.no", "fjordvik-ansatt-2026"),
}

ORGANIZATIONS = [
    {
        "name": "Fjordvik Røde Kors",
        "org_type": "humanitarian",
        "areas": ["Flyktningguide / flyktningvenn", "Beredskap og mottak", "Informasjon og veiledning"],
        "notes": "Driver flyktningguide-ordningen. Ønsker fast møterom i rådhuset.",
        "org_number": "991000003",
        "address": "Storgata 12",
        "email": "post@rodekors.fjordvik.eksempel.no",
        "contact": ("Kari Nordmann", "styreleder", "kari@rodekors.fjordvik.eksempel.no", "900 11 222"),
    },
    {
        "name": "Fjordvik Idrettslag",
        "org_type": "sports",
        "areas": ["Idrett", "Svømmeopplæring", "Ungdom"],
        "notes": "Kan tilby gratis treningsplass for barn det første året.",
        "org_number": "991000011",
        "address": "Idrettsveien 1",
        "email": "post@il.fjordvik.eksempel.no",
        "contact": ("Ola Hansen", "leder", "ola@il.fjordvik.eksempel.no", "911 22 333"),
    },
    {
        "name": "Fjordvik Frivilligsentral",
        "org_type": "volunteer_centre",
        "areas": ["Språkkafé / norsktrening", "Utlån av utstyr (BUA)", "Velkomstarrangement og møteplasser"],
        "notes": "",
        "org_number": "991000038",
        "address": "Torget 3",
        "email": "frivilligsentral@fjordvik.eksempel.no",
        "contact": ("Amina Yusuf", "daglig leder", "amina@frivilligsentral.fjordvik.eksempel.no", "922 33 444"),
    },
    {
        "name": "Eritreisk forening i Fjordvik",
        "org_type": "immigrant",
        "areas": ["Informasjon og veiledning", "Barn og familie (lekekafé, ferieaktiviteter)"],
        "notes": "Uformell gruppe uten organisasjonsnummer. Kan hjelpe med tolking på tigrinja.",
        "org_number": None,  # an informal group without a registered number
        "address": "",
        "email": "",
        "contact": ("Yonas Tesfay", "leder", "yonas@eritreisk.fjordvik.eksempel.no", "933 44 555"),
    },
    {
        "name": "Fjordvik Sanitetsforening",
        "org_type": "humanitarian",
        "areas": ["Barn og familie (lekekafé, ferieaktiviteter)", "Velkomstarrangement og møteplasser"],
        "notes": "",
        "org_number": "991000046",
        "address": "Kirkebakken 5",
        "email": "post@sanitet.fjordvik.eksempel.no",
        "contact": ("Ingrid Berg", "styreleder", "ingrid@sanitet.fjordvik.eksempel.no", ""),
    },
    {
        "name": "Språkkafeen på biblioteket",
        "org_type": "culture",
        "areas": ["Språkkafé / norsktrening", "Leksehjelp"],
        "notes": "Mangler kontaktperson: spør biblioteket hvem som leder språkkafeen.",
        "org_number": None,
        "address": "Fjordvik bibliotek",
        "email": "",
        "contact": None,  # no email address yet: shows how Dugnad names such gaps
    },
]


def load_demo() -> bool:
    """Create the demo municipality with users and organisations; False if it exists."""
    if db.session.scalar(select(Municipality).where(Municipality.kommunenummer == KOMMUNENUMMER)):
        return False
    municipality = accounts.create_municipality(
        "Fjordvik kommune", KOMMUNENUMMER, "991000054", "Rådhusplassen 1, 9999 Fjordvik"
    )
    admin_email, admin_password = CREDENTIALS["admin"]
    staff_email, staff_password = CREDENTIALS["staff"]
    accounts.create_user(
        municipality.id, admin_email, "Anne Administrator", "admin", admin_password, title="Kommunedirektør"
    )
    accounts.create_user(
        municipality.id, staff_email, "Sigurd Saksbehandler", "staff", staff_password, title="Flyktningkoordinator"
    )
    db.session.flush()
    areas = {area.name: area for area in db.session.scalars(
        select(ActivityArea).where(ActivityArea.municipality_id == municipality.id)
    )}
    for data in ORGANIZATIONS:
        organization = Organization(
            municipality_id=municipality.id,
            name=data["name"],
            org_number=data["org_number"],
            address=data["address"],
            postal_code="9999" if data["address"] else "",
            city="Fjordvik" if data["address"] else "",
            email=data["email"],
            org_type=data["org_type"],
            notes=data["notes"],
            activity_areas=[areas[name] for name in data["areas"]],
        )
        if data["contact"]:
            name, role, email, phone = data["contact"]
            organization.contacts.append(
                Contact(municipality_id=municipality.id, name=name, role=role, email=email, phone=phone, is_primary=True)
            )
        db.session.add(organization)
    db.session.flush()
    _draft_agreement(municipality, areas)
    return True


def _draft_agreement(municipality: Municipality, areas: dict[str, ActivityArea]) -> None:
    """A draft half-way through the builder, so a first visit shows the task list at work."""
    staff = db.session.scalar(select(User).where(User.email == CREDENTIALS["staff"][0]))
    organization = db.session.scalar(
        select(Organization).where(Organization.municipality_id == municipality.id, Organization.name == ORGANIZATIONS[0]["name"])
    )
    actor = Actor(label=staff.name, user_id=staff.id)
    agreement = agreements.create_draft(
        organization, staff, actor, activity_areas=[areas[name] for name in ORGANIZATIONS[0]["areas"]]
    )
    for key in ("purpose", "target_group"):
        data = agreement.section(key).data
        agreements.save_section(agreement, key, data, revision=None, complete=True, explicit=True, user=staff, actor=actor)
    agreements.save_section(
        agreement, "activities", agreement.section("activities").data,
        revision=None, complete=False, explicit=True, user=staff, actor=actor,
    )
