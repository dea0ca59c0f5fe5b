"""The whole path with the keyboard alone: Tab, Shift+Tab, Enter, Space, arrows and typing.

Log in, open the registry, register an organisation, go to the agreements and start
one, write a section and "Lagre og fortsett", reach the check page and send; the
organisation accepts on its page; an administrator logs in, finds the agreement on the
start page and countersigns. No .click() and no .fill(): every step is a key press
through page.keyboard, so a control that cannot be reached or used by keyboard fails
here. At several steps the focused element must show that it has focus (an outline or a
box-shadow). The other thirteen sections are written by the same staff member through the
app's own form posts (each kind of control is already done by keyboard above).
"""

from __future__ import annotations

import pytest
from builder_pages import CHECK_HEADING
from helpers import PASSWORD, link_in, login, outbox
from playwright.sync_api import expect
from world import SECTION_FORMS, section_form

from dugnad.sections import SECTIONS_BY_KEY, next_section

ORG = "Tastevik Frivilligsentral"
AGREEMENT = "Samarbeid om leksehjelp"
#: More Tab presses than any page here has controls before the one looked for.
MAX_TABS = 150


def _is_focused(locator) -> bool:
    return locator.evaluate("el => el === document.activeElement")


def tab_to(page, locator, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `locator` has focus, as a keyboard user moves through the page."""
    expect(locator).to_be_attached()
    for _ in range(MAX_TABS):
        if _is_focused(locator):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    active = page.evaluate("() => document.activeElement && document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{MAX_TABS} Tab presses never reached {locator}; focus is on {active}")


def type_into(page, locator, text: str) -> None:
    tab_to(page, locator)
    page.keyboard.type(text)


def press(page, locator, key: str = "Enter") -> None:
    tab_to(page, locator)
    page.keyboard.press(key)


def choose_radio(page, radio) -> None:
    """Tab into the radio group (it lands on the checked one, or the first), then arrows to `radio`."""
    name = radio.get_attribute("name")
    group = page.locator(f'input[type=radio][name="{name}"]')
    for _ in range(MAX_TABS):
        if page.evaluate("name => document.activeElement && document.activeElement.name === name", name):
            break
        page.keyboard.press("Tab")
    for _ in range(group.count()):
        if _is_focused(radio):
            break
        page.keyboard.press("ArrowDown")
    assert _is_focused(radio), "the arrows never reached the radio button"
    page.keyboard.press("Space")
    expect(radio).to_be_checked()


def assert_focus_visible(page, what: str) -> None:
    """The focused element shows it: an outline or a box-shadow (Designsystemet's focus ring,
    which for a radio button or checkbox is drawn around its field, label included)."""
    style = page.evaluate(
        """() => {
            let el = document.activeElement;
            if (el.matches("input[type=radio], input[type=checkbox]") && el.closest(".ds-field")) el = el.closest(".ds-field");
            const s = getComputedStyle(el);
            return {tag: el.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow};
        }"""
    )
    visible = (style["outline"] != "none" and style["width"] not in ("0px", "")) or style["shadow"] != "none"
    assert visible, f"no visible focus on {what}: {style}"


@pytest.mark.browser
def test_whole_path_by_keyboard_alone(app, factory, live_server, new_context):
    municipality = factory.municipality("Tastevik kommune")
    staff = factory.user(municipality, "staff", name="Siri Saksbehandler")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    page = new_context().new_page()

    # Log in.
    page.goto("/login")
    type_into(page, page.get_by_label("E-postadresse"), staff)
    assert_focus_visible(page, "the email field")
    type_into(page, page.get_by_label("Passord"), PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Oversikt")).to_be_visible()

    # The skip link comes first and is visible when focused.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hopp til hovedinnholdet")
    assert _is_focused(skip)
    expect(skip).to_be_visible()
    assert_focus_visible(page, "the skip link")

    # Open the registry and register an organisation.
    registry = page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Organisasjoner")
    tab_to(page, registry)
    assert_focus_visible(page, "the main menu")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Organisasjoner")).to_be_visible()
    press(page, page.get_by_role("link", name="Registrer organisasjon"))
    expect(page.get_by_role("heading", level=1, name="Registrer organisasjon")).to_be_visible()
    type_into(page, page.get_by_label("Navn", exact=True), ORG)
    type_into(page, page.get_by_label("Navn på kontaktperson"), "Kari Nordmann")
    type_into(page, page.get_by_label("Kontaktpersonens e-postadresse"), "kari@tastevik.example.no")
    save = page.get_by_role("button", name="Lagre", exact=True)
    tab_to(page, save)
    assert_focus_visible(page, "the save button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=ORG)).to_be_visible()

    # The agreements, and a new one for the organisation.
    press(page, page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Avtaler"))
    expect(page.get_by_role("heading", level=1, name="Avtaler")).to_be_visible()
    press(page, page.get_by_role("link", name="Ny avtale", exact=True))
    expect(page.get_by_role("heading", level=1, name="Ny avtale")).to_be_visible()
    organisation = page.get_by_label("Hvilken organisasjon gjelder avtalen?")
    tab_to(page, organisation)
    page.keyboard.type(ORG[:6])  # a closed select picks the option typed
    expect(organisation).to_have_value(str(_organization_id(page, ORG)))
    press(page, page.get_by_role("button", name="Fortsett"))
    expect(page.get_by_role("heading", level=1, name=f"Ny avtale med {ORG}")).to_be_visible()
    type_into(page, page.get_by_label("Tittel"), AGREEMENT)
    press(page, page.get_by_role("button", name="Opprett utkast"))
    expect(page.get_by_role("heading", level=1, name="Skriv avtalen")).to_be_visible()

    # Write a section, answer "complete", "Lagre og fortsett".
    key = "purpose"
    title = str(SECTIONS_BY_KEY[key].title)
    link = page.locator("#task-list").get_by_role("link", name=title, exact=True)
    tab_to(page, link)
    assert_focus_visible(page, "a section in the task list")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    page.wait_for_load_state("load")
    text = page.locator("#text")
    tab_to(page, text)
    page.keyboard.press("Control+A")
    page.keyboard.type("Leksehjelp for barn og unge som nettopp har kommet til kommunen.")
    choose_radio(page, page.get_by_label("Ja, avsnittet er ferdig"))
    assert_focus_visible(page, "the radio button")
    press(page, page.get_by_role("button", name="Lagre og fortsett"))
    following = next_section(key)
    expect(page.get_by_role("heading", level=1, name=str(following.title), exact=True)).to_be_visible()
    page.wait_for_load_state("load")

    # Back to the task list (Shift+Tab: the button is near the end of the page), and to the check page.
    tab_to(page, page.get_by_role("button", name="Lagre og gå til oversikten"), backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Skriv avtalen")).to_be_visible()
    expect(page.locator("#task-list #status-purpose")).to_contain_text("Ferdig")
    check = page.get_by_role("link", name="Se over og send")
    tab_to(page, check)
    assert_focus_visible(page, "the check link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    assert "/check" in page.url

    # The rest of the sections, then send from the check page.
    agreement_id = int(page.url.split("/agreements/")[1].split("/")[0])
    writer = app.test_client()
    login(writer, staff)
    for key in SECTION_FORMS:
        if key != "purpose":
            response = writer.post(f"/agreements/{agreement_id}/sections/{key}", data=section_form(key))
            assert response.status_code == 302, key
    page.reload()
    expect(page.get_by_role("heading", level=1, name=CHECK_HEADING)).to_be_visible()
    send = page.get_by_role("button", name=f"Send til {ORG}")
    tab_to(page, send)
    assert_focus_visible(page, "the send button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=AGREEMENT)).to_be_visible()
    expect(page.locator("#agreement-status")).to_contain_text("Sendt til organisasjonen. Venter på svar.")

    # The organisation, from the link in its email, accepts with the keyboard.
    reviewer = new_context().new_page()
    reviewer.goto(link_in(outbox(app, to="kari@tastevik.example.no")[-1]))
    expect(reviewer.get_by_role("heading", level=1, name="Samarbeidsavtale til gjennomsyn")).to_be_visible()
    type_into(reviewer, reviewer.get_by_label("Fullt navn"), "Kari Nordmann")
    type_into(reviewer, reviewer.get_by_label("Rolle i organisasjonen"), "styreleder")
    authority = reviewer.get_by_label("Jeg bekrefter at jeg har fullmakt")
    press(reviewer, authority, "Space")
    expect(authority).to_be_checked()
    assert_focus_visible(reviewer, "the authority checkbox")
    type_into(reviewer, reviewer.get_by_label("Signatur", exact=True), "Kari Nordmann")
    press(reviewer, reviewer.get_by_role("button", name="Godta avtalen"))
    expect(reviewer.get_by_role("heading", level=1, name="Takk for svaret.")).to_be_visible()

    # The administrator logs in, finds it on the start page and countersigns.
    signer = new_context().new_page()
    signer.goto("/login")
    type_into(signer, signer.get_by_label("E-postadresse"), admin)
    type_into(signer, signer.get_by_label("Passord"), PASSWORD)
    signer.keyboard.press("Enter")
    expect(signer.get_by_role("heading", level=3, name="Klar for kommunens signatur")).to_be_visible()
    press(signer, signer.get_by_role("link", name=f"{AGREEMENT}", exact=False).first)
    expect(signer.get_by_role("heading", level=1, name=AGREEMENT)).to_be_visible()
    signer.wait_for_load_state("load")
    type_into(signer, signer.get_by_label("Din rolle i kommunen"), "Kommunedirektør")
    type_into(signer, signer.get_by_label("Ditt passord"), PASSWORD)
    sign = signer.get_by_role("button", name="Signer avtalen")
    tab_to(signer, sign)
    assert_focus_visible(signer, "the countersign button")
    signer.keyboard.press("Enter")
    expect(signer.locator("#agreement-status")).to_contain_text("Avtalen er signert av begge parter.")


def _organization_id(page, name: str) -> int:
    return int(page.locator("#organization_id option", has_text=name).get_attribute("value"))
