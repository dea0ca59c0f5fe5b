"""Accounts: invitations by email, password reset, lock-out after wrong passwords, and
sessions that end on logout and on a password change (issue 7)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD, login, outbox
from sqlalchemy import select, update

from dugnad import accounts
from dugnad.extensions import db
from dugnad.models import AccountToken, AuditEvent, User
from dugnad.timeutil import now_utc

ACCOUNT_LINK = re.compile(r"https?://[^/\s]+(/account/(?:invite|reset)/[A-Za-z0-9_\-]+)")
NEW_PASSWORD = "a brand new long password"
NEUTRAL = "hører til en konto i Dugnad, har vi sendt en lenke dit"
LOCKED = "For mange feil passord på rad. Kontoen er låst til kl."


def _link(message) -> str:
    match = ACCOUNT_LINK.search(message.body_text)
    assert match, message.body_text
    assert match.group(0) in message.body_html  # the HTML part links to the same page
    return match.group(1)


def _error(response, field_id: str) -> str:
    """The message next to a field (the macro's `<id>-error`), also in the error summary."""
    page = response.get_data(as_text=True)
    match = re.search(rf'id="{field_id}-error">([^<]+)<', page)
    assert match, page[:3000]
    message = match.group(1).strip()
    assert 'id="error-summary"' in page and f'href="#{field_id}"' in page
    return message


def _user(app, email) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return events


def _logged_in(client) -> bool:
    response = client.get("/organizations/")
    if response.status_code == 200:
        return True
    assert urlsplit(response.headers["Location"]).path == "/login"
    return False


def _set_user(app, email, **values) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(**values))
        db.session.commit()


# --- Invitations ------------------------------------------------------------------


def test_admin_invites_a_user_who_chooses_a_password_and_is_logged_in(app, client, factory):
    municipality = factory.municipality("Surnadal kommune")
    admin = factory.user(municipality, "admin", name="Anne Admin")
    login(client, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Inviter en bruker" in page and "Midlertidig passord" not in page

    response = client.post("/admin/users", data={"name": "Siri Saksbehandler", "email": "Siri@Kommune.example.no", "role": "staff"})
    assert response.status_code == 302
    siri = _user(app, "siri@kommune.example.no")
    assert (siri.role, siri.municipality_id, accounts.has_password(siri)) == ("staff", municipality, False)
    assert "Invitert, har ikke laget passord" in client.get("/admin/users").get_data(as_text=True)
    [mail] = outbox(app, to="siri@kommune.example.no")
    assert mail.subject == "Du er invitert til Dugnad i Surnadal kommune"
    assert "Anne Admin har gitt deg en konto i Dugnad for Surnadal kommune" in mail.body_text
    link = _link(mail)
    assert link.startswith("/account/invite/")
    with app.app_context():
        stored = db.session.scalar(select(AccountToken).where(AccountToken.user_id == siri.id))
        assert stored.purpose == "invite"
        assert stored.token_hash not in mail.body_text and link.rsplit("/", 1)[1] not in stored.token_hash
        # Valid for ACCOUNT_INVITE_DAYS (7 by default).
        assert timedelta(days=6, hours=23) < stored.expires_at - stored.created_at <= timedelta(days=7)

    # Nobody can log in to the invited account before the link is used.
    newcomer = app.test_client()
    assert newcomer.post("/login", data={"email": "siri@kommune.example.no", "password": "!invited"}).status_code == 401

    page = newcomer.get(link)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Hei, Siri Saksbehandler" in page.get_data(as_text=True)
    response = newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    assert _logged_in(newcomer)
    assert accounts.has_password(_user(app, "siri@kommune.example.no"))

    # Once only.
    again = app.test_client().get(link)
    assert again.status_code == 410 and "Lenken er allerede brukt" in again.get_data(as_text=True)
    # The password works for the next login.
    login(app.test_client(), "siri@kommune.example.no", NEW_PASSWORD)

    [invited] = _events(app, "user_invited")
    assert (invited.municipality_id, invited.object_id, invited.actor_label) == (municipality, siri.id, "Anne Admin")
    [accepted] = _events(app, "invite_accepted")
    assert accepted.object_id == siri.id


def test_invite_form_bad_input(app, client, factory):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)
    response = client.post("/admin/users", data={"name": "", "email": "not-an-address", "role": "staff"})
    assert response.status_code == 400
    assert _error(response, "name") == "Skriv navnet."
    assert _error(response, "email") == "Skriv en gyldig e-postadresse."
    response = client.post("/admin/users", data={"name": "Kopi", "email": admin.upper(), "role": "admin"})
    assert response.status_code == 400
    assert _error(response, "email") == "Det finnes allerede en bruker med denne e-postadressen."
    response = client.post("/admin/users", data={"name": "Ola", "email": "ola@kommune.example.no", "role": "operator"})
    assert response.status_code == 400
    assert _user(app, "ola@kommune.example.no") is None
    assert outbox(app) == []


def test_set_password_bad_input_stays_on_the_page(app, client, factory):
    admin = factory.user(factory.municipality(), "admin")
    login(client, admin)
    client.post("/admin/users", data={"name": "Per", "email": "per@kommune.example.no", "role": "staff"})
    link = _link(outbox(app, to="per@kommune.example.no")[0])
    newcomer = app.test_client()

    response = newcomer.post(link, data={"password": "kort", "confirm": "kort"})
    assert response.status_code == 400
    assert _error(response, "password") == "Passordet må ha minst 12 og høyst 200 tegn."
    response = newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert response.status_code == 400
    assert _error(response, "confirm") == "De to passordene er ikke like. Skriv det samme passordet begge gangene."
    response = newcomer.post(link, data={"password": "", "confirm": ""})
    assert response.status_code == 400
    assert _error(response, "password") == "Skriv et nytt passord."
    # None of them used the link up.
    assert not _logged_in(newcomer)
    assert newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert _logged_in(newcomer)


def test_admin_sends_an_invitation_again(app, client, factory):
    municipality = factory.municipality()
    admin = factory.user(municipality, "admin")
    login(client, admin)
    client.post("/admin/users", data={"name": "Per", "email": "per@kommune.example.no", "role": "staff"})
    per = _user(app, "per@kommune.example.no")
    # The first link has run out.
    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=now_utc() - timedelta(seconds=1)))
        db.session.commit()
    expired = app.test_client().get(_link(outbox(app, to=per.email)[0]))
    assert expired.status_code == 410
    assert "Invitasjonen gjaldt i en begrenset tid" in expired.get_data(as_text=True)

    response = client.post(f"/admin/users/{per.id}/invite", data={})
    assert response.status_code == 302
    first, second = outbox(app, to=per.email)
    assert _link(first) != _link(second)
    newcomer = app.test_client()
    assert newcomer.post(_link(second), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert _logged_in(newcomer)
    # With a password, there is nothing to send.
    assert client.post(f"/admin/users/{per.id}/invite", data={}).status_code == 302
    assert len(outbox(app, to=per.email)) == 2
    assert [event.details.get("again") for event in _events(app, "user_invited")] == [None, True]


def test_cli_still_creates_users_with_a_password(runner, app, client):
    assert runner.invoke(args=["create-municipality", "--name", "Surnadal kommune", "--number", "1566", "--org-number", "991000054"]).exit_code == 0
    result = runner.invoke(args=["create-user", "--email", "a@surnadal.kommune.no", "--name", "Anne", "--role", "admin",
                                 "--municipality", "1566", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    login(client, "a@surnadal.kommune.no")
    assert outbox(app) == []


# --- Password reset ------------------------------------------------------------------


def test_password_reset(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    assert "Glemt passordet?" in client.get("/login").get_data(as_text=True)
    assert client.get("/account/forgot").status_code == 200
    response = client.post("/account/forgot", data={"email": staff.upper()})
    assert response.status_code == 200 and NEUTRAL in response.get_data(as_text=True)
    [mail] = outbox(app, to=staff)
    assert mail.subject == "Lag nytt passord i Dugnad"
    assert "gjelder i 60 minutter" in mail.body_text
    link = _link(mail)
    assert link.startswith("/account/reset/")
    with app.app_context():
        stored = db.session.scalar(select(AccountToken))
        assert stored.purpose == "reset" and stored.expires_at - stored.created_at == timedelta(minutes=60)

    # A second ask within a minute sends nothing more (nobody fills a colleague's inbox).
    client.post("/account/forgot", data={"email": staff})
    assert len(outbox(app, to=staff)) == 1

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert _logged_in(client)
    assert client.get(link).status_code == 410  # once
    other = app.test_client()
    assert other.post("/login", data={"email": staff, "password": PASSWORD}).status_code == 401
    login(other, staff, NEW_PASSWORD)
    assert [event.object_type for event in _events(app, "password_reset_requested")] == ["user"]
    assert len(_events(app, "password_reset")) == 1


def test_forgot_password_answers_the_same_for_every_address(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff", email="kari@kommune.example.no")
    inactive = factory.user(municipality, "staff", email="borte@kommune.example.no")
    _set_user(app, inactive, active=False)
    operator = factory.user(None, "operator", email="drift@vert.example.no")

    def answer(email):
        response = client.post("/account/forgot", data={"email": email})
        assert response.status_code == 200
        main = re.search(r"<main.*</main>", response.get_data(as_text=True), re.S).group(0)
        return main.replace(email, "EMAIL")

    known = answer(staff)
    assert NEUTRAL in known
    for email in ("ukjent@kommune.example.no", inactive, operator):
        assert answer(email) == known
    assert [message.to_addr for message in outbox(app)] == [staff]


def test_forgot_password_bad_input(client):
    response = client.post("/account/forgot", data={"email": "ikke en adresse"})
    assert response.status_code == 400
    assert _error(response, "email") == "Skriv en gyldig e-postadresse."
    response = client.post("/account/forgot", data={"email": ""})
    assert response.status_code == 400
    assert _error(response, "email") == "Skriv e-postadressen din."


def test_expired_used_and_tampered_links(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    client.post("/account/forgot", data={"email": staff})
    link = _link(outbox(app, to=staff)[0])

    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    for bad in (tampered, "/account/reset/" + "x" * 101, link.replace("/reset/", "/invite/")):
        response = client.get(bad)
        assert response.status_code == 404, bad
        page = response.get_data(as_text=True)
        assert "Lenken virker ikke" in page and "Be om en ny lenke" in page

    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=now_utc() - timedelta(seconds=1)))
        db.session.commit()
    for response in (client.get(link), client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})):
        assert response.status_code == 410
        assert "Lenken er utløpt" in response.get_data(as_text=True)
    assert not _logged_in(client)
    login(app.test_client(), staff)  # the password is unchanged

    # A deactivated user's link stops working.
    client.post("/account/forgot", data={"email": staff})  # the earlier one is expired: a new one is sent
    fresh = _link(outbox(app, to=staff)[-1])
    _set_user(app, staff, active=False)
    assert client.get(fresh).status_code == 410


def test_a_reset_link_voids_the_other_open_links(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    client.post("/account/forgot", data={"email": staff})
    with app.app_context():  # a minute later, a second link
        db.session.execute(update(AccountToken).values(created_at=now_utc() - timedelta(minutes=2)))
        db.session.commit()
    client.post("/account/forgot", data={"email": staff})
    first, second = (_link(message) for message in outbox(app, to=staff))
    assert client.post(second, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert app.test_client().get(first).status_code == 410


# --- Lock-out -------------------------------------------------------------------------


def _wrong(client, email):
    return client.post("/login", data={"email": email, "password": "not the password"})


def test_lock_out_after_five_wrong_passwords_and_open_again_after_the_time(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    for _ in range(4):
        assert _wrong(client, staff).status_code == 401
    assert _user(app, staff).failed_logins == 4
    response = _wrong(client, staff)
    assert response.status_code == 429
    message = _error(response, "password")
    assert message.startswith(LOCKED) and "«Glemt passordet?»" in message
    assert re.search(r"kl\. \d\d:\d\d;", message)
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    user = _user(app, staff)
    assert timedelta(minutes=14) < user.locked_until - now_utc() <= timedelta(minutes=15)

    # Even the right password is refused while locked, from any browser.
    response = app.test_client().post("/login", data={"email": staff, "password": PASSWORD})
    assert response.status_code == 429 and _error(response, "password").startswith(LOCKED)
    assert not _logged_in(client)
    [locked] = _events(app, "login_locked")
    assert (locked.municipality_id, locked.object_id) == (municipality, user.id)

    # The time passes.
    _set_user(app, staff, locked_until=now_utc() - timedelta(seconds=1))
    login(client, staff)
    user = _user(app, staff)
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_a_good_login_resets_the_count(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    for _ in range(4):
        _wrong(client, staff)
    login(client, staff)
    client.post("/logout", data={})
    for _ in range(4):
        assert _wrong(client, staff).status_code == 401
    assert _user(app, staff).locked_until is None


def test_unknown_email_never_locks_and_gets_the_wrong_password_answer(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    wrong = _error(_wrong(client, staff), "password")
    for _ in range(6):
        response = _wrong(client, "ukjent@kommune.example.no")
        assert response.status_code == 401
        assert _error(response, "password") == wrong == "Feil e-postadresse eller passord."


def test_a_reset_opens_a_locked_account(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    for _ in range(5):
        _wrong(client, staff)
    assert _user(app, staff).locked_until is not None
    client.post("/account/forgot", data={"email": staff})
    link = _link(outbox(app, to=staff)[0])
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert _user(app, staff).locked_until is None
    login(app.test_client(), staff, NEW_PASSWORD)


def test_lock_out_settings(app, client, factory):
    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_LOCK_MINUTES=60)
    operator = factory.user(None, "operator")  # no municipality: locked, without an audit event
    assert _wrong(client, operator).status_code == 401
    assert _wrong(client, operator).status_code == 429
    assert timedelta(minutes=59) < _user(app, operator).locked_until - now_utc() <= timedelta(minutes=60)
    assert _events(app, "login_locked") == []


# --- Sessions end on logout and on a password change ----------------------------------


def _copy_session(app, source):
    """A second browser holding the same session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session", domain="localhost").value, domain="localhost")
    return thief


def test_logout_ends_a_copied_session(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    thief = _copy_session(app, client)
    assert _logged_in(thief)
    client.post("/logout", data={})
    assert not _logged_in(thief)
    assert not _logged_in(client)
    assert _user(app, staff).session_epoch == 1


def test_logout_ends_the_users_other_sessions_too(app, factory):
    staff = factory.user(factory.municipality(), "staff")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, staff)
    login(phone, staff)
    laptop.post("/logout", data={})
    assert not _logged_in(phone)  # documented: logout ends every session of the user


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, factory):
    municipality = factory.municipality()
    staff = factory.user(municipality, "staff")
    login(client, staff)
    thief = _copy_session(app, client)
    assert "Bytt passord" in client.get("/").get_data(as_text=True)
    assert client.get("/account/password").status_code == 200

    response = client.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert _logged_in(client)
    assert not _logged_in(thief)
    login(app.test_client(), staff, NEW_PASSWORD)
    [changed] = _events(app, "password_changed")
    assert (changed.municipality_id, changed.object_id, changed.actor_user_id) == (municipality, _user(app, staff).id, _user(app, staff).id)


def test_password_reset_ends_existing_sessions(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    visitor = app.test_client()
    visitor.post("/account/forgot", data={"email": staff})
    link = _link(outbox(app, to=staff)[0])
    assert visitor.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert not _logged_in(client)
    assert _logged_in(visitor)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current": "not the password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "current",
         "Passordet er feil. Skriv passordet du logger inn med nå."),
        ({"current": "", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "current", "Skriv passordet du har nå."),
        ({"current": PASSWORD, "password": "for kort", "confirm": "for kort"}, "password", "Passordet må ha minst 12 og høyst 200 tegn."),
        ({"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "something else"}, "confirm",
         "De to passordene er ikke like. Skriv det samme passordet begge gangene."),
        # A wrong current password is named even while the new one is not right yet.
        ({"current": "not the password", "password": "for kort", "confirm": "for kort"}, "current",
         "Passordet er feil. Skriv passordet du logger inn med nå."),
    ],
)
def test_password_change_bad_input(app, client, factory, form, field, message):
    staff = factory.user(factory.municipality(), "staff")
    login(client, staff)
    response = client.post("/account/password", data=form)
    assert response.status_code == 400
    assert _error(response, field) == message
    assert _logged_in(client)
    login(app.test_client(), staff)  # the old password still works
    assert _events(app, "password_changed") == []


def test_session_from_before_epochs_is_not_accepted(app, client, factory):
    staff = factory.user(factory.municipality(), "staff")
    with client.session_transaction() as session:
        session["_user_id"] = str(_user(app, staff).id)  # the old form, without an epoch
        session["_fresh"] = True
    assert not _logged_in(client)


def test_a_reset_email_is_left_to_the_worker_so_the_answer_takes_no_longer(app, client, factory):
    """With a mail server configured, other mail is sent during the request; a reset link is
    not (the SMTP round trip would make the answer slower for an address with an account).
    The server here refuses connections: a delivery tried during the request would count a
    failed attempt on the message."""
    staff = factory.user(factory.municipality(), "staff")
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    response = client.post("/account/forgot", data={"email": staff})
    assert response.status_code in (200, 302)
    [message] = outbox(app, to=staff)
    assert (message.status, message.attempts) == ("pending", 0)
