"""Reads lesson files: YAML front matter between '---' lines, then Markdown."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from curriculum.models import Lesson
from curriculum.rendering import RENDERER_VERSION, render_markdown

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LAB_NAMES = {"storage", "notebook", "training", "transform"}


class LessonFileError(Exception):
    """A lesson file cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class LessonSource:
    slug: str
    title: str
    module: int
    module_title: str
    order: int
    kind: str
    audience: str
    lab: str
    objectives: list[dict[str, str]]
    body_html: str
    source_name: str
    source_sha256: str


def objective_key(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:12]


def _split_front_matter(name: str, text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise LessonFileError(f"{name}: must start with a '---' front matter block.")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise LessonFileError(f"{name}: the front matter block is not closed with '---'.")
    try:
        meta = yaml.safe_load(parts[0].removeprefix("---"))
    except yaml.YAMLError as exc:
        raise LessonFileError(f"{name}: front matter is not valid YAML ({exc}).") from None
    if not isinstance(meta, dict):
        raise LessonFileError(f"{name}: front matter must be a mapping of keys to values.")
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    return meta, body


def _required(name: str, meta: dict, key: str, kind: type):
    value = meta.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise LessonFileError(f"{name}: '{key}' is required and must be a {kind.__name__}.")
    return value


def parse_lesson_file(path: Path) -> LessonSource:
    raw = path.read_bytes()
    meta, body = _split_front_matter(path.name, raw.decode("utf-8"))
    slug = _required(path.name, meta, "slug", str)
    if not SLUG_RE.match(slug) or len(slug) > 80:
        raise LessonFileError(f"{path.name}: slug {slug!r} must be lowercase words joined by '-'.")
    kind = meta.get("kind", Lesson.Kind.LESSON)
    if kind not in Lesson.Kind.values:
        raise LessonFileError(f"{path.name}: kind must be one of {', '.join(Lesson.Kind.values)}.")
    audience = meta.get("audience", Lesson.Audience.EVERYONE)
    if audience not in Lesson.Audience.values:
        raise LessonFileError(f"{path.name}: audience must be everyone or instructors.")
    lab = meta.get("lab", "") or ""
    if kind == Lesson.Kind.LAB and lab not in LAB_NAMES:
        raise LessonFileError(
            f"{path.name}: a lab needs 'lab:' set to one of {sorted(LAB_NAMES)}."
        )
    objectives = meta.get("objectives") or []
    if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
        raise LessonFileError(f"{path.name}: objectives must be a list of sentences.")
    return LessonSource(
        slug=slug,
        title=_required(path.name, meta, "title", str).strip(),
        module=_required(path.name, meta, "module", int),
        module_title=_required(path.name, meta, "module_title", str).strip(),
        order=_required(path.name, meta, "order", int),
        kind=kind,
        audience=audience,
        lab=lab,
        objectives=[{"key": objective_key(o), "text": o.strip()} for o in objectives],
        body_html=render_markdown(body),
        source_name=path.name,
        source_sha256=hashlib.sha256(raw + RENDERER_VERSION.encode()).hexdigest(),
    )
