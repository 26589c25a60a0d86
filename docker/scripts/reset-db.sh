#!/usr/bin/env bash
# Drops and re-creates the development database, then runs the migrations.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

wait_healthy development postgres
compose development exec -T postgres psql -v ON_ERROR_STOP=1 -U roo_sync -d postgres \
  -c 'DROP DATABASE IF EXISTS roo_sync WITH (FORCE)' -c 'CREATE DATABASE roo_sync OWNER roo_sync'
compose development exec -T relay npx tsx cli/main.ts db migrate
log "database reset and migrated"
