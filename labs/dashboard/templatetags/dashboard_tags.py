from django import template

register = template.Library()


@register.filter
def portal_tag(tags, name: str) -> str:
    """The value of the ``portal:<name>`` tag of a cloud item, or an empty string."""
    if not isinstance(tags, dict):
        return ""
    return tags.get(f"portal:{name}", "")
