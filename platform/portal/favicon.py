"""The favicon in the district's colour, drawn here (no file to upload, nothing from outside): a
rounded square with the three finder squares of a QR code — 码上. SVG for browsers that take it,
ICO and a 180 px PNG (home-screen icon on phones) for the others."""
from __future__ import annotations

import io
import re
from functools import lru_cache

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.http import require_safe

DEFAULT_COLOR = "#c62828"
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_AGE = 86400
# Finder squares of a 24-unit grid: (x, y) of each 7x7 square's corner.
FINDERS = ((3, 3), (14, 3), (3, 14))


def _colour(request) -> str:
    district = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    colour = getattr(district, "primary_color", "") or DEFAULT_COLOR
    return colour if HEX.match(colour) else DEFAULT_COLOR


@lru_cache(maxsize=64)
def svg(colour: str) -> str:
    squares = "".join(
        f'<rect x="{x}" y="{y}" width="7" height="7" rx="1" fill="#fff"/>'
        f'<rect x="{x + 2}" y="{y + 2}" width="3" height="3" fill="{colour}"/>' for x, y in FINDERS)
    dots = '<rect x="14" y="14" width="3" height="3" fill="#fff"/><rect x="18" y="18" width="3" height="3" fill="#fff"/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="5" '
            f'fill="{colour}"/>{squares}{dots}</svg>')


def _draw(colour: str, size: int):
    from PIL import Image, ImageDraw

    scale = size / 24
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def box(x, y, w, h, fill, radius=0.0):
        xy = (round(x * scale), round(y * scale), round((x + w) * scale) - 1, round((y + h) * scale) - 1)
        draw.rounded_rectangle(xy, radius=round(radius * scale), fill=fill)

    box(0, 0, 24, 24, colour, 5)
    for x, y in FINDERS:
        box(x, y, 7, 7, "#ffffff", 1)
        box(x + 2, y + 2, 3, 3, colour)
    box(14, 14, 3, 3, "#ffffff")
    box(18, 18, 3, 3, "#ffffff")
    return image


@lru_cache(maxsize=64)
def png(colour: str, size: int = 180) -> bytes:
    out = io.BytesIO()
    _draw(colour, size).convert("RGB").save(out, "PNG")  # opaque: home screens put it on their own tile
    return out.getvalue()


@lru_cache(maxsize=64)
def ico(colour: str) -> bytes:
    out = io.BytesIO()
    _draw(colour, 64).save(out, "ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    return out.getvalue()


def _response(body, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


@require_safe
def favicon_svg(request):
    return _response(svg(_colour(request)), "image/svg+xml")


@require_safe
def favicon_ico(request):
    return _response(ico(_colour(request)), "image/x-icon")


@require_safe
def touch_icon(request):
    return _response(png(_colour(request)), "image/png")
