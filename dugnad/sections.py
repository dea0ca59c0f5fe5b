"""The fifteen sections of a samarbeidsavtale, in document order.

Follows the content of real Norwegian agreements (see the domain notes). Each
section stores a dict of plain strings (and, for activities, a list of rows):
what the fields hold is defined here, how they are validated in the agreement
forms, how they read in the document in `templates/agreements/_document.html`.

Every section has a `text` field whose default wording comes from the
municipality's clause library (`dugnad.clauses`), in bokmål or nynorsk.

Titles and guidance are bokmål msgids: the interface shows them in the user's
language, the document in the agreement's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

#: The longest free text of a section's main field, stated next to the field.
TEXT_MAX = 5000
#: Short one-line fields (names, roles, places).
LINE_MAX = 200
#: At most this many activity rows; more is a sign of several agreements in one.
ACTIVITY_ROWS_MAX = 30

DOCUMENT_LANGUAGES = {"nb": _l("Bokmål"), "nn": _l("Nynorsk")}


class Status:
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ALL = (NOT_STARTED, IN_PROGRESS, COMPLETED)


@dataclass(frozen=True)
class Section:
    key: str
    title: object  # a lazy string
    guidance: object
    #: Must be completed before the agreement can be sent.
    required: bool = False
    #: The fields besides `text`, with their empty values.
    extra: dict = field(default_factory=dict)
    #: Completing the section needs the text filled in.
    text_required: bool = True

    def empty(self) -> dict:
        data = {"text": ""}
        for name, value in self.extra.items():
            data[name] = list(value) if isinstance(value, list) else value
        return data


CONTACT_FIELDS = ("name", "role", "email", "phone")
ACTIVITY_ROW_FIELDS = ("area_id", "area", "what", "where", "how_often", "leader")

SECTIONS: tuple[Section, ...] = (
    Section(
        "parties",
        _l("Parter og signatarer"),
        _l(
            "Navn, organisasjonsnummer og adresse hentes fra registeret. Skriv hvem som "
            "signerer for hver part: for organisasjonen normalt styrelederen."
        ),
        required=True,
        text_required=False,
        extra={
            "municipality_signatory": "",
            "municipality_signatory_title": "",
            "organization_signatory": "",
            "organization_signatory_role": "",
            "place": "",
        },
    ),
    Section(
        "purpose",
        _l("Bakgrunn og formål"),
        _l("Hvorfor samarbeider dere, og hva vil dere oppnå sammen? To eller tre setninger holder."),
        required=True,
    ),
    Section(
        "target_group",
        _l("Målgruppe"),
        _l("Hvem er aktivitetene for? For eksempel bosatte flyktninger i alle aldre, eller barn og unge."),
    ),
    Section(
        "activities",
        _l("Aktiviteter"),
        _l(
            "Én rad per aktivitet: hva, hvor, hvor ofte og hvem som leder den. "
            "Områdene kommer fra kommunens aktivitetskatalog."
        ),
        required=True,
        text_required=False,
        extra={"rows": []},
    ),
    Section(
        "municipality_responsibilities",
        _l("Kommunens ansvar"),
        _l("Hva kommunen bidrar med: informasjon, kontaktperson, lokaler, tilskudd, opplæring."),
        required=True,
    ),
    Section(
        "organization_responsibilities",
        _l("Organisasjonens ansvar"),
        _l("Hva organisasjonen bidrar med: frivillige, aktiviteter, oppfølging av de frivillige."),
        required=True,
    ),
    Section(
        "contacts",
        _l("Kontaktpersoner"),
        _l("Faste kontaktpersoner hos begge parter, med e-post eller telefon."),
        required=True,
        text_required=False,
        extra={f"{side}_{name}": "" for side in ("municipality", "organization") for name in CONTACT_FIELDS},
    ),
    Section(
        "economy",
        _l("Økonomi"),
        _l(
            "Tilskudd i kroner, når det betales ut og hvordan det rapporteres. "
            "La beløpet stå tomt hvis samarbeidet ikke har tilskudd."
        ),
        text_required=False,
        extra={"grant": "", "payment_schedule": "", "reporting": ""},
    ),
    Section(
        "premises",
        _l("Lokaler og utstyr"),
        _l("Hvilke lokaler og hvilket utstyr kan organisasjonen bruke, og på hvilke vilkår?"),
    ),
    Section(
        "privacy",
        _l("Politiattest, taushetsplikt og personopplysninger"),
        _l(
            "Når trengs politiattest, hvem har taushetsplikt, og hvordan behandles "
            "personopplysninger? Kommunen skal ikke oppbevare politiattester."
        ),
    ),
    Section(
        "insurance",
        _l("Forsikring"),
        _l("Hvem forsikrer de frivillige og deltakerne under aktivitetene?"),
    ),
    Section(
        "meetings",
        _l("Møter og informasjon"),
        _l("Hvor ofte møtes partene, og hvordan deler dere informasjon underveis?"),
    ),
    Section(
        "evaluation",
        _l("Evaluering"),
        _l("Hvordan og hvor ofte dere evaluerer samarbeidet. Det vanlige er én gang i året."),
        extra={"interval_months": "12"},
    ),
    Section(
        "duration",
        _l("Varighet, endringer og oppsigelse"),
        _l(
            "Når avtalen gjelder fra og eventuelt til, oppsigelsestiden i måneder, og "
            "hvordan avtalen kan endres."
        ),
        required=True,
        text_required=False,
        extra={"start": "", "end": "", "notice_months": "3"},
    ),
    Section(
        "disputes",
        _l("Tvister"),
        _l("Hvordan partene løser uenighet om avtalen."),
    ),
)

SECTION_KEYS = tuple(section.key for section in SECTIONS)
SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}
REQUIRED_SECTIONS = tuple(section.key for section in SECTIONS if section.required)


def next_section(key: str) -> Section | None:
    index = SECTION_KEYS.index(key)
    return SECTIONS[index + 1] if index + 1 < len(SECTIONS) else None


def normalize(key: str, data: dict | None) -> dict:
    """A section's stored data with every field present (older rows may lack new fields)."""
    section = SECTIONS_BY_KEY[key]
    result = section.empty()
    if isinstance(data, dict):
        for name in result:
            if name in data:
                result[name] = data[name]
    return result


def is_blank(key: str, data: dict) -> bool:
    """Nothing written (a default number alone is not content): the document leaves it out."""
    defaults = SECTIONS_BY_KEY[key].extra
    for name, value in data.items():
        if name == "rows":
            if value:
                return False
        elif isinstance(value, str) and value.strip() and value != defaults.get(name):
            return False
    return True


# --- Default wording: the built-in clause library ---------------------------------------
# Each municipality's administrators can replace these (dugnad.clauses); a new agreement
# starts from the municipality's wording in the agreement's language.

DEFAULT_CLAUSES: dict[str, dict[str, str]] = {
    "parties": {
        "nb": (
            "Avtalen er inngått mellom partene nedenfor. Organisasjonen er selvstendig og "
            "bestemmer selv over sin virksomhet. Avtalen er et gjensidig samarbeid, ikke et kjøp av tjenester."
        ),
        "nn": (
            "Avtalen er inngått mellom partane nedanfor. Organisasjonen er sjølvstendig og "
            "bestemmer sjølv over verksemda si. Avtalen er eit gjensidig samarbeid, ikkje eit kjøp av tenester."
        ),
    },
    "purpose": {
        "nb": (
            "Partene vil samarbeide om bosetting og integrering av flyktninger, slik at nye "
            "innbyggere raskt blir en del av lokalsamfunnet, lærer norsk og får et sosialt nettverk."
        ),
        "nn": (
            "Partane vil samarbeide om busetjing og integrering av flyktningar, slik at nye "
            "innbyggjarar raskt blir ein del av lokalsamfunnet, lærer norsk og får eit sosialt nettverk."
        ),
    },
    "target_group": {
        "nb": "Flyktninger som er bosatt i kommunen, og familiene deres.",
        "nn": "Flyktningar som er busette i kommunen, og familiane deira.",
    },
    "activities": {
        "nb": "Aktivitetene er gratis og åpne for alle i målgruppen.",
        "nn": "Aktivitetane er gratis og opne for alle i målgruppa.",
    },
    "municipality_responsibilities": {
        "nb": (
            "Kommunen har en fast kontaktperson for samarbeidet, gir organisasjonen informasjon "
            "om bosettingen i den grad reglene om taushetsplikt tillater det, og formidler "
            "kontakt mellom nye innbyggere og organisasjonen når de ønsker det."
        ),
        "nn": (
            "Kommunen har ein fast kontaktperson for samarbeidet, gir organisasjonen informasjon "
            "om busetjinga så langt reglane om teieplikt tillèt det, og formidlar kontakt mellom "
            "nye innbyggjarar og organisasjonen når dei ønskjer det."
        ),
    },
    "organization_responsibilities": {
        "nb": (
            "Organisasjonen rekrutterer, lærer opp og følger opp de frivillige, gjennomfører "
            "aktivitetene som beskrevet i avtalen og sier fra til kommunen hvis noe endrer seg."
        ),
        "nn": (
            "Organisasjonen rekrutterer, lærer opp og følgjer opp dei frivillige, gjennomfører "
            "aktivitetane slik avtalen skildrar og seier frå til kommunen dersom noko endrar seg."
        ),
    },
    "contacts": {
        "nb": "Partene sier fra til hverandre når en kontaktperson byttes.",
        "nn": "Partane seier frå til kvarandre når ein kontaktperson blir bytt.",
    },
    "economy": {
        "nb": (
            "Tilskuddet er et bidrag til organisasjonens arbeid og ikke betaling for en tjeneste. "
            "Ubrukte midler kan kreves tilbakebetalt."
        ),
        "nn": (
            "Tilskotet er eit bidrag til arbeidet i organisasjonen og ikkje betaling for ei teneste. "
            "Midlar som ikkje er brukte, kan krevjast tilbakebetalte."
        ),
    },
    "premises": {
        "nb": "Kommunen stiller lokaler til disposisjon uten kostnad etter avtale med kontaktpersonen.",
        "nn": "Kommunen stiller lokale til disposisjon utan kostnad etter avtale med kontaktpersonen.",
    },
    "privacy": {
        "nb": (
            "Frivillige som arbeider med barn eller personer i sårbare situasjoner, skal vise "
            "politiattest til organisasjonen før de starter. Organisasjonen bekrefter overfor "
            "kommunen at dette er gjort; kommunen oppbevarer ikke politiattestene. De frivillige "
            "har taushetsplikt om personlige forhold de får vite om, og organisasjonen behandler "
            "personopplysninger etter personopplysningsloven."
        ),
        "nn": (
            "Frivillige som arbeider med barn eller personar i sårbare situasjonar, skal vise "
            "politiattest til organisasjonen før dei byrjar. Organisasjonen stadfestar overfor "
            "kommunen at dette er gjort; kommunen tek ikkje vare på politiattestane. Dei frivillige "
            "har teieplikt om personlege forhold dei får vite om, og organisasjonen behandlar "
            "personopplysningar etter personopplysningslova."
        ),
    },
    "insurance": {
        "nb": "Organisasjonen sørger for at de frivillige er forsikret under aktivitetene.",
        "nn": "Organisasjonen syter for at dei frivillige er forsikra under aktivitetane.",
    },
    "meetings": {
        "nb": (
            "Kontaktpersonene møtes minst to ganger i året. Partene informerer hverandre "
            "fortløpende om forhold som har betydning for samarbeidet."
        ),
        "nn": (
            "Kontaktpersonane møtest minst to gonger i året. Partane informerer kvarandre "
            "fortløpande om forhold som har betydning for samarbeidet."
        ),
    },
    "evaluation": {
        "nb": (
            "Partene evaluerer samarbeidet sammen: hva har gått bra, hva kan bli bedre, og hvor "
            "mange frivillige og deltakere har vært med. Avtalen gjennomgås også etter kommunevalg."
        ),
        "nn": (
            "Partane evaluerer samarbeidet saman: kva har gått bra, kva kan bli betre, og kor "
            "mange frivillige og deltakarar har vore med. Avtalen blir også gjennomgått etter kommuneval."
        ),
    },
    "duration": {
        "nb": (
            "Endringer i avtalen gjøres skriftlig og signeres av begge parter. Hver av partene "
            "kan si opp avtalen skriftlig med oppsigelsestiden som er nevnt."
        ),
        "nn": (
            "Endringar i avtalen blir gjorde skriftleg og signerte av begge partar. Kvar av partane "
            "kan seie opp avtalen skriftleg med oppseiingstida som er nemnd."
        ),
    },
    "disputes": {
        "nb": (
            "Uenighet om avtalen løses først ved drøftinger mellom kontaktpersonene, deretter "
            "mellom kommunens ledelse og organisasjonens styre."
        ),
        "nn": (
            "Usemje om avtalen blir først løyst ved drøftingar mellom kontaktpersonane, deretter "
            "mellom leiinga i kommunen og styret i organisasjonen."
        ),
    },
}
