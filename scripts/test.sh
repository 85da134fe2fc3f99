#!/usr/bin/env bash
# `npm test`: installs what a fresh machine lacks (npm deps, Debian packages, the cached
# kube-apiserver and etcd builds), lints and type-checks, runs unit + e2e tests against a real local
# control plane, and ends with one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .devreg

if [ ! -f node_modules/tsx/dist/loader.mjs ]; then
  npm install --no-audit --no-fund --loglevel=error || { echo "0 passed, 1 failed"; exit 1; }
fi
bash deploy/local/build-control-plane.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

lint_failed=0
echo "== lint + typecheck" >&2
npx biome lint . >&2 || lint_failed=1
npx knip --no-progress >&2 || lint_failed=1   # unused files, exports and dependencies (knip.json)
npx tsc -p tsconfig.json --noEmit >&2 || lint_failed=1   # every .ts outside dashboard/ui, node_modules, dist
npx tsc -p dashboard/ui/tsconfig.json --noEmit >&2 || lint_failed=1   # the browser UI (DOM types)

# The dashboard UI is built from npm packages only (no CDN); its e2e tests serve dashboard/dist.
echo "== dashboard build" >&2
npm run --silent build -w @devreg/dashboard >&2 || lint_failed=1

echo "== vitest" >&2
results=.devreg/test-results.json
rm -f "$results"
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
vitest_rc=$?

passed=0; failed=0
if [ -f "$results" ]; then
  passed=$(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests)' "$PWD/$results")
  # Failed tests, plus files that failed without a failing test (e.g. an import error):
  # numFailedTestSuites also counts each describe block around a failed test.
  failed=$(node -e 'const r=require(process.argv[1]);const broken=r.testResults.filter((f)=>f.status==="failed"&&!f.assertionResults.some((a)=>a.status==="failed")).length;console.log(r.numFailedTests+broken)' "$PWD/$results")
fi
[ "$vitest_rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
failed=$((failed + lint_failed))
[ "$lint_failed" -ne 0 ] && echo "lint or typecheck failed (see above)" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
