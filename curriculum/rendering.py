"""Markdown to sanitized HTML, with Pygments highlighting for code blocks."""

import markdown
import nh3

_EXTENSIONS = ["fenced_code", "codehilite", "tables", "md_in_html", "sane_lists", "attr_list"]
_EXTENSION_CONFIGS = {"codehilite": {"css_class": "highlight", "guess_lang": False}}

# Only what lessons need: text, code, tables, collapsible answers and the small
# HTML/CSS vocabulary used for diagrams. No scripts, styles, images or iframes.
_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "*": {"class", "role", "aria-label", "id"},
    "a": {"href", "title"},
    "th": {"align", "scope"},
    "td": {"align"},
    "abbr": {"title"},
}
# Relative links only: the course works offline, so lessons never point elsewhere.
_URL_SCHEMES: set[str] = set()


def render_markdown(text: str) -> str:
    html = markdown.markdown(
        text, extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS, output_format="html"
    )
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
    )
