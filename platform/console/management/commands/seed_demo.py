from django.conf import settings
from django.core.management.base import BaseCommand

from console.demo import (
    DISTRICTS,
    PEOPLE,
    RESIDENT_PHONES,
    ensure_platform_staff,
    seed_district,
)
from kernel.demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Create (or top up) the three demo districts and print the sign-ins for every role."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--lan-district", default="kangbashi",
                            help="the district phones on this network reach at the machine's LAN address "
                                 "(its codes point there); DEMO_LAN_HOST sets the address, 'none' turns it off")

    def handle(self, *args, **o):
        port = o["port"]
        staff = ensure_platform_staff()
        out = self.stdout.write
        out(self.style.SUCCESS("\nMashang demo is ready.\n"))
        out(f"Platform site:  http://{settings.PLATFORM_DOMAIN}:{port}/   (console: /console/, admin: /admin/)")
        for username, password, role in staff:
            out(f"   {role:<15} {username} / {password}")
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
        from console.demo import open_demo_billing
        from onboarding.demo import seed_demo as seed_applications

        out("")
        for line in open_demo_billing(port):
            out(line)
        seed_applications()  # vendor2's application for 即墨区, waiting for review
        out("onboarding: vendor2's application for 即墨区 waits for review (ops: /console/applications/)")
        self.open_to_lan(o["lan_district"], port, out)
        out("\nAPI: /api/v1/ on every host; schema /api/schema/, Swagger UI /api/docs/.")

    def open_to_lan(self, slug: str, port: str, out) -> None:
        from django.db import connection

        from console.demo_lan import lan_address, open_to_lan
        from tenants.models import District

        host = lan_address()
        connection.set_schema_to_public()
        district = District.objects.filter(slug=slug).first()
        if not host or district is None:
            out("\nNo LAN address found: printed codes open on this machine only (set DEMO_LAN_HOST).")
            return
        origin = open_to_lan(district, host=host, port=port)
        out(f"\nOn a phone on this network: {origin}/ is {district.name_zh} (its printed codes open there; "
            f"the other districts' codes use *.localhost, this machine only).")
