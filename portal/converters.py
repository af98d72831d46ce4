"""The ``id`` path converter: a row id in a URL.

Django's ``int`` converter takes any run of digits. A forged id too large for a 64-bit key
then reaches the database, and SQLite's driver (the embedded default) raises an
OverflowError on foreign-key lookups: a 500 instead of a 404. Eighteen digits always fit.
"""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


def register() -> None:
    register_converter(IdConverter, "id")
