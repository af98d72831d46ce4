from django.core.management.base import BaseCommand

from portal.services import DEMO_PASSWORD, DEMO_USERS, demo_setup


class Command(BaseCommand):
    help = "Create the demo cohort with an instructor and two learners (safe to run again)."

    def handle(self, *args, **options):
        cohort = demo_setup()
        self.stdout.write(
            f"Demo cohort {cohort.name!r}; password for every demo user: {DEMO_PASSWORD}"
        )
        for username, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {username}")
