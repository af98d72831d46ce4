"""The portal's settings plus reference pages, for benchmarks only (bench/pages.py).

The reference pages bound what a course page can cost: they pass the same middleware
and the same login check as a lesson, then answer constant bytes.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.reference_urls"
