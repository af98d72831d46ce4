from django.db import transaction


def enqueue_after_commit(task, *args, countdown: int | None = None) -> None:
    """Send ``task`` once the current transaction commits, so the worker never looks for
    a row that is not there yet (outside a transaction it is sent at once)."""
    transaction.on_commit(lambda: task.apply_async(args, countdown=countdown))
