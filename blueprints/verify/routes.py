from flask import render_template, request

from dugnad import seal

from . import bp
from .forms import MAX_PDF_BYTES, TOO_LARGE, NumberForm, PdfForm


@bp.url_value_preprocessor
def allow_pdf_upload(endpoint, values):
    """A signed agreement may be above the app's 2 MB limit; the form names the 10 MB rule.

    Set here, not in the view: this hook runs before CSRFProtect's before_request,
    which is the first to read the form (and so to enforce the limit)."""
    if endpoint == "verify.index":
        request.max_content_length = MAX_PDF_BYTES + 64 * 1024  # the multipart wrapping around the file


@bp.errorhandler(413)
def too_large(error):
    pdf_form = PdfForm(formdata=None)
    pdf_form.file.errors = [TOO_LARGE]
    return _page(pdf_form, NumberForm(formdata=None)), 413


def _page(pdf_form, number_form, result: seal.Verification | None = None):
    return render_template("verify/index.html", pdf_form=pdf_form, number_form=number_form, result=result)


@bp.route("", methods=["GET", "POST"])
def index():
    """Anyone may check a signed agreement, by its PDF or by its number and fingerprint."""
    posted = request.method == "POST"
    by_number = posted and request.form.get("check") == "number"
    # Only the form that was sent reads the request; the other is shown empty.
    pdf_form = PdfForm() if posted and not by_number else PdfForm(formdata=None)
    number_form = NumberForm() if by_number else NumberForm(formdata=None)
    if request.method == "GET":
        return _page(pdf_form, number_form)
    form = number_form if by_number else pdf_form
    if not form.validate_on_submit():
        return _page(pdf_form, number_form), 400
    if by_number:
        result = seal.verify_by_number(number_form.number.data, number_form.fingerprint.data)
    else:
        result = seal.verify(pdf_form.pdf)
    return _page(pdf_form, number_form, result)
