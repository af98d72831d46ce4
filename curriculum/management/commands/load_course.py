from django.core.management.base import BaseCommand, CommandError

from curriculum.loader import LessonFileError
from curriculum.services import lesson_sync_from_directory


class Command(BaseCommand):
    help = "Load or refresh the course from curriculum/content/*.md (safe to run again)."

    def handle(self, *args, **options):
        try:
            report = lesson_sync_from_directory()
        except LessonFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"course: {len(report.created)} new, {len(report.updated)} updated, "
            f"{len(report.hidden)} hidden, {len(report.unchanged)} unchanged"
        )
