"""A form built from a module's configuration schema (``ModuleSpec.config_schema``), and the way back
from the posted form to a configuration document.

The schema's own words label the form: ``title`` / ``description`` in zh-Hans, ``title_en`` /
``description_en`` in English, ``enum_titles`` / ``enum_titles_en`` for the choices of an ``enum``;
``examples`` (values, not words: codes, a prefix) are shown under the help as identifiers.
What it renders: objects (as groups), booleans, integers, numbers, strings, enums, arrays of simple
values (one per line, or check boxes for an enum), arrays of flat objects (a table with room for new
rows). Anything else gets a small JSON box of its own. The posted document is checked by the kernel's
service (``kernel.services.update_module_config``), never here: this module only parses."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

PREFIX = "cfg."
SIMPLE = ("boolean", "integer", "number", "string")
NEW_ROWS = 2  # blank rows offered under a table


@dataclass
class Field:
    name: str  # the dotted path inside the document ("compound_score.window_days"); the POST name is PREFIX + name
    kind: str  # group | boolean | integer | number | string | enum | lines | choices | table | json
    label: str
    help: str = ""
    value: object = None
    options: list = field(default_factory=list)  # enum / choices: [(value as text, label)]
    children: list = field(default_factory=list)  # group: fields; table: column fields
    rows: list = field(default_factory=list)  # table: [[cell Field]]
    errors: list = field(default_factory=list)
    minimum: object = None
    maximum: object = None
    step: str = ""
    examples: list = field(default_factory=list)  # the schema's ``examples``, as text shown as identifiers

    @property
    def input_name(self) -> str:
        return PREFIX + self.name


def _type(schema: dict) -> str:
    kind = schema.get("type")
    return kind[0] if isinstance(kind, list) else (kind or "")


def _words(schema: dict, key: str, english: bool) -> tuple[str, str]:
    if english:
        label = schema.get("title_en") or schema.get("title") or key
        help_text = schema.get("description_en") or schema.get("description") or ""
    else:
        label = schema.get("title") or key
        help_text = schema.get("description") or ""
    return label, help_text


def _options(schema: dict, english: bool) -> list[tuple[str, str]]:
    titles = (schema.get("enum_titles_en") if english else None) or schema.get("enum_titles") or {}
    return [(_text(v), titles.get(_text(v), _text(v))) for v in schema.get("enum", [])]


def _text(value) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _examples(schema: dict) -> list[str]:
    """The schema's examples as text; an example list gives its items (each a line of a lines field)."""
    out = []
    for value in schema.get("examples", []):
        for v in value if isinstance(value, list) else [value]:
            out.append(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else _text(v))
    return out


def _field(name: str, key: str, schema: dict, value, english: bool) -> Field:
    label, help_text = _words(schema, key, english)
    kind, f = _type(schema), Field(name=name, kind="json", label=label, help=help_text,
                                   examples=_examples(schema))
    if "enum" in schema:
        f.kind, f.options, f.value = "enum", _options(schema, english), _text(value)
    elif kind == "object" and schema.get("properties"):
        f.kind = "group"
        value = value if isinstance(value, dict) else {}
        f.children = [_field(f"{name}.{k}", k, sub, value.get(k, sub.get("default")), english)
                      for k, sub in schema["properties"].items()]
    elif kind in SIMPLE:
        f.kind, f.value = kind, value
        f.minimum, f.maximum = schema.get("minimum"), schema.get("maximum")
        f.step = "1" if kind == "integer" else "any"
    elif kind == "array":
        items = schema.get("items") or {}
        value = value if isinstance(value, list) else []
        if "enum" in items:
            f.kind, f.options = "choices", _options(items, english)
            f.value = [_text(v) for v in value]
        elif _type(items) in SIMPLE:
            f.kind, f.value = "lines", "\n".join(_text(v) for v in value)
        elif _type(items) == "object" and all(_type(s) in SIMPLE or "enum" in s
                                             for s in items.get("properties", {}).values()):
            f.kind = "table"
            columns = items.get("properties", {})
            f.children = [_field(f"{name}.*.{k}", k, sub, None, english) for k, sub in columns.items()]
            for i, row in enumerate([*value, *([{}] * NEW_ROWS)]):
                row = row if isinstance(row, dict) else {}
                f.rows.append([_field(f"{name}.{i}.{k}", k, sub, row.get(k), english) for k, sub in columns.items()])
    if f.kind == "json":
        f.value = json.dumps(value, ensure_ascii=False, indent=1) if value is not None else ""
    return f


def build(schema: dict, data: dict, *, english: bool) -> list[Field]:
    """The fields of a module's form, filled with ``data`` (the configuration in force, or what was posted)."""
    data = data if isinstance(data, dict) else {}
    return [_field(k, k, sub, data.get(k, sub.get("default")), english)
            for k, sub in schema.get("properties", {}).items()]


# --- the posted form back to a document ----------------------------------------------------------------

def _scalar(raw: str, schema: dict):
    """A typed value, or the text as given when it does not parse (the schema check then says why)."""
    kind, raw = _type(schema), raw.strip()
    if "enum" in schema:
        for v in schema["enum"]:
            if _text(v) == raw:
                return v
        return raw
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    if kind == "boolean":
        return raw in ("1", "true", "on")
    return raw


_EMPTY = object()


def _read(name: str, schema: dict, post):
    kind, key = _type(schema), PREFIX + name
    if "enum" in schema:
        raw = post.get(key)
        return _EMPTY if raw is None or raw == "" else _scalar(raw, schema)
    if kind == "boolean":
        return post.get(key) in ("1", "true", "on")
    if kind in ("integer", "number", "string"):
        raw = post.get(key)
        if raw is None or (raw.strip() == "" and kind != "string"):
            return _EMPTY
        return _scalar(raw, schema) if kind != "string" else raw.strip()
    if kind == "object" and schema.get("properties"):
        out = {}
        for k, sub in schema["properties"].items():
            v = _read(f"{name}.{k}", sub, post)
            if v is not _EMPTY:
                out[k] = v
        return out
    if kind == "array":
        items = schema.get("items") or {}
        if "enum" in items:
            return [_scalar(v, items) for v in post.getlist(key)]
        if _type(items) in SIMPLE:
            return [_scalar(line, items) for line in post.get(key, "").splitlines() if line.strip()]
        if _type(items) == "object" and f"{key}.rows" in post:
            return _read_table(name, items, post)
    raw = post.get(key, "")
    if not raw.strip():
        return _EMPTY
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # the schema check reports the wrong type at this field


def _read_table(name: str, items: dict, post) -> list:
    try:
        count = min(int(post.get(f"{PREFIX}{name}.rows", "0")), 500)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        row = {}
        for k, sub in items.get("properties", {}).items():
            v = _read(f"{name}.{i}.{k}", sub, post)
            if v is not _EMPTY and v != "" and v is not False:
                row[k] = v
        if row:  # a blank row (the room left for a new one) is no row
            rows.append(row)
    return rows


def parse(schema: dict, post) -> dict:
    """The configuration document the admin posted (not checked: ``update_module_config`` checks)."""
    out = {}
    for k, sub in schema.get("properties", {}).items():
        v = _read(k, sub, post)
        if v is _EMPTY:
            if "default" in sub:
                out[k] = sub["default"]  # an emptied field falls back to the module's default
            continue
        out[k] = v
    return out


def attach_errors(fields: list[Field], errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Put each error of the schema check on its field; returns those that found none (shown on top)."""
    left = dict(errors)

    def walk(items):
        for f in items:
            if f.name in left:
                f.errors = left.pop(f.name)
            walk(f.children if f.kind == "group" else [])
            for row in f.rows:
                walk(row)
            # an error about a row ("tiers.0") or about the whole list ("tiers") stays with the table
            for path in [p for p in left if f.kind == "table" and p.startswith(f.name + ".")]:
                f.errors.extend(left.pop(path))

    walk(fields)
    return left


def labels(fields: list[Field]) -> dict[str, str]:
    """path -> the label the admin sees, for the summary of errors above the form."""
    out: dict[str, str] = {}

    def walk(items, prefix=""):
        for f in items:
            out[f.name] = prefix + f.label
            walk(f.children if f.kind == "group" else [], prefix + f.label + " · ")
            for i, row in enumerate(f.rows):
                walk(row, prefix + f.label + " · " + _("row %(n)s") % {"n": i + 1} + " · ")

    walk(fields)
    return out


# --- raw JSON: say where it is broken, in the admin's language -----------------------------------------

JSON_PROBLEMS = {
    "Expecting ',' delimiter": gettext_noop("a comma is missing"),
    "Expecting ':' delimiter": gettext_noop("a colon is missing"),
    "Expecting property name enclosed in double quotes": gettext_noop("a name must be in double quotes (\"…\")"),
    "Expecting value": gettext_noop("a value is missing"),
    "Extra data": gettext_noop("there is more text after the end"),
    "Unterminated string starting at": gettext_noop("a text has no closing quote"),
    "Invalid control character at": gettext_noop("a text holds a line break or tab; write \\n or \\t"),
    "Invalid \\escape": gettext_noop("a backslash escape is not valid"),
    "Illegal trailing comma before end of object": gettext_noop("a comma before } is not allowed"),
    "Illegal trailing comma before end of array": gettext_noop("a comma before ] is not allowed"),
}


def json_problem(exc: json.JSONDecodeError) -> str:
    """"Not valid JSON at line 3, column 5: a comma is missing." in the current language."""
    why = JSON_PROBLEMS.get(exc.msg)
    why = _(why) if why else exc.msg
    return _("Not valid JSON at line %(line)s, column %(col)s: %(why)s.") % {
        "line": exc.lineno, "col": exc.colno, "why": why}


def json_excerpt(text: str, exc: json.JSONDecodeError) -> str:
    """The broken line with a caret under the column."""
    lines = text.splitlines() or [""]
    line = lines[min(exc.lineno, len(lines)) - 1]
    return f"{line}\n{' ' * max(exc.colno - 1, 0)}^"
