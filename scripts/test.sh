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
failed=() # what failed, repeated at the very end: CI shows only the tail of the output
fail() { failed+=("$1"); status=1; }
echo "== lint"; pnpm lint || fail lint
echo "== typecheck"; pnpm typecheck || fail typecheck
echo "== schema"; pnpm schema:check || fail schema
echo "== build"; pnpm build || fail build
# Images and the Helm chart: lint, render, schemas, unit tests, coverage, a real API server.
echo "== chart"; bash scripts/chart-check.sh || fail chart

echo "== tests"
mkdir -p .tmp
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || fail vitest
node -e '
  const r = require("./.tmp/vitest.json");
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  if (r.numTotalTests === 0 || r.numPendingTests + r.numTodoTests > 0) { console.error("no test may be empty or skipped"); process.exit(1); }
' || fail "vitest: empty or skipped tests"

echo "== benchmarks (small)"
for dir in bench/*/; do
  name=$(basename "$dir")
  [ -f "$dir/index.ts" ] || continue
  BENCH_SIZE=small bash scripts/bench.sh "$name" || { echo "benchmark $name failed"; fail "bench $name"; }
done
# DKIM signing beside none, and signed mail through Postfix beside Postfix alone.
for run in "send --dkim" "send --via-postfix --dkim"; do
  # shellcheck disable=SC2086
  BENCH_SIZE=small bash scripts/bench.sh $run || { echo "benchmark $run failed"; fail "bench $run"; }
done

# The runs that kill workers and restart services under them, on private instances of Postgres,
# Redis and Kafka (the fault run restarts them), so nothing else is disturbed.
echo "== fault runs (small)"
faults_env=(MAUNTIC_SERVICES_DIR="$PWD/.services/faults" MAUNTIC_PG_PORT=5442 MAUNTIC_REDIS_PORT=6389 MAUNTIC_KAFKA_PORT=9102 MAUNTIC_DNS_PORT=5310)
for run in "send --kill" "send --faults" "journeys --kill" "journeys --faults" "campaign --kill" "campaign --faults" "webhooks --kill" "webhooks --faults"; do
  # shellcheck disable=SC2086
  env "${faults_env[@]}" BENCH_SIZE=small bash scripts/bench.sh $run || { echo "benchmark $run failed"; fail "bench $run"; }
done
for service in dns kafka redis postgres; do env "${faults_env[@]}" bash scripts/services.sh down "$service" >/dev/null || true; done

echo "== summary"
if [ -f .tmp/vitest.json ]; then
  node -e '
    const r = require("./.tmp/vitest.json");
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numTotalTests} in all`);
    for (const file of r.testResults) {
      if (file.status !== "failed") continue;
      const tests = file.assertionResults.filter((t) => t.status === "failed");
      console.log(`FAILED ${file.name.replace(process.cwd() + "/", "")}`);
      if (tests.length === 0) console.log(`  ${String(file.message).split("\n")[0].slice(0, 400)}`);
      for (const t of tests) console.log(`  - ${t.fullName}: ${String(t.failureMessages[0] ?? "").split("\n")[0].slice(0, 400)}`);
    }
  ' || true
fi
if [ "${#failed[@]}" -eq 0 ]; then echo "all passed"; else printf 'FAILED: %s\n' "${failed[@]}"; fi
exit $status
