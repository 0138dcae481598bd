"""District settings of the cases module and the figures page (placeholders until built)."""
from django.http import HttpResponse


def figures(request):
    return HttpResponse("figures")


def settings_home(request):
    return HttpResponse("settings")
