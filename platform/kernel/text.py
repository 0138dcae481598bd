"""Human text, checked in one place: every name and title a service stores goes through ``clean_text``
(the API, the pages, imports and the Django admin all write through services), and every form body
goes through ``undecodable_form_fields`` / ``replacement_fields`` (kernel.middleware.BadInputMiddleware).

``clean_text`` returns the text trimmed and Unicode-normalised (NFC), or raises a DomainError naming
the field: no control characters (Cc, Cf; tab and line breaks only where several lines are allowed,
elsewhere a line break becomes a space), no lone surrogates and no U+FFFD (what a decoder puts for
bytes that were not UTF-8), a minimum and a maximum length, and for names at least one letter (a name
of only digits or punctuation, such as "0", is refused)."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl

from django.utils.translation import gettext as _

from kernel.errors import DomainError

REPLACEMENT = "\ufffd"
# Format characters (Cf) that ordinary text uses: zero-width (non-)joiners in emoji and some scripts.
ALLOWED_FORMAT = {"\u200c", "\u200d"}
MULTILINE_WHITESPACE = {"\n", "\t"}
_LINE_BREAKS = re.compile(r"[ \t]*[\r\n\t\v\f\x85\u2028\u2029]+[ \t]*")


def _bad_char(text: str, multiline: bool) -> tuple[int, str] | None:
    for pos, ch in enumerate(text):
        if ch == REPLACEMENT or "\ud800" <= ch <= "\udfff":
            return pos, ch
        if ch.isprintable() or ch == " ":
            continue
        if multiline and ch in MULTILINE_WHITESPACE:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs") and ch not in ALLOWED_FORMAT:
            return pos, ch
    return None


def text_problem(value, *, max_length: int, min_length: int = 1, required: bool = True,
                 multiline: bool = False, name: bool = False) -> tuple[str, str | None]:
    """(the cleaned text, what is wrong with it or None)."""
    if value is None:
        value = ""
    text = value if isinstance(value, str) else str(value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = _LINE_BREAKS.sub(" ", text)
    try:
        text = unicodedata.normalize("NFC", text).strip()
    except UnicodeError:  # pragma: no cover - NFC of lone surrogates works, but be safe
        pass
    bad = _bad_char(text, multiline)
    if bad is not None:
        pos, ch = bad
        if ch == REPLACEMENT or "\ud800" <= ch <= "\udfff":
            return text, _("This text is not valid UTF-8 (it holds broken characters, shown as \ufffd): "
                           "send it as UTF-8 text.")
        return text, _("Remove the control character U+%(code)04X (character %(pos)d): only ordinary text "
                       "is allowed.") % {"code": ord(ch), "pos": pos + 1}
    if not text:
        return text, _("This cannot be empty.") if required else None
    if len(text) < min_length:
        return text, _("At least %(n)d characters.") % {"n": min_length}
    if len(text) > max_length:
        return text, _("At most %(n)d characters.") % {"n": max_length}
    if name and not any(unicodedata.category(ch).startswith("L") for ch in text):
        return text, _("A name needs at least one letter or Chinese character, not only digits or punctuation.")
    return text, None


def clean_text(value, *, field: str, max_length: int, min_length: int = 1, required: bool = True,
               multiline: bool = False, name: bool = False) -> str:
    """The text trimmed and NFC-normalised, or a DomainError (400) naming ``field``."""
    text, problem = text_problem(value, max_length=max_length, min_length=min_length, required=required,
                                 multiline=multiline, name=name)
    if problem:
        raise DomainError(f"{field}: {problem}", fields={field: [problem]})
    return text


def clean_name(value, *, field: str = "name", max_length: int, required: bool = True) -> str:
    """A name or title of one line: a place, a person, a category, a rule, a batch, a notice."""
    return clean_text(value, field=field, max_length=max_length, required=required, name=True)


def clean_model_texts(instance, names: tuple[str, ...] = ("name",), others: tuple[str, ...] = ()) -> None:
    """Clean the named CharFields of a model instance in place (the model gives each its max_length;
    blank=True fields may be empty). ``names`` must hold a letter; ``others`` are plain one-line text."""
    fields: dict[str, list[str]] = {}
    for attr, is_name in [(a, True) for a in names] + [(a, False) for a in others]:
        model_field = instance._meta.get_field(attr)
        text, problem = text_problem(getattr(instance, attr), max_length=model_field.max_length or 10_000,
                                     required=not model_field.blank, name=is_name)
        if problem:
            fields[attr] = [problem]
        else:
            setattr(instance, attr, text)
    if fields:
        first = next(iter(fields))
        raise DomainError(f"{first}: {fields[first][0]}", fields=fields)


# --- form bodies -------------------------------------------------------------------------------------

def undecodable_form_fields(body: bytes, encoding: str = "utf-8") -> list[str]:
    """The fields of an application/x-www-form-urlencoded body whose name or value, raw or
    percent-encoded, is not valid in ``encoding`` (Django would store them mangled)."""
    bad: list[str] = []
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    except ValueError:
        return bad
    for key, value in pairs:
        raw_key = key.encode("latin-1")
        try:
            raw_key.decode(encoding)
            value.encode("latin-1").decode(encoding)
        except (UnicodeDecodeError, LookupError):
            field = raw_key.decode(encoding, errors="replace")
            if field not in bad:
                bad.append(field)
    return bad


def replacement_fields(*mappings) -> list[str]:
    """The fields of parsed form data (QueryDicts) whose name or value holds U+FFFD: what Django's
    multipart parser puts for bytes that are not valid UTF-8."""
    bad: list[str] = []
    for mapping in mappings:
        for key, values in mapping.lists():
            texts = [key] + [v for v in values if isinstance(v, str)]
            if any(REPLACEMENT in t or any("\ud800" <= ch <= "\udfff" for ch in t) for t in texts) and key not in bad:
                bad.append(key)
    return bad


def checked_admin_form(names: tuple[str, ...] = (), others: tuple[str, ...] = ()):
    """A ModelForm base for the Django admin (which writes without the services) that applies the same
    check to the named fields: ``names`` must hold a letter, ``others`` are plain one-line text."""
    from django import forms

    class TextCheckedForm(forms.ModelForm):
        def clean(self):
            data = super().clean()
            for attr in names + others:
                if attr not in data:
                    continue
                model_field = self._meta.model._meta.get_field(attr)
                text, problem = text_problem(data[attr], max_length=model_field.max_length or 10_000,
                                             required=not model_field.blank, name=attr in names)
                if problem:
                    self.add_error(attr, problem)
                else:
                    data[attr] = text
            return data

    return TextCheckedForm
