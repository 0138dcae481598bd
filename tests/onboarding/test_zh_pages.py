"""The onboarding pages in zh-Hans show no English (tests/i18n's check)."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from onboarding import provisioning
from onboarding.services import approve_application, create_application
from tests.i18n.test_zh_hans_pages import english_words
from tests.onboarding.conftest import application_data, png_bytes, public_client

pytestmark = pytest.mark.django_db


def test_onboarding_pages_have_no_english_in_zh_hans(vendor, vendor_user, ops_user, kangbashi):
    app = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="zh-city", name_en=""),
                             logo=SimpleUploadedFile("l.png", png_bytes()), submit=True)
    other = create_application(actor=vendor_user, vendor=vendor, data=application_data(
        slug="zh-city2", name_en="", source_district="kangbashi"), submit=True)
    run = approve_application(actor=ops_user, application=other, reason="ok")
    provisioning.provision(run.pk)
    connection.set_schema_to_public()
    pages = []
    for user in (vendor_user, ops_user):
        client = public_client(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
        urls = ["/console/applications/", f"/console/applications/{app.pk}/",
                f"/console/applications/{other.pk}/", f"/console/applications/{other.pk}/progress/"]
        if user == vendor_user:
            urls += ["/console/applications/new/", f"/console/applications/{app.pk}/edit/"]
        for url in urls:
            response = client.get(url, follow=True)
            assert response.status_code == 200, url
            html = response.content.decode()
            main = html[html.index("<main>"):html.index("</main>")]  # the console's header and nav are not ours
            pages.append((url, english_words(main)))
    # the test district's name (kangbashi区, data); Stripe, a name (billing's step: 开通计费（Stripe 客户与订阅）)
    data = {"kangbashi", "Stripe"}
    bad = {url: sorted(set(words) - data) for url, words in pages if set(words) - data}
    assert not bad, bad
