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


# Part of every lesson's fingerprint: bump it when the output changes, so that
# load_course re-renders lessons whose Markdown did not change.
RENDERER_VERSION = "2"


def _keyboard_scrollable(html: str) -> str:
    # Wide code blocks and tables scroll sideways; tabindex lets keyboard users scroll
    # them too. The HTML is already sanitized, so these tags are exactly as written here.
    return html.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


def render_markdown(text: str) -> str:
    html = markdown.markdown(
        text, extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS, output_format="html"
    )
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
    )
    return _keyboard_scrollable(clean)
