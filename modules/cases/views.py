"""Resident and staff pages of the cases module (placeholders until built)."""
from django.http import HttpResponse


def report(request):
    return HttpResponse("snap report")


def mine(request):
    return HttpResponse("my cases")


def pool(request):
    return HttpResponse("pool")
