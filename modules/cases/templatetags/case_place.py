"""Where a case is, in words, and links that open it in a map app: the phone's own (a ``geo:`` URI)
and Amap's web marker (opens the Amap app when installed, the web map otherwise). Built from the
stored coordinates only: nothing is fetched while a page renders."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from django import template

register = template.Library()


def place_words(case) -> str:
    """The case's place as a person would say it: the spot the reporter wrote, else the household's
    address, the compound, or the grid / community / street it belongs to."""
    if case.address:
        return case.address
    if case.household_id:
        return case.household.address
    if case.compound_id:
        return case.compound.name
    for unit in ("grid", "community", "street"):
        if getattr(case, f"{unit}_id", None):
            return getattr(case, unit).name
    return ""


def map_urls(latitude, longitude, label: str = "") -> dict[str, str]:
    """``geo:`` (RFC 5870, with a label for Android's picker) and Amap's marker URL. The coordinates
    are the phone's GPS (WGS-84); Amap is told so and shifts them onto its own map."""
    lat, lng = f"{float(latitude):.6f}", f"{float(longitude):.6f}"
    name = label or f"{lat},{lng}"
    geo = f"geo:{lat},{lng}?q={lat},{lng}({quote(name)})"
    amap = "https://uri.amap.com/marker?" + urlencode({"position": f"{lng},{lat}", "name": name,
                                                       "coordinate": "wgs84", "callnative": "1"})
    return {"geo": geo, "amap": amap}


@register.inclusion_tag("cases/_place.html")
def case_place(case, compact: bool = False):
    words = place_words(case)
    has_point = case.latitude is not None and case.longitude is not None
    return {"words": words, "compact": compact, "has_point": has_point,
            "urls": map_urls(case.latitude, case.longitude, words) if has_point else {},
            "point": f"{case.latitude}, {case.longitude}" if has_point else ""}
