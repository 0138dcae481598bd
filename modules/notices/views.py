from django.shortcuts import get_object_or_404, render

from kernel.permissions import has_role
from modules.notices import selectors
from modules.notices.services import PUBLISHERS


def notice_list(request):
    return render(request, "notices/list.html", {"notices": selectors.published()[:50]})


def notice_detail(request, pk: int):
    # How many residents it was sent to is for those who publish, not for the residents reading it.
    return render(request, "notices/detail.html", {"notice": get_object_or_404(selectors.published(), pk=pk),
                                                   "show_audience": has_role(request.user, *PUBLISHERS)})
