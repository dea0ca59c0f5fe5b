"""Friendly error pages: a clear Norwegian sentence and the right status, never a trace."""

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

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

    @app.errorhandler(IllegalTransition)
    def illegal_transition(error: IllegalTransition):
        db.session.rollback()
        title, _text = MESSAGES[409]
        text = _l("Saken har status «%(state)s», og handlingen er ikke mulig fra den.", state=STATE_LABELS.get(error.state, error.state))
        return _page(409, title, text)

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return _page(500, *MESSAGES[500])
