from django.core.management.base import BaseCommand, CommandError

from kernel.errors import DomainError
from tenants.services import AdminSpec, create_district


class Command(BaseCommand):
    help = "Create a live district (schema from the spare pool, domain, modules, first admin)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name-zh", required=True)
        parser.add_argument("--name-en", default="")
        parser.add_argument("--domain", default=None)
        parser.add_argument("--modules", default="", help="comma-separated module keys")
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--admin-password", default=None)
        parser.add_argument("--no-pool", action="store_true", help="replay migrations instead of using the pool")

    def handle(self, *args, **o):
        modules = [m.strip() for m in o["modules"].split(",") if m.strip()]
        try:
            created = create_district(slug=o["slug"], name_zh=o["name_zh"], name_en=o["name_en"],
                                      domain=o["domain"], modules=modules, use_pool=not o["no_pool"],
                                      admin=AdminSpec(username=o["admin_username"], password=o["admin_password"]))
        except DomainError as exc:
            raise CommandError(exc.message)
        d = created.district
        self.stdout.write(self.style.SUCCESS(
            f"{d.name_zh} ({d.slug}) is live at {d.primary_domain} in {created.seconds:.3f}s "
            f"({'pool' if created.from_pool else 'migrations'})"))
