#!/usr/bin/env bash
# `pnpm bench <name> [args]`: runs bench/<name>/index.ts against the real services (started if
# missing); it prints one JSON line per figure. BENCH_SIZE=small runs a quick version (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: pnpm bench <name> [args]}
shift
[ -f "bench/$name/index.ts" ] || { echo "no benchmark bench/$name" >&2; exit 2; }
bash scripts/services.sh up >&2
while IFS= read -r line; do export "$line"; done < <(bash scripts/services.sh env)
export KAFKAJS_NO_PARTITIONER_WARNING=1 LOG_LEVEL=${LOG_LEVEL:-silent}
exec node --conditions=source --import tsx "bench/$name/index.ts" "$@"
