from django.shortcuts import get_object_or_404, render

from modules.notices import selectors


def notice_list(request):
    return render(request, "notices/list.html", {"notices": selectors.published()[:50]})


def notice_detail(request, pk: int):
    return render(request, "notices/detail.html", {"notice": get_object_or_404(selectors.published(), pk=pk)})
