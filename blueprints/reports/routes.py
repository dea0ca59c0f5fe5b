"""The yearly report to the council: a page with charts, and the same report as a PDF,
a CSV file and a workbook. Staff and administrators, of their own municipality only."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_login import current_user

from dugnad import reports as ops
from dugnad.access import staff_required
from dugnad.timeutil import today_oslo

from . import bp
from .forms import YearForm


def _year_form() -> YearForm:
    today = today_oslo()
    years = ops.years_with_data(current_user.municipality_id, today)
    return YearForm(
        request.args if "year" in request.args else None,
        data={"year": str(today.year)},
        years=years,
        this_year=today.year,
    )


def _report():
    """(form, report); report is None when the year asked for is not one to report on."""
    form = _year_form()
    if not form.validate():
        return form, None
    return form, ops.council_report(current_user.municipality_id, int(form.year.data))


def _bad_year(form: YearForm):
    return render_template("reports/council.html", form=form, report=None, charts={}), 400


def _download(data: bytes, mimetype: str, year: int, extension: str, disposition: str = "attachment") -> Response:
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'{disposition}; filename="rapport-kommunestyret-{year}.{extension}"'},
    )


@bp.route("/council")
@staff_required
def council():
    form, report = _report()
    if report is None:
        return _bad_year(form)
    return render_template(
        "reports/council.html", form=form, report=report, charts=ops.charts(report), key_figures=ops.key_figures(report),
        figure=ops.figure,
    )


@bp.route("/council.pdf")
@staff_required
def council_pdf():
    form, report = _report()
    if report is None:
        return _bad_year(form)
    return _download(ops.to_pdf(report), "application/pdf", report.year, "pdf", "inline")


@bp.route("/council.csv")
@staff_required
def council_csv():
    form, report = _report()
    if report is None:
        return _bad_year(form)
    return _download(ops.to_csv(report), "text/csv", report.year, "csv")


@bp.route("/council.xlsx")
@staff_required
def council_xlsx():
    form, report = _report()
    if report is None:
        return _bad_year(form)
    return _download(
        ops.to_xlsx(report), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", report.year, "xlsx"
    )
