"""The phone pages of rating: the 评价 action on the code's landing, the rate page (sign in first; five
faces, each a submit button), the rating just given with its state and follow-up, my ratings; in
zh-Hans with no English left (the pending translations compiled with the catalogue); 404 with the
module off."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from modules.codes import services as codes
from modules.ratings.followup.models import FollowUp
from modules.ratings.ledger.models import Rating
from tests.conftest import client_for
from tests.i18n.test_zh_hans_pages import english_words as _english_words
from tests.ratings.conftest import add_rating


def code_of(rw, **target) -> str:
    with tenant_context(rw.district):
        token = codes.issue_codes(actor=rw.admin, **target)[0].token
    connection.set_schema_to_public()
    return token


@pytest.fixture
def zh_catalogue():
    """The zh-Hans catalogue (kept as a fixture: the browser tests ask for it)."""
    yield


def english_words(html: str) -> dict:
    """English left on a page, but the test district's own name (kangbashi区: a test fixture's)."""
    return {w: t for w, t in _english_words(html).items() if w.lower() != "kangbashi"}


def zh(client, url, **extra):
    return client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans", **extra)


def test_the_code_landing_offers_rating_to_everyone_but_the_subject(rw):
    token = code_of(rw, official=rw.o1)
    for user in (None, rw.res1, rw.stranger):
        html = client_for(rw.district, user).get(f"/c/{token}").content.decode()
        assert 'data-action="rate"' in html and f"/ratings/rate/{token}/" in html
    assert 'data-action="rate"' not in client_for(rw.district, rw.o1_user).get(f"/c/{token}").content.decode()
    shop = code_of(rw, merchant=rw.shop)
    assert 'data-action="rate"' in client_for(rw.district, rw.res1).get(f"/c/{shop}").content.decode()
    assert 'data-action="rate"' not in client_for(rw.district, rw.shop_owner).get(f"/c/{shop}").content.decode()
    stall = code_of(rw, merchant=rw.stall)
    assert 'data-action="rate"' in client_for(rw.district).get(f"/c/{stall}").content.decode()


def test_a_scanner_not_signed_in_is_sent_to_sign_in_and_back(rw):
    token = code_of(rw, official=rw.o1)
    answer = client_for(rw.district).get(f"/ratings/rate/{token}/")
    assert answer.status_code == 302 and answer["Location"] == f"/login/?next=/ratings/rate/{token}/"


def test_two_taps_rate_and_the_rater_sees_the_rating(rw, zh_catalogue):
    token = code_of(rw, official=rw.o1)
    me = client_for(rw.district, rw.res1)
    page = zh(me, f"/ratings/rate/{token}/")
    html = page.content.decode()
    assert page.status_code == 200 and "钱进" in html and "民政局 · 科长" in html
    assert [int(v) for v in re.findall(r'data-testid="face-(\d)"', html)] == [5, 4, 3, 2, 1]
    assert "非常满意" in html and "非常不满意" in html and "rated-before" not in html
    assert not english_words(html), english_words(html)
    assert len(page.cookies["rt_device"].value) >= 24 and page.cookies["rt_device"]["httponly"]
    me.cookies["rt_device"] = page.cookies["rt_device"].value
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    sent = me.post(f"/ratings/rate/{token}/", {"level": "2", "idempotency_key": key, "score_duty": "1",
                                               "score_style": "", "comment": "态度不好"})
    assert sent.status_code == 302
    with tenant_context(rw.district):
        rating = Rating.objects.get()
    assert sent["Location"] == f"/ratings/mine/{rating.pk}/"
    assert rating.level == 2 and rating.scores["duty"] == 1 and rating.scores["style"] == 2
    assert rating.comment == "态度不好" and rating.device_hash and rating.network_hash
    again = me.post(f"/ratings/rate/{token}/", {"level": "2", "idempotency_key": key, "score_duty": "1",
                                                "comment": "态度不好"})  # a double tap: the same rating
    assert again["Location"] == sent["Location"]
    shown = zh(me, sent["Location"]).content.decode()
    assert "钱进" in shown and "不满意" in shown and "态度不好" in shown and 'data-testid="follow-up"' in shown
    assert not english_words(shown), english_words(shown)
    before = zh(me, f"/ratings/rate/{token}/").content.decode()
    assert 'data-testid="rated-before"' in before and "再次评价将替换" in before
    listed = zh(me, "/ratings/mine/").content.decode()
    assert f'data-rating="{rating.pk}"' in listed and not english_words(listed), english_words(listed)
    assert client_for(rw.district, rw.res2).get(sent["Location"]).status_code == 404


def test_the_rater_sees_a_held_rating_and_the_callbacks_outcome(rw, zh_catalogue):
    with tenant_context(rw.district):
        held = add_rating(official=rw.o2, level=5, rater=rw.res1, state="held")
        bad = add_rating(merchant=rw.shop, level=1, rater=rw.res1)
        now = timezone.now()
        FollowUp.objects.create(rating=bad, status="done", outcome="explained", note="已向您说明情况并致歉",
                                called_at=now, opened_at=now)
    connection.set_schema_to_public()
    me = client_for(rw.district, rw.res1)
    page = zh(me, f"/ratings/mine/{held.pk}/").content.decode()
    assert "正在核实" in page and 'data-state="held"' in page
    page = zh(me, f"/ratings/mine/{bad.pk}/").content.decode()
    assert "已回访" in page and "解释说明" in page and "已向您说明情况并致歉" in page
    assert not english_words(page), english_words(page)


def test_refusals_are_explained_on_the_page(rw, zh_catalogue):
    token = code_of(rw, official=rw.o1)
    own = zh(client_for(rw.district, rw.o1_user), f"/ratings/rate/{token}/")
    assert own.status_code == 403 and "不能评价自己" in own.content.decode()
    stranger = zh(client_for(rw.district, rw.stranger), f"/ratings/rate/{token}/")
    assert stranger.status_code == 403 and "绑定" in stranger.content.decode()
    assert not english_words(stranger.content.decode())
    assert client_for(rw.district, rw.stranger).post(f"/ratings/rate/{token}/", {"level": "5"}).status_code == 403
    bad = client_for(rw.district, rw.res1).post(f"/ratings/rate/{token}/", {"level": "9"})
    assert bad.status_code == 400
    assert client_for(rw.district, rw.res1).get("/ratings/rate/no-such-code-token-here/").status_code == 404
    with tenant_context(rw.district):
        assert not Rating.objects.exists()


def test_module_off_the_pages_answer_404(laixi):
    assert client_for(laixi).get("/ratings/mine/").status_code == 404
    assert client_for(laixi).get("/ratings/rate/abcdefghijklmnopqrstuvwxyz/").status_code == 404
