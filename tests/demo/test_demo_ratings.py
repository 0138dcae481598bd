"""Kangbashi's demo of 好差评: every ratings page has something true to show, for the person who uses it."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from console.demo import DISTRICTS, seed_district
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_kangbashi_demo_ratings_fill_every_page():
    from modules.ratings.models import Appeal, FollowUp, Rating, Reply, StarAward, Tally

    district = seed_district({**DISTRICTS[0], "slug": "demo-rt", "places": "kangbashi"})
    with tenant_context(district):
        assert Rating.objects.filter(state="counted", channel__in=["official_code", "merchant_code"]).count() > 1000
        rules = {reason["rule"] for r in Rating.objects.filter(state="held") for reason in r.hold_reasons}
        assert {"same_device", "colleague"} <= rules
        assert {"open", "done"} <= set(FollowUp.objects.values_list("status", flat=True))
        assert {"pending", "dismissed"} <= set(Appeal.objects.values_list("status", flat=True))
        assert Reply.objects.exists() and Rating.objects.filter(follow_on_of__isnull=False).exists()
        assert StarAward.objects.filter(year=timezone.localdate().year - 1).exists()
        # the tallies are the counted ratings
        counted = Rating.objects.filter(state="counted").count()
        assert sum(Tally.objects.filter(dimension="").values_list("n", flat=True)) == counted
        resident_bad = Rating.objects.get(rater__username="resident", level__lte=2)
        assert resident_bad.follow_up.status == "done"  # the demo resident sees a callback's outcome
        users = {u.username: u for u in get_user_model().objects.filter(
            username__in=["admin", "resident", "official", "merchant", "staff"])}
        award = StarAward.objects.first()
    connection.set_schema_to_public()
    pages = [("resident", "/ratings/mine/"), ("resident", f"/ratings/mine/{resident_bad.pk}/"),
             ("official", "/ratings/me/official/"), ("merchant", "/ratings/me/merchant/"),
             ("admin", "/ratings/staff/held/"), ("admin", "/ratings/staff/follow-ups/"),
             ("admin", "/ratings/staff/appeals/"), ("admin", "/ratings/staff/rankings/"),
             ("admin", "/ratings/staff/trends/"), ("admin", "/ratings/staff/stars/"), ("admin", "/ratings/department/"),
             (None, f"/ratings/stars/{award.token}/")]
    for username, url in pages:
        client = client_for(district, users[username]) if username else client_for(district)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, (username, url, response.status_code)
        html = response.content.decode()
        if 'data-testid="ratings"' in html:  # a page of one's ratings: the list itself is what must be full
            html = html.split('data-testid="ratings"')[1].split("</ul>")[0]
        empty = [m for m in ('class="empty"', 'class="card empty"', 'data-testid="no-ratings"',
                             'data-testid="no-official"') if m in html]
        assert not empty, (username, url, empty)
