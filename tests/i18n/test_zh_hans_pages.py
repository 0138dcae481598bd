"""Every page of a district in zh-Hans has no English left in it.

The demo district of Kangbashi (every module, true data on every page) is seeded; then every named
GET route of the district URLconf is opened as a visitor, a resident, a grid worker and the district
administrator, with sample ids from the seeded data where the route needs them, in zh-Hans. Two
checks on every HTML page that opens (200):

1. its visible text (text nodes, placeholders, titles, alt texts, button values; no tags, scripts or
   styles) has no ASCII word of three letters or more, once identifiers are set aside (case
   references, codes, numbers, URLs, e-mail addresses) and the few names that are the same in Chinese
   (ALLOWED_WORDS);
2. every message the page looked up in the zh-Hans catalogue (gettext, {% translate %}, choices'
   labels) was found there: an English msgid without a msgstr shows as English.

To extend: a route that needs ids gets a sampler in SAMPLES; a route that is not a page, or a page
another piece of work owns for now, gets an entry in SKIP with the reason. A route no role can open
fails the test (so a new page is never silently unchecked).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context

from tests.i18n.samples import SAMPLES, seed_samples

pytestmark = pytest.mark.django_db

# Words that stay as they are on a Chinese page: names of standards and file types, and the language
# switch's "English".
ALLOWED_WORDS = {"API", "QR", "PDF", "Open311", "Excel", "English", "ZIP", "SVG", "CSV", "SMS", "GeoReport",
                 "WeChat", "Stripe", "Swagger", "OpenAPI", "JPEG", "PNG", "JSON", "xlsx", "csv", "pdf", "zip", "svg"}

# url name -> why it is not checked here. Pages other work of issue 11 rewrites are listed with that
# work; take the entry out when it lands.
SKIP = {
    "ready": "health probe (JSON)",
    "set_language": "POST only (the language switch)",
    "portal:logout": "POST only",
    "media": "uploaded files",
    "codes:decide": "POST only (approve / reject a binding)",
    "codes:print-run-file": "the PDF / ZIP a worker makes (tests/codes/test_print_text.py reads the PDF)",
    "cases:file": "an uploaded photo or video",
    "points:staff-evidence": "an uploaded evidence file",
    "registry:ledger-rejected": "a spreadsheet of the rejected rows",
    "notifications:read": "POST only (mark a message read)",
    "notifications:open": "marks the message read and redirects to its link",
    "cases:kept-file": "a photo kept from a refused report (the image itself)",
    "portal:settings-config-index": "redirects to the first module's configuration",
    # No ratings in the demo district yet: tests/ratings/test_followup_pages.py checks these in zh-Hans.
    "ratings:follow-up": "needs a follow-up (tests/ratings/test_followup_pages.py)",
    "ratings:appeal": "needs an appeal (tests/ratings/test_followup_pages.py)",
    "ratings:appeal-new": "needs a rating of the subject (tests/ratings/test_followup_pages.py)",
    "ratings:follow-on": "needs a rating of the rater (tests/ratings/test_followup_pages.py)",
    "ratings:reply": "needs a merchant's rating (tests/ratings/test_followup_pages.py)",
}
NOT_PAGES = re.compile(r"^cases-open311:")  # Open311 answers JSON/XML to machines, in its standard's words

# A token that is an identifier, not a word: a URL, an e-mail address, a path, or a token with a digit
# (KAN-20261207-0007, G0101, v3), an underscore (heroic_act) or a capital after a small letter (a code
# token's tail, nFY). Anything else a page shows as an identifier goes in <code> or translate="no".
IDENTIFIER = re.compile(r"""
    https?://\S+ | \S+@\S+\.\w+ | /[\w/.-]+ |
    \b[\w.-]*\d[\w.-]*\b | \b\w*_\w*\b | \b\w*[a-z]\w*[A-Z]\w*\b
""", re.VERBOSE)
WORD = re.compile(r"[A-Za-z]{3,}")


class _Visible(HTMLParser):
    """Text a person sees: text nodes outside script/style/template, and the attributes browsers show;
    not what is marked as not to be translated (<code>, <kbd>, <samp>, translate="no")."""

    SHOWN = ("placeholder", "title", "alt", "aria-label")
    HIDDEN = ("script", "style", "template", "noscript", "code", "kbd", "samp")
    VOID = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # open elements: (tag, is it or an ancestor hidden?)

    @property
    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        hidden = self._hidden or tag in self.HIDDEN or values.get("translate") == "no"
        if tag not in self.VOID:
            self._stack.append((tag, hidden))
        if hidden:
            return
        for name in self.SHOWN:
            if values.get(name):
                self.parts.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if any(open_tag == tag for open_tag, _ in self._stack):  # close it and what was left open in it
            while self._stack.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data)


def english_words(html: str) -> dict[str, str]:
    """English words of a page's visible text -> the text each was first seen in."""
    parser = _Visible()
    parser.feed(html)
    words: dict[str, str] = {}
    for part in parser.parts:
        for word in WORD.findall(IDENTIFIER.sub(" ", part)):
            if word not in ALLOWED_WORDS:
                words.setdefault(word, " ".join(part.split())[:60])
    return words


class CatalogueMisses:
    """Records the English msgids the zh-Hans catalogue did not have while pages were rendered."""

    def __init__(self):
        from django.utils.translation import trans_real

        self.catalogue = trans_real.translation("zh-hans")
        self.missed: set[str] = set()
        self.looked_up = 0

    def __enter__(self):
        catalogue, missed = self.catalogue._catalog, self.missed
        gettext, ngettext = self.catalogue.gettext, self.catalogue.ngettext

        def checked_gettext(message):
            self.looked_up += 1
            if message not in catalogue and WORD.search(message.split("\x04")[-1]):
                missed.add(message.replace("\x04", " | "))
            return gettext(message)

        def checked_ngettext(singular, plural, n):
            try:
                catalogue.plural(singular, n)
            except KeyError:
                if WORD.search(singular):
                    missed.add(singular)
            return ngettext(singular, plural, n)

        self.catalogue.gettext, self.catalogue.ngettext = checked_gettext, checked_ngettext
        return self

    def __exit__(self, *exc):
        del self.catalogue.gettext, self.catalogue.ngettext


def named_get_routes():
    """(url name, route text) of the district URLconf's named pages, API and Django admin left out."""

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else (p.namespace or namespace)
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and p.name:
                yield (f"{namespace}:{p.name}" if namespace else p.name), prefix + str(p.pattern)

    for name, route in walk(get_resolver("config.urls_tenant").url_patterns):
        if not route.startswith(("api/", "admin/")):
            yield name, route


@pytest.fixture
def demo_district():
    from console.demo import DISTRICTS, seed_district

    spec = {**DISTRICTS[0], "slug": "zh-pages", "places": "kangbashi"}
    district = seed_district(spec)
    with tenant_context(district):
        samples = seed_samples(district)
    connection.set_schema_to_public()
    return district, samples


def _clients(district) -> dict[str, Client]:
    from django.contrib.auth import get_user_model

    clients = {}
    for role in ("visitor", "resident", "grid", "admin", "provider", "merchant"):
        client = Client(HTTP_HOST=f"{district.domains.first().domain}", HTTP_ACCEPT_LANGUAGE="zh-Hans")
        if role != "visitor":
            with tenant_context(district):
                client.force_login(get_user_model().objects.get(username=role),
                                   backend="django.contrib.auth.backends.ModelBackend")
            connection.set_schema_to_public()
        clients[role] = client
    return clients


def test_every_page_is_in_chinese(demo_district):
    from django.urls import reverse

    district, samples = demo_district
    clients = _clients(district)
    words: dict[str, dict[str, str]] = defaultdict(dict)  # "url [name] as role" -> {English word: where}
    opened: dict[str, list[str]] = defaultdict(list)
    unsampled, unopened = [], []
    with CatalogueMisses() as misses:
        for name, route in named_get_routes():
            if name in SKIP or NOT_PAGES.match(name):
                continue
            needs_ids = "<" in route or "(?P<" in route
            if needs_ids and name not in SAMPLES:
                unsampled.append(f"{name} ({route})")
                continue
            for kwargs in (SAMPLES[name](samples) if needs_ids else [{}]):
                try:
                    url = reverse(name, kwargs=kwargs, urlconf="config.urls_tenant")
                except Exception as exc:  # a sampler that gives the wrong ids is a failure of this test
                    unsampled.append(f"{name}: {exc}")
                    continue
                for role, client in clients.items():
                    response = client.get(url)
                    if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                        opened[name].append(role)
                        found = english_words(response.content.decode())
                        if found:
                            words[f"{url} [{name}] as {role}"] |= found
                    elif response.status_code in (200, 405) or response.status_code >= 500:
                        opened[name].append(role)  # not HTML (a file, JSON) or POST only: not a page
                        assert response.status_code < 500, f"{url} as {role}: {response.status_code}"
            if not opened[name]:
                unopened.append(f"{name} ({route})")
        # The error pages: a page that does not exist, a staff page a resident opens.
        for name, role, url in (("error:404", "visitor", "/no-such-page/"), ("error:403", "resident", "/manage/")):
            if name not in SKIP:
                found = english_words(clients[role].get(url).content.decode())
                if found:
                    words[f"{url} [{name}] as {role}"] |= found
        connection.set_schema_to_public()
    assert misses.looked_up > 1000, "the catalogue check saw no lookups: it no longer watches the translations"
    problems = []
    if unsampled:
        problems.append("routes needing ids without a sampler in tests/i18n/samples.py SAMPLES (or a SKIP reason):\n  "
                        + "\n  ".join(unsampled))
    if unopened:
        problems.append("routes no role could open (redirect, 403, 404): fix the sample or SKIP with a reason:\n  "
                        + "\n  ".join(unopened))
    if words:
        problems.append("English words on zh-Hans pages (word in «the text it is in»):\n  " + "\n  ".join(
            f"{where}: " + "; ".join(f"{w} in «{t}»" for w, t in sorted(found.items())) for where, found in
            sorted(words.items())))
    if misses.missed:
        problems.append("messages without a zh-Hans translation:\n  " + "\n  ".join(sorted(misses.missed)))
    assert not problems, "\n\n".join(problems)


def _po_entries(path) -> list[dict]:
    """msgctxt / msgid / msgstr / flags of each entry of a .po file (enough for the checks below)."""
    entries, entry, key = [], {}, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry["flags"] = line[2:]
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgctxt ", "msgid ", "msgstr ", "msgid_plural ", "msgstr[")):
            key, _, value = line.partition(" ")
            entry[key] = entry.get(key, "") + ast.literal_eval(value)
        elif line.startswith('"') and key:
            entry[key] += ast.literal_eval(line)
    return [e for e in entries if e["msgid"]]


def test_the_catalogue_translates_every_message():
    """Every entry of the zh-Hans catalogue and of the pending files beside it has a translation (not
    fuzzy), and the compiled catalogue holds every translated entry of django.po."""
    import gettext

    from django.conf import settings

    folder = Path(settings.LOCALE_PATHS[0]) / "zh_Hans"
    untranslated = []
    for po in [folder / "LC_MESSAGES" / "django.po", *sorted(folder.glob("pending-*.po"))]:
        for e in _po_entries(po):
            if "fuzzy" in e.get("flags", "") or not (e.get("msgstr") or e.get("msgstr[0]")):
                untranslated.append(f"{po.name}: {e['msgid']!r}")
    assert not untranslated, "entries without a zh-Hans translation:\n" + "\n".join(untranslated)
    with open(folder / "LC_MESSAGES" / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    stale = [e["msgid"] for e in _po_entries(folder / "LC_MESSAGES" / "django.po")
             if (f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]) not in compiled
             and (e["msgid"], 0) not in compiled]
    assert not stale, "django.po entries missing from django.mo (run msgfmt):\n" + "\n".join(stale[:20])
