"""One blueprint package per domain; each has `bp`, `routes.py` and `forms.py`."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .agreements import bp as agreements_bp
    from .auditlog import bp as auditlog_bp
    from .auth import bp as auth_bp
    from .evaluations import bp as evaluations_bp
    from .imports import bp as imports_bp
    from .mailbox import bp as mailbox_bp
    from .main import bp as main_bp
    from .meetings import bp as meetings_bp
    from .organizations import bp as organizations_bp
    from .privacy import bp as privacy_bp
    from .reports import bp as reports_bp
    from .respond import bp as respond_bp
    from .verify import bp as verify_bp

    for blueprint in (
        main_bp,
        auth_bp,
        organizations_bp,
        imports_bp,
        meetings_bp,
        agreements_bp,
        evaluations_bp,
        reports_bp,
        respond_bp,
        verify_bp,
        privacy_bp,
        mailbox_bp,
        admin_bp,
        auditlog_bp,
    ):
        app.register_blueprint(blueprint)
