#!/usr/bin/env bash
# Stops the development stack. Data volumes are kept unless --volumes is given.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "${1:-}" = "--volumes" ]; then
  compose development down --volumes
  log "development stack stopped, volumes removed"
else
  compose development down
  log "development stack stopped (data kept; --volumes removes it)"
fi
