"""Who sees which billing rows: finance edits plans (pages and API), a vendor reads only its own
districts' invoices, a district admin only its own district's billing on its own host."""
import time

import pytest

from billing.models import Invoice, Plan
from kernel.models import AuditEntry
from tests.billing.conftest import deliver, event_for, issue_invoice, open_for
from tests.conftest import admin_of, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(people, kangbashi, laixi, fake_stripe, public_client, django_capture_on_commit_callbacks):
    """kangbashi (vendor ordos) and laixi (vendor qingdao) each with one invoice in the mirror."""
    out = {}
    for district in (kangbashi, laixi):
        account = open_for(district)
        invoice = issue_invoice(fake_stripe, account)
        deliver(public_client, event_for(invoice, "invoice.created", created=int(time.time())),
                capture=django_capture_on_commit_callbacks)
        out[district.slug] = invoice["id"]
    assert Invoice.objects.count() == 2
    return out


def test_vendor_sees_only_its_own_districts_invoices(billed, people):
    vendor, vendor2 = people.client("vendor"), people.client("vendor2")
    ids = {i["stripe_invoice_id"] for i in vendor.get("/api/v1/billing/invoices/").json()["results"]}
    assert ids == {billed["kangbashi"]}
    ids2 = {i["stripe_invoice_id"] for i in vendor2.get("/api/v1/billing/invoices/").json()["results"]}
    assert ids2 == {billed["laixi"]}
    page = vendor2.get("/billing/invoices/").content.decode()
    assert billed["laixi"] in page and billed["kangbashi"] not in page
    assert vendor2.get("/api/v1/billing/accounts/kangbashi/").status_code == 404
    assert vendor2.get("/billing/accounts/kangbashi/").status_code == 404
    assert vendor.get("/api/v1/billing/accounts/kangbashi/").status_code == 200
    finance = people.client("finance")
    assert {i["stripe_invoice_id"] for i in finance.get("/api/v1/billing/invoices/").json()["results"]} == set(billed.values())
    assert finance.get("/billing/accounts/").status_code == 200
    assert vendor.get("/billing/accounts/").status_code == 403  # the list of every account is staff's


def test_district_admin_sees_only_their_own_district(billed, kangbashi, laixi, people):
    own = client_for(laixi, admin_of(laixi))
    page = own.get("/manage/billing/")
    assert page.status_code == 200
    body = page.content.decode()
    assert billed["laixi"] in body and billed["kangbashi"] not in body
    data = own.get("/manage/billing/api/").json()
    assert [i["stripe_invoice_id"] for i in data["invoices"]] == [billed["laixi"]] and data["plan"] == "starter"
    # another district's admin on their own host sees their own, never laixi's
    other = client_for(kangbashi, admin_of(kangbashi)).get("/manage/billing/api/").json()
    assert [i["stripe_invoice_id"] for i in other["invoices"]] == [billed["kangbashi"]]
    assert client_for(laixi).get("/manage/billing/").status_code == 302  # sign in first


def test_finance_edits_plans_vendor_cannot(people, fake_stripe):
    finance, vendor, ops = people.client("finance"), people.client("vendor"), people.client("ops")
    form = {"key": "county-small", "name_zh": "县域小型版", "name_en": "County small", "modules": ["registry", "codes"],
            "max_population": "50000", "amount_yuan": "1500.50", "collection_method": "send_invoice",
            "days_until_due": "45", "grace_days": "10", "active": "1"}
    assert vendor.post("/billing/plans/edit/", form).status_code == 403
    assert ops.post("/billing/plans/edit/", form).status_code == 403  # plans are finance's
    response = finance.post("/billing/plans/edit/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get(key="county-small")
    assert plan.amount_fen == 150050 and plan.days_until_due == 45 and plan.max_population == 50000
    assert plan.stripe_plan_id == "mashang-county-small-150050-cny"
    assert fake_stripe.v1.plans.retrieve(plan.stripe_plan_id).amount == 150050
    edited = finance.post("/billing/plans/edit/?key=county-small", {**form, "key": "other", "grace_days": "9"})
    assert edited.status_code == 302 and Plan.objects.get(key="county-small").grace_days == 9
    assert not Plan.objects.filter(key="other").exists()  # a plan's key never changes
    bad = finance.post("/billing/plans/edit/", {**form, "key": "x2", "amount_yuan": "abc"})
    assert bad.status_code == 200 and not Plan.objects.filter(key="x2").exists()
    taken = finance.post("/billing/plans/edit/", form)
    assert taken.status_code == 200 and Plan.objects.filter(key="county-small").count() == 1

    patched = finance.patch("/api/v1/billing/plans/county-small/", {"amount_fen": 200000, "grace_days": 5}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["stripe_plan_id"] == "mashang-county-small-200000-cny"
    assert vendor.patch("/api/v1/billing/plans/county-small/", {"grace_days": 1}, format="json").status_code == 403
    assert vendor.get("/api/v1/billing/plans/").status_code == 403
    assert Plan.objects.get(key="county-small").grace_days == 5
    assert AuditEntry.objects.filter(action="billing.plan.change", target_id=str(plan.pk)).count() == 2
    made = finance.post("/api/v1/billing/plans/", {"key": "api-plan", "name_zh": "接口版", "amount_fen": 100,
                                                   "collection_method": "charge_automatically"}, format="json")
    assert made.status_code == 201, made.content
    dup = finance.post("/api/v1/billing/plans/", {"key": "api-plan", "name_zh": "接口版", "amount_fen": 100},
                       format="json")
    assert dup.status_code == 409 and "error" in dup.json(), dup.content
    metered_alone = finance.post("/api/v1/billing/plans/", {"key": "m-only", "name_zh": "按量", "amount_fen": 1,
                                                            "usage_metered": True}, format="json")
    assert metered_alone.status_code == 400 and not Plan.objects.filter(key="m-only").exists()


def test_pages_render_in_chinese_for_each_role(billed, people):
    for who, urls in {"finance": ["/billing/", "/billing/plans/", "/billing/plans/edit/?key=standard",
                                  "/billing/plans/edit/", "/billing/accounts/", "/billing/accounts/kangbashi/", "/billing/invoices/", "/billing/reconcile/",
                                  "/billing/events/"],
                      "ops": ["/billing/accounts/kangbashi/", "/billing/reconcile/"],
                      "vendor": ["/billing/", "/billing/invoices/", "/billing/accounts/kangbashi/",
                                 "/billing/accounts/dongsheng/"]}.items():
        client = people.client(who, language="zh-hans")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
    assert "billing:plans" not in people.client("vendor").get("/billing/").content.decode()
    assert people.client("vendor2").get("/billing/accounts/dongsheng/").status_code == 404
    assert "/billing/accounts/laixi/" in people.client("finance").get("/billing/").content.decode()


def test_the_public_api_document_tells_the_billing_truth(public_client, billed, people):
    doc = public_client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/billing/plans/", "/api/v1/billing/accounts/", "/api/v1/billing/invoices/",
                 "/api/v1/billing/usage/", "/api/v1/billing/reconcile/"):
        ok = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert "results" in doc["components"]["schemas"][ok.rsplit("/", 1)[1]]["properties"], path  # paginated
    invoice = doc["components"]["schemas"]["Invoice"]["properties"]
    assert invoice["due_date"].get("nullable") and invoice["amount_due"]["type"] == "integer"
    assert "/api/v1/billing/accounts/{slug}/override/" in doc["paths"]
    finance = people.client("finance")
    page = finance.get("/api/v1/billing/invoices/", {"page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1
    assert finance.get("/api/v1/billing/invoices/", {"page": "x"}).status_code == 400
