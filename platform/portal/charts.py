"""Charts of the portal pages: a chart is data (a small dict, below), never script. A page puts it in
the template with ``{% include "_chart.html" with chart=... %}`` (the data goes out through
``json_script``) and ``portal/charts.js`` draws every chart of the page with the Apache ECharts build
shipped in ``portal/static/vendor/echarts/`` (no CDN). Every chart has a table of the same figures
next to it. See docs/charts.md.

    {"id": "ranking-chart", "kind": "bar" | "line", "title": "...", "categories": [...],
     "series": [{"name": "...", "data": [4.5, None, ...]}], "unit": "", "min": 1, "max": 5,
     "horizontal": True, "height": 360}
"""
from __future__ import annotations

from decimal import Decimal


def _number(v):
    if v is None:
        return None
    return float(v) if isinstance(v, Decimal) else v


def chart(*, id: str, kind: str, title: str, categories: list, series: list[dict], unit: str = "",  # noqa: A002
          minimum=None, maximum=None, horizontal: bool = False, height: int | None = None) -> dict:
    """The data of one chart (see the module doc). ``height`` defaults to 360 px (a line or column
    chart), or to what a horizontal bar chart needs for its rows (36 px a row, at least 180)."""
    if height is None:
        height = max(180, 36 * len(categories) + 70) if horizontal else 360
    return {"id": id, "kind": kind, "title": str(title), "categories": [str(c) for c in categories],
            "series": [{"name": str(s["name"]), "data": [_number(v) for v in s["data"]]} for s in series],
            "unit": str(unit), "min": _number(minimum), "max": _number(maximum), "horizontal": horizontal,
            "height": int(height)}
