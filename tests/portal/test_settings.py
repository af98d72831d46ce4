"""Settings come from the environment and refuse values they cannot use."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('loaded')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_default_secret_key(tmp_path):
    result = _load_settings(DEBUG="false", EMBEDDED_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_bad_boolean_is_named_in_the_error():
    result = _load_settings(DEBUG="maybe", SECRET_KEY="x" * 40)
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_database_url_with_an_unknown_scheme_is_refused():
    result = _load_settings(DEBUG="true", DATABASE_URL="mysql://db/portal")
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://db/portal' must start with one of" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("a-long-secret-from-a-mounted-file\n")
    result = _load_settings(DEBUG="false", SECRET_KEY_FILE=str(secret))
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


def test_a_command_beside_make_run_uses_the_key_it_made(tmp_path):
    (tmp_path / "secret-key").write_text("the-key-make-run-made-for-this-checkout\n")
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.SECRET_KEY)"
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "false",
             "EMBEDDED_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "the-key-make-run-made-for-this-checkout"


def test_embedded_default_uses_a_real_broker_never_eager_mode(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES['default']['ENGINE'],"
        " s.CELERY_BROKER_TRANSPORT)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DEBUG": "true", "EMBEDDED_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [
        "filesystem://",
        "False",
        "django.db.backends.sqlite3",
        "portal.embedded_broker:Transport",  # Whole messages only (test_embedded_broker.py).
    ]


@pytest.mark.parametrize(
    "host, setting, wanted",
    [
        ("127.0.0.1", None, True),
        ("localhost", None, True),
        ("::1", None, True),
        ("0.0.0.0", None, False),  # A classroom: every machine on the network reaches it.
        ("192.168.1.20", None, False),
        ("0.0.0.0", "true", True),
        ("127.0.0.1", "false", False),
    ],
)
def test_demo_users_with_their_public_password_only_where_only_this_machine_reaches(
    monkeypatch, host, setting, wanted
):
    from portal.management.commands.runportal import demo_users_wanted

    if setting is None:
        monkeypatch.delenv("DEMO_USERS", raising=False)
    else:
        monkeypatch.setenv("DEMO_USERS", setting)
    assert demo_users_wanted(host) is wanted
