"""The agreement's forms: one per section (GOV.UK: one thing per page), plus the
details (title, language), the new-agreement choice and countersigning.

Format rules (an amount, a date, a length) apply on every save, autosave too.
The rules for a *complete* section apply only when the user says it is complete.
Every message names the field and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dugnad import money
from dugnad.access import scoped
from dugnad.extensions import db
from dugnad.models import ActivityArea, Contact, Organization
from dugnad.sections import (
    ACTIVITY_ROWS_MAX,
    DOCUMENT_LANGUAGES,
    LINE_MAX,
    SECTIONS_BY_KEY,
    TEXT_MAX,
    Status,
)

from ..formtools import StrippedMeta

NAME_MAX = 120
PHONE_PATTERN = r"^\+?[0-9 ()-]+$"
#: Longest payment schedule or reporting text.
DETAIL_MAX = 2000
NOTICE_MONTHS_MAX = 24
EVALUATION_MONTHS_MAX = 36


def _line(label, max_length=LINE_MAX, **kwargs):
    return StringField(
        label,
        validators=[Length(max=max_length, message=_l("Kan ha høyst %(max)d tegn.", max=max_length))],
        **kwargs,
    )


def _email(label):
    return EmailField(
        label,
        validators=[
            Optional(),
            Email(_l("Skriv en gyldig e-postadresse, for eksempel navn@lag.no.")),
            Length(max=254, message=_l("E-postadressen kan ha høyst %(max)d tegn.")),
        ],
    )


def _phone(label):
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=30, message=_l("Telefonnummeret kan ha høyst %(max)d tegn.")),
            Regexp(PHONE_PATTERN, message=_l("Telefonnummeret kan bare ha siffer, mellomrom, bindestrek, parenteser og + først.")),
        ],
    )


def _require(field, message) -> bool:
    if not (field.data or "").strip():
        field.errors.append(message)
        return False
    return True


def _months(field, low: int, high: int) -> None:
    """A whole number of months in [low, high]; the field's text is kept as typed."""
    value = (field.data or "").strip()
    if not value:
        return
    # ASCII digits only: str.isdigit() also admits "²", which int() refuses (a 500).
    if not re.fullmatch(r"[0-9]{1,4}", value) or not low <= int(value) <= high:
        raise ValidationError(_l("Skriv et helt antall måneder fra %(low)d til %(high)d.", low=low, high=high))


def _parse_date(field) -> date | None:
    """ISO (from a date picker) or as Norwegians write it: 31.12.2027 or 31.12.27."""
    value = (field.data or "").strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


class SectionForm(FlaskForm):
    """What every section page has: the clause text, 'is it complete?', and the
    revision the page was loaded from (a save from an older one is a conflict)."""

    class Meta(StrippedMeta):
        pass

    text = TextAreaField(
        _l("Tekst i avtalen"),
        description=_l("Høyst %(max)s tegn. Standardteksten kommer fra kommunens tekstbibliotek.", max="5 000"),
        validators=[Length(max=TEXT_MAX, message=_l("Teksten kan ha høyst %(max)s tegn.", max="5 000"))],
    )
    complete = RadioField(
        _l("Er avsnittet ferdig?"),
        choices=[
            SelectChoice("yes", _l("Ja, avsnittet er ferdig")),
            SelectChoice("no", _l("Nei, jeg fortsetter senere")),
        ],
        validators=[Optional()],
    )
    revision = HiddenField()

    #: Set by the subclass.
    key = ""

    def __init__(self, *args, areas: list[ActivityArea] = (), **kwargs):
        self._areas = list(areas)
        super().__init__(*args, **kwargs)

    @property
    def section(self):
        return SECTIONS_BY_KEY[self.key]

    # --- stored data <-> form ---------------------------------------------------------------
    @classmethod
    def initial(cls, data: dict, status: str) -> dict:
        """The form's data for a stored section (GET)."""
        values = dict(data)
        values["complete"] = {Status.COMPLETED: "yes", Status.IN_PROGRESS: "no"}.get(status)
        return values

    def to_data(self) -> dict:
        data = {"text": self.text.data or ""}
        for name in self.section.extra:
            data[name] = (self[name].data or "").strip()
        return data

    def wants_complete(self) -> bool:
        return self.complete.data == "yes"

    # --- validation --------------------------------------------------------------------------
    def validate_for_save(self, require_choice: bool, check_complete: bool) -> bool:
        """Format rules always; "is it complete?" answered when `require_choice`;
        a section said to be complete needs its required fields (`check_complete`)."""
        valid = self.validate()
        if require_choice and self.complete.data not in ("yes", "no"):
            self.complete.errors = [_l("Velg om avsnittet er ferdig, eller om du vil fortsette senere.")]
            valid = False
        if valid and check_complete and self.wants_complete():
            valid = self.check_complete()
        return valid

    def check_complete(self) -> bool:
        """Fields a complete section must have; appends errors, True if none."""
        if self.section.text_required:
            return _require(self.text, _l("Skriv teksten, eller velg «Nei» og fortsett senere."))
        return True

    def is_complete(self) -> bool:
        """Would the saved data count as complete (for an autosave of a completed section)?"""
        errors = {name: list(self[name].errors) for name in self._fields}
        complete = self.check_complete()
        for name, kept in errors.items():  # an autosave shows no completion errors
            self[name].errors = kept
        return complete


class TextSectionForm(SectionForm):
    """Sections that are only text."""


class PartiesForm(SectionForm):
    key = "parties"
    municipality_signatory = _line(_l("Hvem signerer for kommunen?"), NAME_MAX, description=_l("Fullt navn."))
    municipality_signatory_title = _line(_l("Stillingen til den som signerer for kommunen"), NAME_MAX, description=_l("For eksempel kommunedirektør."))
    organization_signatory = _line(_l("Hvem signerer for organisasjonen?"), NAME_MAX, description=_l("Fullt navn, normalt styrelederen."))
    organization_signatory_role = _line(_l("Rollen til den som signerer for organisasjonen"), NAME_MAX, description=_l("For eksempel styreleder."))
    place = _line(_l("Sted for signering"), NAME_MAX, description=_l("For eksempel kommunens navn."))

    def check_complete(self) -> bool:
        results = [
            _require(self.municipality_signatory, _l("Skriv navnet på den som signerer for kommunen.")),
            _require(self.municipality_signatory_title, _l("Skriv stillingen til den som signerer for kommunen.")),
            _require(self.organization_signatory, _l("Skriv navnet på den som signerer for organisasjonen.")),
            _require(self.organization_signatory_role, _l("Skriv rollen til den som signerer for organisasjonen.")),
        ]
        return all(results)


class ActivityRowForm(Form):
    """One activity: what, where, how often, who leads (no CSRF: part of the section form)."""

    class Meta(StrippedMeta):
        pass

    area_id = SelectField(_l("Område"), choices=[], validate_choice=False)
    what = _line(_l("Hva"), description=_l("For eksempel leksehjelp for 5.–10. trinn."))
    where = _line(_l("Hvor"))
    how_often = _line(_l("Hvor ofte"), description=_l("For eksempel hver tirsdag kl. 17–19."))
    leader = _line(_l("Hvem leder"), NAME_MAX)

    def has_details(self) -> bool:
        return any((self.area_id.data, self.what.data, self.where.data, self.how_often.data, self.leader.data))

    def validate_area_id(self, field):
        # The parent sets the choices: the municipality's visible areas (and the row's own).
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Velg et område fra listen."))

    def validate_what(self, field):
        if self.has_details() and not field.data:
            raise ValidationError(_l("Skriv hva aktiviteten er."))


class ActivitiesForm(SectionForm):
    key = "activities"
    rows = FieldList(FormField(ActivityRowForm), label=_l("Aktivitet"), max_entries=ACTIVITY_ROWS_MAX)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for entry in self.rows:
            entry.area_id.choices = self._area_choices()

    def _area_choices(self) -> list:
        return [("", _l("Velg område"))] + [(str(area.id), area.name) for area in self._areas]

    @classmethod
    def initial(cls, data: dict, status: str) -> dict:
        values = super().initial(data, status)
        values["rows"] = [
            {**row, "area_id": str(row.get("area_id") or "")} for row in data.get("rows", [])
        ] or [{}]
        return values

    def to_data(self) -> dict:
        names = {str(area.id): area.name for area in self._areas}
        rows = []
        for entry in self.rows:
            if not entry.has_details():
                continue  # an empty row is no activity
            area_id = entry.area_id.data or ""
            rows.append({
                "area_id": area_id,
                "area": names.get(area_id, ""),
                "what": entry.what.data or "",
                "where": entry.where.data or "",
                "how_often": entry.how_often.data or "",
                "leader": entry.leader.data or "",
            })
        return {"text": self.text.data or "", "rows": rows}

    def check_complete(self) -> bool:
        if not any(entry.has_details() for entry in self.rows):
            # A str, not a lazy string: the rows template tells this message from the rows'
            # own error dicts with `is string`, which a lazy string fails (it was never shown).
            self.rows.errors.append(str(_l("Legg inn minst én aktivitet, eller velg «Nei» og fortsett senere.")))
            return False
        return True

    # Rows are added and removed in place (htmx) or by a plain submit without JavaScript.
    def add_row(self) -> int | None:
        """One more empty row; its index, or None when the list is full."""
        if len(self.rows.entries) >= ACTIVITY_ROWS_MAX:
            return None
        self.rows.append_entry()
        self.rows.entries[-1].area_id.choices = self._area_choices()
        return len(self.rows.entries) - 1

    def remove_row(self, index: int) -> None:
        if 0 <= index < len(self.rows.entries):
            self.rows.pop_entry(index)


class ContactsForm(SectionForm):
    key = "contacts"
    municipality_name = _line(_l("Kommunens kontaktperson"), NAME_MAX)
    municipality_role = _line(_l("Stilling"), NAME_MAX)
    municipality_email = _email(_l("E-post"))
    municipality_phone = _phone(_l("Telefon"))
    organization_name = _line(_l("Organisasjonens kontaktperson"), NAME_MAX)
    organization_role = _line(_l("Rolle i organisasjonen"), NAME_MAX)
    organization_email = _email(_l("E-post"))
    organization_phone = _phone(_l("Telefon"))

    def check_complete(self) -> bool:
        complete = True
        for side, name_message, reach_message in (
            ("municipality", _l("Skriv navnet på kommunens kontaktperson."), _l("Skriv e-post eller telefon til kommunens kontaktperson.")),
            ("organization", _l("Skriv navnet på organisasjonens kontaktperson."), _l("Skriv e-post eller telefon til organisasjonens kontaktperson.")),
        ):
            complete &= _require(self[f"{side}_name"], name_message)
            if not (self[f"{side}_email"].data or self[f"{side}_phone"].data):
                self[f"{side}_email"].errors.append(reach_message)
                complete = False
        return complete


AMOUNT_MESSAGES = {
    "format": _l("Skriv beløpet i kroner med siffer, for eksempel 12 500 eller 12 500,50."),
    "negative": _l("Beløpet kan ikke være negativt."),
    "decimals": _l("Beløpet kan ha høyst to desimaler (øre)."),
    "thousands_dot": _l("Skriv tusener med mellomrom, ikke punktum: for eksempel 12 500."),
    "too_large": _l("Beløpet kan være høyst kr 100 000 000."),
}


class EconomyForm(SectionForm):
    key = "economy"
    grant = StringField(
        _l("Tilskudd i kroner"),
        description=_l("For eksempel 12 500 eller 12 500,50. La feltet stå tomt hvis det ikke er tilskudd."),
    )
    payment_schedule = TextAreaField(
        _l("Utbetaling"),
        description=_l("Når og hvordan tilskuddet betales ut. Høyst %(max)s tegn.", max="2 000"),
        validators=[Length(max=DETAIL_MAX, message=_l("Teksten kan ha høyst %(max)s tegn.", max="2 000"))],
    )
    reporting = TextAreaField(
        _l("Rapportering"),
        description=_l("Hva organisasjonen rapporterer om bruken av tilskuddet, og når. Høyst %(max)s tegn.", max="2 000"),
        validators=[Length(max=DETAIL_MAX, message=_l("Teksten kan ha høyst %(max)s tegn.", max="2 000"))],
    )

    @classmethod
    def initial(cls, data: dict, status: str) -> dict:
        values = super().initial(data, status)
        values["grant"] = money.for_input(data.get("grant", ""))
        return values

    def validate_grant(self, field):
        if field.data:
            try:
                money.parse_nok(field.data)
            except money.AmountError as error:
                raise ValidationError(AMOUNT_MESSAGES[error.code]) from None

    def to_data(self) -> dict:
        data = super().to_data()
        data["grant"] = money.canonical(money.parse_nok(self.grant.data)) if self.grant.data else ""
        return data

    def check_complete(self) -> bool:
        if self.grant.data and money.parse_nok(self.grant.data) > 0:
            results = [
                _require(self.payment_schedule, _l("Skriv når tilskuddet betales ut.")),
                _require(self.reporting, _l("Skriv hvordan organisasjonen rapporterer om tilskuddet.")),
            ]
            return all(results)
        return True


class EvaluationForm(SectionForm):
    key = "evaluation"
    interval_months = StringField(
        _l("Evaluering hver … måned"),
        description=_l("Et helt tall fra 1 til %(max)d. 12 betyr én gang i året.", max=EVALUATION_MONTHS_MAX),
    )

    def validate_interval_months(self, field):
        _months(field, 1, EVALUATION_MONTHS_MAX)

    def to_data(self) -> dict:
        data = super().to_data()
        # As a number, like the notice period: "012" would read "hver 012. måned".
        data["interval_months"] = str(int(self.interval_months.data)) if self.interval_months.data else ""
        return data

    def check_complete(self) -> bool:
        results = [
            super().check_complete(),
            _require(self.interval_months, _l("Skriv hvor mange måneder det går mellom hver evaluering.")),
        ]
        return all(results)


class DurationForm(SectionForm):
    key = "duration"
    start = StringField(_l("Gjelder fra"), description=_l("Dato, for eksempel 01.01.2027."))
    end = StringField(_l("Gjelder til og med"), description=_l("La feltet stå tomt hvis avtalen gjelder til den blir sagt opp."))
    notice_months = StringField(
        _l("Oppsigelsestid i måneder"),
        description=_l("Et helt tall fra 0 til %(max)d.", max=NOTICE_MONTHS_MAX),
    )

    def validate_start(self, field):
        if field.data and _parse_date(field) is None:
            raise ValidationError(_l("Skriv en gyldig dato, for eksempel 01.01.2027."))

    def validate_end(self, field):
        if not field.data:
            return
        end = _parse_date(field)
        if end is None:
            raise ValidationError(_l("Skriv en gyldig dato, for eksempel 31.12.2027."))
        start = _parse_date(self.start)
        if start is not None and end <= start:
            raise ValidationError(_l("Sluttdatoen må være etter startdatoen."))

    def validate_notice_months(self, field):
        _months(field, 0, NOTICE_MONTHS_MAX)

    def to_data(self) -> dict:
        data = super().to_data()
        for name in ("start", "end"):
            parsed = _parse_date(self[name])
            data[name] = parsed.isoformat() if parsed else ""
        data["notice_months"] = str(int(self.notice_months.data)) if self.notice_months.data else ""
        return data

    def check_complete(self) -> bool:
        results = [
            _require(self.start, _l("Skriv datoen avtalen gjelder fra.")),
            _require(self.notice_months, _l("Skriv oppsigelsestiden i måneder (0 hvis ingen).")),
        ]
        return all(results)


FORMS: dict[str, type[SectionForm]] = {
    form.key: form for form in (PartiesForm, ActivitiesForm, ContactsForm, EconomyForm, EvaluationForm, DurationForm)
}


def form_class(key: str) -> type[SectionForm]:
    """The form of a section; text-only sections share one class with their key set."""
    if key in FORMS:
        return FORMS[key]
    return type(f"{key.title().replace('_', '')}Form", (TextSectionForm,), {"key": key})


LANGUAGE_CHOICES = [SelectChoice(code, label) for code, label in DOCUMENT_LANGUAGES.items()]


class DetailsForm(FlaskForm):
    """Title and the document's language."""

    class Meta(StrippedMeta):
        pass

    title = StringField(
        _l("Tittel"),
        validators=[DataRequired(_l("Skriv en tittel på avtalen.")), Length(max=200, message=_l("Tittelen kan ha høyst %(max)d tegn."))],
    )
    language = RadioField(
        _l("Språk i avtaledokumentet"),
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired(_l("Velg bokmål eller nynorsk."))],
    )


class NewAgreementForm(DetailsForm):
    """Start an agreement: from the clause library, or as a copy of an earlier one."""

    title = StringField(
        _l("Tittel"),
        validators=[Optional(), Length(max=200, message=_l("Tittelen kan ha høyst %(max)d tegn."))],
    )

    start_from = RadioField(
        _l("Start fra"),
        choices=[
            SelectChoice("clauses", _l("Kommunens standardtekster")),
            SelectChoice("copy", _l("En kopi av en tidligere avtale")),
        ],
        default="clauses",
        validators=[InputRequired(_l("Velg hva avtalen skal starte fra."))],
    )
    copy_of = SelectField(_l("Avtalen som skal kopieres"), choices=[], validate_choice=False)

    def validate_copy_of(self, field):
        if self.start_from.data == "copy":
            offered = {value for value, _label in field.choices}
            if not field.data or field.data not in offered:
                raise ValidationError(_l("Velg avtalen du vil kopiere."))


class CountersignForm(FlaskForm):
    role = StringField(
        _l("Din rolle i kommunen"),
        description=_l("For eksempel kommunedirektør eller enhetsleder."),
        validators=[DataRequired(_l("Skriv rollen du signerer i.")), Length(max=120, message=_l("Rollen kan ha høyst %(max)d tegn."))],
    )
    #: The fingerprint of the version the administrator saw; signing names exactly it.
    version_sha256 = HiddenField()
    #: Asked again at the moment of signing: an unattended, logged-in browser cannot sign.
    #: Checked against the account by the view, which also counts wrong ones.
    password = PasswordField(
        _l("Ditt passord"),
        description=_l("Skriv passordet ditt på nytt for å signere."),
        validators=[InputRequired(_l("Skriv passordet ditt."))],
    )


#: The choice that stands for the organisation's own address, offered when no contact has one.
ORGANIZATION_ADDRESS = "organization"


@dataclass(frozen=True)
class Recipient:
    name: str
    role: str
    email: str
    primary: bool = False


class RecipientsForm(FlaskForm):
    """Who gets the agreement (on the check page, with the Send button): the organisation's
    contacts that have an email address, each by id; the primary contact, normally the
    chair, ticked to begin with. The choices are built per request from the registry, in
    the user's municipality, so a tampered id (another organisation's or municipality's
    contact, or one without an address) is refused, not sent to."""

    recipients = SelectMultipleField(
        _l("Hvem skal få avtalen?"),
        description=_l("Hver mottaker får sin egen lenke til avtalen. Vanligvis er det styrelederen."),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # pre_validate says what is wrong in words of its own
    )
    #: Set by the check page, where the question is asked. A post without it (a check page
    #: loaded before recipients could be chosen, or a script) sends to the organisation's
    #: usual address, as such a post always did; a post from the page with none ticked is refused.
    asked = HiddenField()

    def __init__(self, organization: Organization, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        contacts = db.session.scalars(
            scoped(Contact)
            .where(Contact.organization_id == organization.id, Contact.email != "")
            .order_by(Contact.is_primary.desc(), Contact.id)
        ).all()
        self.offered: dict[str, Recipient] = {
            str(contact.id): Recipient(contact.name, contact.role, contact.email, contact.is_primary)
            for contact in contacts
        }
        if not self.offered and organization.email:
            self.offered[ORGANIZATION_ADDRESS] = Recipient(
                organization.name, str(_l("organisasjonens egen e-postadresse")), organization.email
            )
        self.recipients.choices = [
            SelectChoice(value, f"{person.name} ({person.email})") for value, person in self.offered.items()
        ]

    @classmethod
    def on_page(cls, organization: Organization) -> RecipientsForm:
        """The question as the check page first asks it: the primary contact ticked (or the
        organisation's own address, when it is the only one)."""
        form = cls(organization, formdata=None)
        form.asked.data = "1"
        ticked = [value for value, person in form.offered.items() if person.primary]
        if not ticked and list(form.offered) == [ORGANIZATION_ADDRESS]:
            ticked = [ORGANIZATION_ADDRESS]
        form.recipients.data = ticked
        return form

    @property
    def was_asked(self) -> bool:
        return bool(self.asked.data)

    def validate_recipients(self, field):
        if not field.data:
            raise ValidationError(_l("Velg minst én som skal få avtalen."))
        if any(value not in self.offered for value in field.data):
            raise ValidationError(
                _l(
                    "En av mottakerne du valgte, er ikke blant kontaktpersonene med e-postadresse hos %(org)s. "
                    "Se over valget og send på nytt.",
                    org=self.organization.name,
                )
            )

    def addresses(self) -> list[str]:
        """The chosen addresses (after validation), in the order offered."""
        chosen = set(self.recipients.data or ())
        return [person.email for value, person in self.offered.items() if value in chosen]
