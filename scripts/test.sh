#!/bin/sh
# The whole test suite on the real stack: PostgreSQL, Redis, a Celery worker process,
# a localcloud process and headless Chromium. Extra arguments go to pytest.
set -eu
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/14}"
export SECRET_KEY="${SECRET_KEY:-test-only-secret-key}"

port_open() {
    "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('$1', $2)))"
}

wait_for_port() {
    i=0
    while ! port_open "$1" "$2"; do
        i=$((i + 1)); [ "$i" -gt 30 ] && return 1; sleep 1
    done
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

ensure_postgres() {
    port_open 127.0.0.1 5432 && return 0
    echo "test: PostgreSQL is not answering on 127.0.0.1:5432; starting it"
    if ! command -v pg_ctlcluster >/dev/null; then
        as_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql" \
            || { echo "test: cannot install PostgreSQL; set DATABASE_URL to a running server." >&2; exit 1; }
    fi
    version="$(ls /etc/postgresql | sort -n | tail -1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port 127.0.0.1 5432 || { echo "test: PostgreSQL did not start." >&2; exit 1; }
}

ensure_redis() {
    port_open 127.0.0.1 6379 && return 0
    echo "test: Redis is not answering on 127.0.0.1:6379; starting it"
    if ! command -v redis-server >/dev/null; then
        as_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server" \
            || { echo "test: cannot install Redis; set REDIS_URL to a running server." >&2; exit 1; }
    fi
    mkdir -p /tmp/portal-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/portal-redis --logfile /tmp/portal-redis/redis.log
    wait_for_port 127.0.0.1 6379 || { echo "test: Redis did not start." >&2; exit 1; }
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ]; then return 0; fi
    echo "test: installing Debian's chromium for the browser tests"
    as_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium" >/dev/null 2>&1 || true
    if [ ! -x /usr/bin/chromium ]; then
        echo "=================================================================="
        echo "WARNING: Chromium is missing and cannot be installed here."
        echo "WARNING: the browser tests will be SKIPPED (apt-get install chromium)."
        echo "=================================================================="
    fi
}

case "${DATABASE_URL}" in postgres*://*@127.0.0.1:5432/*|postgres*://127.0.0.1:5432/*) ensure_postgres ;; esac
case "${REDIS_URL}" in redis://127.0.0.1:6379*) ensure_redis ;; esac
ensure_chromium

echo "test: ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "test: makemigrations --check"
"$PY" manage.py makemigrations --check --dry-run >/dev/null
"$PY" manage.py collectstatic --noinput -v0
echo "test: pytest"
exec "$PY" -m pytest "$@"
