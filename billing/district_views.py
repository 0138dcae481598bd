"""``/manage/billing/`` on a district's host: the district's plan, billing state and invoices, for its
administrators. The district is the request's tenant, never an id from the URL, so one district can
never read another's billing rows (they live in the public schema every search_path includes)."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connection
from django.shortcuts import render

from billing import selectors
from kernel.permissions import role_required
from kernel.roles import Role


@role_required(Role.DISTRICT_ADMIN)
def district_billing(request):
    district = connection.tenant
    page = Paginator(selectors.invoices_of_district(district), 50).get_page(request.GET.get("page"))
    return render(request, "billing/district.html", {"account": selectors.account_of_district(district),
                                                     "page": page, "tab": "billing"})
