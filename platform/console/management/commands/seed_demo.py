from django.conf import settings
from django.core.management.base import BaseCommand

from console.demo import (
    DEMO_PASSWORD,
    DISTRICTS,
    PEOPLE,
    RESIDENT_PHONES,
    ensure_platform_staff,
    seed_district,
)


class Command(BaseCommand):
    help = "Create (or top up) the three demo districts and print the sign-ins for every role."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")

    def handle(self, *args, **o):
        port = o["port"]
        staff = ensure_platform_staff()
        out = self.stdout.write
        out(self.style.SUCCESS("\nMashang demo is ready.\n"))
        out(f"Platform site:  http://{settings.PLATFORM_DOMAIN}:{port}/   (console: /console/, admin: /admin/)")
        for username, password in staff:
            out(f"   platform staff: {username} / {password}")
        for spec in DISTRICTS:
            sign_ins: list[str] = []  # what the modules' demo hooks add (the integrations' keys)
            district = seed_district(spec, domain_suffix=settings.DISTRICT_DOMAIN_SUFFIX, sign_ins=sign_ins)
            host = f"{district.slug}.{settings.DISTRICT_DOMAIN_SUFFIX}"
            out(f"\n{district.name_zh} {district.name_en}: http://{host}:{port}/   modules: {', '.join(district.modules)}")
            out(f"   district admin:  admin / {DEMO_PASSWORD}   (settings: /manage/, admin: /admin/)")
            for username, _name, role, kind, code in PEOPLE:
                scope = "" if kind == "district" else f" @ {kind} {code}"
                out(f"   {role.label:<26} {username} / {DEMO_PASSWORD}{scope}")
            out(f"   resident:        phone {RESIDENT_PHONES[district.slug]} + the code printed in the server log")
            if district.has_module("points"):
                out(f"   benefit provider: provider / {DEMO_PASSWORD}   (scans a resident's benefit code; desk: /points/verify/)")
            for line in sign_ins:
                out(f"   {line}")
        out("\nAPI: /api/v1/ on every host; schema /api/schema/, Swagger UI /api/docs/.")
