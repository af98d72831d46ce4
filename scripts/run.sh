#!/bin/sh
# The portal on the embedded default (or on DATABASE_URL and REDIS_URL when set), with
# debug pages off: a classroom laptop shows learners the portal's own error pages, never
# a traceback or the list of URLs. Extra arguments go to `manage.py runportal`.
set -eu
VENV="${VENV:-.venv}"

# A secret key of this checkout's own, made once and kept with the embedded data, so
# that sessions survive a restart and no two installs share a key (portal/settings.py
# reads it from there, as does any management command run beside the portal).
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
    dir="${EMBEDDED_DIR:-.embedded}"
    key_file="$dir/secret-key"
    if [ ! -s "$key_file" ]; then
        mkdir -p "$dir"
        (umask 077 && "$VENV/bin/python" -c \
            "import secrets; print(secrets.token_urlsafe(50))" > "$key_file.new")
        mv "$key_file.new" "$key_file"
    fi
fi
export DEBUG="${DEBUG:-false}"
exec "$VENV/bin/python" manage.py runportal "$@"
