#!/usr/bin/env bash
# Restores a roo-sync dump made by backup.sh.
#
#   restore.sh [-d DATABASE_URL] [--clean] DUMP_FILE
#
# With -d (or DATABASE_URL) pg_restore runs here against that database, which must exist
# (empty, or give --clean to replace the objects in it); without, it restores into the
# production stack's database. The restore is one transaction: it applies whole or not at all.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

url="${DATABASE_URL:-}"
clean=()
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d) url="${2:?-d needs a DATABASE_URL}"; shift 2 ;;
    --clean) clean=(--clean --if-exists); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) file="$1"; shift ;;
  esac
done
[ -n "$file" ] || die "usage: restore.sh [-d DATABASE_URL] [--clean] DUMP_FILE"
[ -f "$file" ] || die "no such dump: $file"
pg_restore --list "$file" >/dev/null || die "$file is not a readable pg_dump custom-format file"

if [ -n "$url" ]; then
  pg_restore --no-owner --exit-on-error --single-transaction "${clean[@]}" --dbname="$url" "$file"
else
  compose production --env-file "$DOCKER_DIR/production/.env" exec -T postgres \
    pg_restore --no-owner --exit-on-error --single-transaction "${clean[@]}" -U roo_sync -d roo_sync <"$file"
fi
log "restored $file"
