from django.utils.functional import SimpleLazyObject

from portal.selectors import user_is_instructor


def roles(request):
    """``is_instructor`` for the navigation; evaluated only when a template asks."""
    return {"is_instructor": SimpleLazyObject(lambda: user_is_instructor(request.user))}
