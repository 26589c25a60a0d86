#!/usr/bin/env bash
# Shared helpers for the roo-sync Docker scripts. Sourced, not run.

DOCKER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOCKER_DIR

log() { printf '[roo-sync] %s\n' "$*" >&2; }
die() { printf '[roo-sync] error: %s\n' "$*" >&2; exit 1; }

# compose ENV ARGS...: docker compose for the development or production stack.
compose() {
  local env="$1"
  shift
  docker compose -f "$DOCKER_DIR/$env/docker-compose.yml" "$@"
}

# wait_healthy ENV SERVICE [SECONDS]: waits until a service's healthcheck passes.
wait_healthy() {
  local env="$1" service="$2" limit="${3:-120}" id status
  id="$(compose "$env" ps -q "$service")"
  [ -n "$id" ] || die "service $service is not running"
  for _ in $(seq 1 "$limit"); do
    status="$(docker inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || echo unknown)"
    [ "$status" = healthy ] && return 0
    sleep 1
  done
  die "service $service did not become healthy within ${limit}s (last status: $status)"
}
