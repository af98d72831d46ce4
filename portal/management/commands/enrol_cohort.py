from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.services import CohortImportError, cohort_enrol_from_csv


class Command(BaseCommand):
    help = (
        "Create a cohort (or reuse one with the same name) and enrol the people in a CSV "
        "with the columns name,email,role. Prints a one-time password for each new account."
    )

    def add_arguments(self, parser):
        parser.add_argument("cohort_name")
        parser.add_argument("csv_path", type=Path)

    def handle(self, *args, cohort_name, csv_path, **options):
        try:
            text = csv_path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {csv_path}: {exc.strerror}.") from None
        try:
            cohort, enrolled = cohort_enrol_from_csv(cohort_name=cohort_name, csv_text=text)
        except CohortImportError as exc:
            raise CommandError(f"{csv_path}: {exc} Nothing was changed.") from None
        self.stdout.write(f"Cohort {cohort.name!r} ({cohort.slug}): {len(enrolled)} enrolled.")
        for person in enrolled:
            password = person.password or "(existing account, password unchanged)"
            self.stdout.write(f"  {person.role:<10} {person.username:<40} {password}")
            if person.labs_cohort and person.role == "learner":
                self.stdout.write(
                    f"             note: their labs stay in {person.labs_cohort!r}, their first "
                    "cohort. To move them here, tear down their resources on that cohort's "
                    "dashboard first, then remove that enrolment in the admin."
                )
