from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectField, ValidationError

from dugnad.reports import FIRST_YEAR

from ..formtools import StrippedMeta


class YearForm(Form):
    """The report's one choice, read from the query string (a plain GET form: works
    without JavaScript and gives a URL to share)."""

    class Meta(StrippedMeta):
        pass

    # Any year the report can be made for is accepted, not only those offered: a link
    # to an old year without data shows zeros rather than an error.
    year = SelectField(_l("År"), choices=[], validate_choice=False)

    def __init__(self, *args, years: list[int], this_year: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.this_year = this_year
        self.year.choices = [(str(year), str(year)) for year in years]

    def validate_year(self, field):
        value = field.data or ""
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
        if not re.fullmatch(r"[0-9]{4}", value) or not FIRST_YEAR <= int(value) <= self.this_year:
            raise ValidationError(
                _l("Velg et år fra %(first)d til %(last)d.", first=FIRST_YEAR, last=self.this_year)
            )
        if value not in {choice for choice, _label in self.year.choices}:
            self.year.choices.append((value, value))
            self.year.choices.sort(reverse=True)
