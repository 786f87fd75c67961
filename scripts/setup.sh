#!/usr/bin/env bash
# Set up sonar-bdc on this machine: the .venv with the package, a running
# PostgreSQL with PostGIS, and the design document's default database
# (POSTGRES_DB=propagation, POSTGRES_USER=propagation) for the main job, and
# Chromium for the review page's browser tests.
# Idempotent: run it as often as you like; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
pg_super() {  # psql as the database superuser, over TCP (trust) or the local socket
  if psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -Atq "$@"
  else
    as_root su postgres -c "psql -v ON_ERROR_STOP=1 -Atq $(printf '%q ' "$@")"
  fi
}

# 1. Python environment.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import sonar_bdc, pytest, ruff, mypy' >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.installed ] || [ src/sonar_bdc/__init__.py -nt .venv/.installed ]; then
  say "installing sonar-bdc and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch .venv/.installed
fi

# 2. PostgreSQL server, running.
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  say "installing PostgreSQL"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -q; then
  for version in $(ls /etc/postgresql); do
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
  pg_isready -h 127.0.0.1 -q || { say "PostgreSQL did not start; see /var/log/postgresql"; exit 1; }
fi

# 3. PostGIS extension package.
if [ "$(pg_super -d postgres -c "select count(*) from pg_available_extensions where name = 'postgis'")" = 0 ]; then
  major=$(pg_super -d postgres -c "show server_version_num" | cut -c1-2)
  say "installing postgresql-$major-postgis-3"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$major-postgis-3" >/dev/null
fi

# 4. The main job's default database and role (only when they are missing).
db=${POSTGRES_DB:-propagation}
user=${POSTGRES_USER:-propagation}
if [ "$(pg_super -d postgres -c "select count(*) from pg_roles where rolname = '$user'")" = 0 ]; then
  say "creating role $user"
  pg_super -d postgres -c "create role \"$user\" login"
fi
if [ "$(pg_super -d postgres -c "select count(*) from pg_database where datname = '$db'")" = 0 ]; then
  say "creating database $db owned by $user"
  pg_super -d postgres -c "create database \"$db\" owner \"$user\""
fi
# PostGIS needs a superuser to install; after that the owner can use it.
pg_super -d "$db" -c "create extension if not exists postgis" >/dev/null

# 5. Chromium, for the review page's tests (Debian's package, driven by Playwright from
#    pytest: no browser download). Only when missing.
if ! command -v chromium >/dev/null 2>&1; then
  say "installing chromium (the review page's browser tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
say "ready"
