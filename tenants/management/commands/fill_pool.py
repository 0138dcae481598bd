from django.core.management.base import BaseCommand

from tenants.services import fill_pool, pool_size


class Command(BaseCommand):
    help = "Create spare, fully migrated district schemas until the pool holds --size of them."

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args, **o):
        made = fill_pool(o["size"])
        self.stdout.write(f"made {made} spare schema(s); pool now {pool_size()}")
