#!/usr/bin/env bash
# Production deploy: build the relay image, start the stack, wait until every service is
# healthy, then run the migrations (the relay also migrates at start under an advisory lock;
# running them here makes a failed migration fail the deploy).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

[ -f "$DOCKER_DIR/production/.env" ] || die "docker/production/.env is missing: copy .env.example and fill it in"
cd "$DOCKER_DIR/production"
compose production --env-file .env build relay
compose production --env-file .env up -d postgres redis
wait_healthy production postgres
wait_healthy production redis
compose production --env-file .env run --rm relay db migrate
compose production --env-file .env up -d
wait_healthy production relay
wait_healthy production caddy 60 || true
log "deployed: $(compose production --env-file .env ps --format '{{.Service}} {{.Status}}' | tr '\n' ';')"
