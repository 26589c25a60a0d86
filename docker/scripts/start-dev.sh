#!/usr/bin/env bash
# Starts the development stack (PostgreSQL, Redis, relay with hot reload) and waits until
# PostgreSQL and Redis are healthy. Ports: relay 127.0.0.1:8787, PostgreSQL 127.0.0.1:5433,
# Redis 127.0.0.1:6380.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

compose development up -d
wait_healthy development postgres
wait_healthy development redis
log "development stack is up: relay on http://127.0.0.1:8787 (logs: docker compose -f docker/development/docker-compose.yml logs -f relay)"
