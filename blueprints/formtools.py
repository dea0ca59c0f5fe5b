"""What every form shares: text arrives clean, whatever was typed or pasted."""

from __future__ import annotations

import re

from wtforms import FieldList, FormField

# C0 control characters other than tab and newline, and DEL: never meant, and PostgreSQL
# refuses NUL in text. Everything else of Unicode is kept as typed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value):
    """Strip the ends, unify line breaks, drop control characters."""
    if not isinstance(value, str):
        return value
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


class StrippedMeta:
    # Leading and trailing spaces are never meaningful in these fields.
    def bind_field(self, form, unbound_field, options):
        if issubclass(unbound_field.field_class, (FieldList, FormField)):
            # Lists and sub-forms take no filters; their own fields strip.
            return unbound_field.bind(form=form, **options)
        filters = [clean_text, *unbound_field.kwargs.get("filters", [])]
        return unbound_field.bind(form=form, filters=filters, **options)
