#!/usr/bin/env bash
# Runs every test on a fresh machine: installs pnpm and the workspace if missing, installs and
# starts PostgreSQL, Redis, Kafka and Postfix (scripts/services.sh), then lint, types, the schema check,
# the build of every package, every vitest suite, each benchmark at a small size, and the kill and
# fault runs at a small size on private service instances. No suite skips for a missing service:
# one that cannot reach its service fails.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pnpm >/dev/null || npm install -g -E pnpm@12.4.2 >/dev/null
if [ "${CI:-}" = "true" ]; then pnpm install --frozen-lockfile; else pnpm install; fi

bash scripts/services.sh up
while IFS= read -r line; do export "$line"; done < <(bash scripts/services.sh env)
export KAFKAJS_NO_PARTITIONER_WARNING=1

status=0
echo "== lint"; pnpm lint || status=1
echo "== typecheck"; pnpm typecheck || status=1
echo "== schema"; pnpm schema:check || status=1
echo "== build"; pnpm build || status=1
# Images and the Helm chart: lint, render, schemas, unit tests, coverage, a real API server.
echo "== chart"; bash scripts/chart-check.sh || status=1

echo "== tests"
mkdir -p .tmp
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || status=$?
node -e '
  const r = require("./.tmp/vitest.json");
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  if (r.numTotalTests === 0 || r.numPendingTests + r.numTodoTests > 0) { console.error("no test may be empty or skipped"); process.exit(1); }
' || status=1

echo "== benchmarks (small)"
for dir in bench/*/; do
  name=$(basename "$dir")
  [ -f "$dir/index.ts" ] || continue
  BENCH_SIZE=small bash scripts/bench.sh "$name" || { echo "benchmark $name failed"; status=1; }
done
# DKIM signing beside none, and signed mail through Postfix beside Postfix alone.
for run in "send --dkim" "send --via-postfix --dkim"; do
  # shellcheck disable=SC2086
  BENCH_SIZE=small bash scripts/bench.sh $run || { echo "benchmark $run failed"; status=1; }
done

# The runs that kill workers and restart services under them, on private instances of Postgres,
# Redis and Kafka (the fault run restarts them), so nothing else is disturbed.
echo "== fault runs (small)"
faults_env=(MAUNTIC_SERVICES_DIR="$PWD/.services/faults" MAUNTIC_PG_PORT=5442 MAUNTIC_REDIS_PORT=6389 MAUNTIC_KAFKA_PORT=9102 MAUNTIC_DNS_PORT=5310)
for run in "send --kill" "send --faults" "journeys --kill" "journeys --faults" "campaign --kill"; do
  # shellcheck disable=SC2086
  env "${faults_env[@]}" BENCH_SIZE=small bash scripts/bench.sh $run || { echo "benchmark $run failed"; status=1; }
done
for service in dns kafka redis postgres; do env "${faults_env[@]}" bash scripts/services.sh down "$service" >/dev/null || true; done
exit $status
