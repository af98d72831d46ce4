"""Drop what is cached about a user when their account or enrolments change."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from portal.auth_backend import forget_cached_user
from portal.models import Enrolment
from portal.page_cache import forget_user_pages


def _forget(user_id) -> None:
    forget_cached_user(user_id)
    forget_user_pages(user_id)


@receiver([post_save, post_delete], sender=get_user_model())
def user_changed(sender, instance, **kwargs):
    _forget(instance.pk)


@receiver([post_save, post_delete], sender=Enrolment)
def enrolment_changed(sender, instance, **kwargs):
    _forget(instance.user_id)
