#!/bin/sh
# pgfold's Docker entrypoint: /usr/local/bin/pgfold-entrypoint in the image (Dockerfile).
#
# Builds pgfold's command line from the config file, when one is mounted, and from environment
# variables. pgfold applies defaults, then the file, then flags (docs/config.md), so a variable
# below wins over the same key in the file; an empty or unset variable leaves the file's value
# (or pgfold's default) alone. Arguments given to the container (docker run IMAGE --mode
# observe) come last and win over everything. A first argument that is not an option is run
# as a command instead (docker run -it IMAGE sh).
#
#   PGFOLD_CONFIG        /etc/pgfold/pgfold.ini   read with -c when it exists (mount it: a volume
#                                                 or a bind mount, readable by uid 6432)
#   PGFOLD_UPSTREAM      --upstream      libpq URI or key=value, no user or password
#   PGFOLD_LISTEN        --listen        the image sets 0.0.0.0:6432
#   PGFOLD_ADMIN_LISTEN  --admin-listen  the image sets 0.0.0.0:6433 (pgfold-healthcheck uses it)
#   PGFOLD_MODE          --mode          rewrite | observe | passthrough
#   PGFOLD_LOG_LEVEL     --log-level
#   PGFOLD_WORKERS       --workers
# Every other key goes in the file.
set -eu

case "${1:-}" in
'' | -*) ;;
*) exec "$@" ;;
esac

# Prepended in reverse, so that the final order is: -c FILE, the variables' flags, "$@".
[ -z "${PGFOLD_WORKERS:-}" ] || set -- --workers "$PGFOLD_WORKERS" "$@"
[ -z "${PGFOLD_LOG_LEVEL:-}" ] || set -- --log-level "$PGFOLD_LOG_LEVEL" "$@"
[ -z "${PGFOLD_MODE:-}" ] || set -- --mode "$PGFOLD_MODE" "$@"
[ -z "${PGFOLD_ADMIN_LISTEN:-}" ] || set -- --admin-listen "$PGFOLD_ADMIN_LISTEN" "$@"
[ -z "${PGFOLD_LISTEN:-}" ] || set -- --listen "$PGFOLD_LISTEN" "$@"
[ -z "${PGFOLD_UPSTREAM:-}" ] || set -- --upstream "$PGFOLD_UPSTREAM" "$@"

conf="${PGFOLD_CONFIG:-/etc/pgfold/pgfold.ini}"
if [ -e "$conf" ]; then
    # Exists but unreadable: pgfold says so ("cannot open") and exits 2.
    set -- -c "$conf" "$@"
elif [ -n "${PGFOLD_CONFIG:-}" ]; then
    echo "pgfold-entrypoint: PGFOLD_CONFIG=$conf does not exist" >&2
    exit 2
elif [ -z "${PGFOLD_UPSTREAM:-}" ]; then
    echo "pgfold-entrypoint: no $conf and no PGFOLD_UPSTREAM: the upstream is pgfold's default," \
        "the unix socket in /var/run/postgresql" >&2
fi

# The upstream carries no password (pgfold refuses one), so the command line is safe to show.
echo "pgfold-entrypoint: pgfold $*" >&2
exec pgfold "$@"
