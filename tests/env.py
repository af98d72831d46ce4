"""Environment defaults for the test suite, loaded as a plugin (``-p tests.env``) so
they are in place before pytest-django reads the settings.

The suite runs against real services: PostgreSQL (DATABASE_URL), Redis (REDIS_URL), a
Celery worker process and a localcloud process started by fixtures. scripts/test.sh
makes sure PostgreSQL and Redis are up; the defaults match this project's CI machine.
"""

import os
import uuid

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# A queue of our own, so that two test runs sharing one Redis never take each other's tasks.
os.environ.setdefault("CELERY_QUEUE", f"test-{uuid.uuid4().hex[:8]}")
# Cached values (sessions, the course outline) of one run never meet another's.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
