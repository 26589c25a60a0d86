#!/usr/bin/env bash
# Backs up the roo-sync database with pg_dump (custom format) and keeps the newest N dumps.
#
#   backup.sh [-d DATABASE_URL] [-o DIR] [-k KEEP]
#
# With -d (or DATABASE_URL in the environment) pg_dump runs here against that database;
# without, it runs inside the production stack's postgres container.
# The dump is checked with pg_restore --list before older dumps are rotated away.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

url="${DATABASE_URL:-}"
dir="${BACKUP_DIR:-./backups}"
keep="${BACKUP_KEEP:-14}"
while getopts "d:o:k:h" opt; do
  case "$opt" in
    d) url="$OPTARG" ;;
    o) dir="$OPTARG" ;;
    k) keep="$OPTARG" ;;
    h) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "usage: backup.sh [-d DATABASE_URL] [-o DIR] [-k KEEP]" ;;
  esac
done
case "$keep" in ''|*[!0-9]*) die "KEEP must be a positive number, got '$keep'" ;; esac
[ "$keep" -ge 1 ] || die "KEEP must be at least 1"

mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
file="$dir/roo-sync-$stamp.dump"
partial="$file.partial"

if [ -n "$url" ]; then
  pg_dump --format=custom --no-owner --file="$partial" --dbname="$url"
else
  compose production --env-file "$DOCKER_DIR/production/.env" exec -T postgres \
    pg_dump --format=custom --no-owner -U roo_sync roo_sync >"$partial"
fi
pg_restore --list "$partial" >/dev/null || die "the dump in $partial is unreadable; older backups were kept"
mv "$partial" "$file"
log "backup written: $file ($(wc -c <"$file") bytes)"

# Rotation: the newest $keep dumps stay.
mapfile -t old < <(find "$dir" -maxdepth 1 -name 'roo-sync-*.dump' -type f | sort -r | tail -n +"$((keep + 1))")
for f in "${old[@]}"; do
  rm -f -- "$f"
  log "rotated away: $f"
done
printf '%s\n' "$file"
