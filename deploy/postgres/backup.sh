#!/bin/sh
# Scheduled PostgreSQL backups with retention (the postgres-backup service of docker-compose.yml,
# and test/stack/backup.stack.test.ts against the real PostgreSQL).
#   backup.sh once    one pg_dump (custom format) into $BACKUP_DIR, then prune to the newest $BACKUP_KEEP
#   backup.sh loop    `once` every $BACKUP_INTERVAL_SECONDS, forever (the service's entrypoint)
#   backup.sh check   health: exit 0 when the newest dump is younger than two intervals
# Connection from the libpq variables: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backups}
BACKUP_KEEP=${BACKUP_KEEP:-7}
BACKUP_INTERVAL_SECONDS=${BACKUP_INTERVAL_SECONDS:-86400}
DB=${PGDATABASE:?set PGDATABASE to the database to dump}

once() {
  mkdir -p "$BACKUP_DIR"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out="$BACKUP_DIR/$DB-$stamp.dump"
  # Written under a temporary name and renamed: a dump cut short never looks like a good one.
  pg_dump --format=custom --no-owner --no-privileges --file="$out.partial" "$DB"
  mv "$out.partial" "$out"
  echo "backup.sh: wrote $out ($(wc -c <"$out") bytes)"
  # Retention: keep the newest $BACKUP_KEEP dumps of this database (names sort by time).
  ls -1 "$BACKUP_DIR" | grep -E "^$DB-[0-9]{8}T[0-9]{6}Z\.dump$" | sort -r | tail -n +"$((BACKUP_KEEP + 1))" |
    while read -r old; do rm -f "$BACKUP_DIR/$old" && echo "backup.sh: pruned $old"; done
}

case "${1:-once}" in
  once) once ;;
  loop)
    while true; do
      once || echo "backup.sh: pg_dump failed; retrying at the next interval" >&2
      sleep "$BACKUP_INTERVAL_SECONDS"
    done
    ;;
  check)
    newest=$(ls -1t "$BACKUP_DIR"/"$DB"-*.dump 2>/dev/null | head -1)
    [ -n "$newest" ] || { echo "no backup yet in $BACKUP_DIR" >&2; exit 1; }
    age=$(($(date +%s) - $(date -r "$newest" +%s)))
    [ "$age" -lt $((BACKUP_INTERVAL_SECONDS * 2)) ] || { echo "newest backup $newest is ${age}s old" >&2; exit 1; }
    ;;
  *) echo "usage: backup.sh once|loop|check" >&2; exit 2 ;;
esac
