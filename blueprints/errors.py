"""Friendly error pages: a clear Norwegian sentence and the right status, never a trace."""

import errno
import math

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError

from dugnad.accounts import INVITE, AccountLinkProblem
from dugnad.extensions import db
from dugnad.lifecycle import IllegalTransition
from dugnad.tokens import LinkProblem
from dugnad.ui import STATE_LABELS, is_htmx

MESSAGES = {
    400: (_l("Forespørselen kunne ikke behandles"), _l("Prøv igjen fra forrige side.")),
    403: (_l("Du har ikke tilgang"), _l("Din rolle gir ikke tilgang til denne siden eller handlingen.")),
    404: (_l("Fant ikke siden"), _l("Siden finnes ikke, eller du har ikke tilgang til den.")),
    405: (_l("Handlingen er ikke tillatt"), _l("Bruk knappene på siden.")),
    409: (_l("Dette kan ikke gjøres nå"), _l("Noen har endret saken i mellomtiden. Last siden på nytt.")),
    413: (_l("Filen er for stor"), _l("Last opp en mindre fil.")),
    500: (_l("Noe gikk galt hos oss"), _l("Ingenting av det du har lagret er tapt. Prøv igjen om litt.")),
}

LINK_MESSAGES = {
    "unknown": (_l("Lenken virker ikke"), _l("Lenken er ukjent. Sjekk at du har kopiert hele lenken fra e-posten.")),
    "expired": (_l("Lenken er utløpt"), _l("Ta kontakt med kommunen for å få en ny lenke.")),
    "revoked": (_l("Lenken er ikke lenger gyldig"), _l("Kommunen har sendt en nyere lenke eller trukket saken tilbake. Se etter en nyere e-post, eller ta kontakt med kommunen.")),
    "used": (_l("Lenken er allerede brukt"), _l("Svaret ditt er registrert. Kommunen tar kontakt ved behov.")),
}


#: Invitation and password reset links: what to do next differs from an organisation's link.
ACCOUNT_LINK_MESSAGES = {
    "unknown": (_l("Lenken virker ikke"), _l("Lenken er ukjent. Sjekk at du har kopiert hele lenken fra e-posten, eller be om en ny lenke.")),
    "expired": (_l("Lenken er utløpt"), _l("Av sikkerhetshensyn gjelder lenken bare en stund. Be om en ny lenke for å lage passord.")),
    "revoked": (_l("Lenken er ikke lenger gyldig"), _l("Kontoen er ikke aktiv. Ta kontakt med en administrator i kommunen.")),
    "used": (_l("Lenken er allerede brukt"), _l("Passordet er allerede laget med denne lenken. Logg inn, eller be om en ny lenke hvis du har glemt det.")),
}
INVITE_EXPIRED = _l("Invitasjonen gjaldt i en begrenset tid. Be om en ny lenke for å lage passord, eller be administratoren i kommunen sende invitasjonen på nytt.")


def _page(status: int, title, text):
    headers = {}
    if is_htmx():
        # Show the message instead of the page's main content, not inside a fragment.
        headers = {"HX-Retarget": "#main", "HX-Reselect": "#main", "HX-Reswap": "outerHTML"}
    return render_template("errors/error.html", title=title, text=text, status=status), status, headers


def register_error_handlers(app: Flask) -> None:
    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, lambda e, s=status: _page(s, *MESSAGES[s]))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _page(
            400,
            _l("Skjemaet er utløpt"),
            _l("Av sikkerhetshensyn må skjemaet sendes fra siden på nytt. Gå tilbake, last siden på nytt og prøv igjen."),
        )

    @app.errorhandler(LinkProblem)
    def link_problem(error: LinkProblem):
        db.session.rollback()
        return _page(error.status, *LINK_MESSAGES[error.reason])

    @app.errorhandler(AccountLinkProblem)
    def account_link_problem(error: AccountLinkProblem):
        db.session.rollback()
        title, text = ACCOUNT_LINK_MESSAGES[error.reason]
        if error.reason == "expired" and error.purpose == INVITE:
            text = INVITE_EXPIRED
        return render_template("auth/link_problem.html", title=title, text=text), error.status

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(error: RateLimitExceeded):
        # The window of the limit that was hit: waiting that long always helps.
        seconds = int(error.limit.limit.get_expiry())
        minutes = max(1, math.ceil(seconds / 60))
        text = ngettext(
            "Du har prøvd mange ganger på kort tid. Vent %(num)d minutt, og prøv igjen.",
            "Du har prøvd mange ganger på kort tid. Vent %(num)d minutter, og prøv igjen.",
            minutes,
        )
        body, status, headers = _page(429, _l("For mange forsøk"), text)
        return body, status, {**headers, "Retry-After": str(seconds)}

    @app.errorhandler(IllegalTransition)
    def illegal_transition(error: IllegalTransition):
        db.session.rollback()
        title, _text = MESSAGES[409]
        text = _l("Saken har status «%(state)s», og handlingen er ikke mulig fra den.", state=STATE_LABELS.get(error.state, error.state))
        return _page(409, title, text)

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        original = getattr(error, "original_exception", None)
        if original is not None and storage_full(original):
            # The change was rolled back whole (e.g. a sealed PDF that could not be stored):
            # say what happened, so someone frees space instead of retrying blindly.
            app.logger.error("storage full: %s", original)
            return _page(507, _l("Dugnad fikk ikke lagret"), _l(
                "Disken der Dugnad lagrer, er full eller kan ikke skrives til. Ingenting ble lagret, "
                "og ingenting er tapt: saken står som før. Gi beskjed til driften av Dugnad, og prøv igjen senere."))
        return _page(500, *MESSAGES[500])


def storage_full(error: BaseException) -> bool:
    """A write failed for lack of room: no space left, a disk quota or a file-size limit
    (OSError), or SQLite saying its file could not be written ("database or disk is full",
    or "disk I/O error", which is what a refused write to its log becomes)."""
    for _ in range(10):  # the chain of causes, not forever
        if error is None:
            return False
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return True
        if any(text in str(error) for text in ("database or disk is full", "disk I/O error")):
            return True
        error = error.__cause__ or error.__context__
    return False
