#!/bin/sh
# Restores a dump written by backup.sh into a database, creating it (it must not exist: restoring over
# live data is a decision to make by hand, by dropping it first).
#   restore.sh <dump file> <target database>
#   docker compose exec postgres-backup sh /deploy/postgres/restore.sh /backups/gantry-<stamp>.dump gantry_restored
# Connection from the libpq variables: PGHOST, PGPORT, PGUSER, PGPASSWORD.
set -eu
dump=${1:?usage: restore.sh <dump file> <target database>}
target=${2:?usage: restore.sh <dump file> <target database>}
[ -f "$dump" ] || { echo "restore.sh: no dump at $dump" >&2; exit 1; }
case "$target" in *[!A-Za-z0-9_]*) echo "restore.sh: database name must be letters, digits and _" >&2; exit 2 ;; esac
createdb --maintenance-db="${PGMAINTENANCE_DB:-postgres}" "$target"
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$target" "$dump"
echo "restore.sh: restored $dump into $target"
