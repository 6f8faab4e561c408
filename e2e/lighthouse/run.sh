#!/usr/bin/env bash
# Lighthouse (mobile) on the patient portal of a fresh demo: the home page
# and the demo patient's abnormal result, signed in as the demo patient.
# Prints the performance and accessibility scores and the bytes
# transferred. Needs Go, npm and Debian's Chromium (/usr/bin/chromium or
# CHROME_PATH). Usage: e2e/lighthouse/run.sh [runs per page, default 3]
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-3}"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
[ -d node_modules/lighthouse ] || npm ci --silent --no-audit --no-fund
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd ../.. && go build -o "$work/careloop" ./cmd/careloop)
addr=127.0.0.1:18481
base="http://$addr"
"$work/careloop" demo --addr "$addr" --patients 20 --data-dir "$work/data" >"$work/demo.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fs -c "$work/jar" -H 'Content-Type: application/json' \
  -d '{"org":"riverside-family-clinic","email":"patient@example.com","password":"careloop-demo"}' "$base/auth/signin" >/dev/null
session="$(awk '$6 == "careloop_session" {print $7}' "$work/jar")"
printf '{"Cookie":"careloop_session=%s"}' "$session" >"$work/headers.json"
# Wait for the showcase's results to be shared, then take the abnormal one.
for _ in $(seq 1 60); do
  result="$(curl -fs -b "$work/jar" -H 'Accept: text/html' "$base/home" | grep -o 'href="/results/[0-9a-f-]*"' | head -1 | cut -d'"' -f2 || true)"
  [ -n "$result" ] && break
  sleep 1
done
# Wait until the demo's background work (journeys, messages) is done: the
# server's CPU time grows by less than 0.1 s in 2 s.
cpu() { curl -fs "$base/metrics" | awk '/^process_cpu_seconds_total/ {print $2}'; }
last="$(cpu)"
for _ in $(seq 1 90); do
  sleep 2
  now="$(cpu)"
  awk -v a="$last" -v b="$now" 'BEGIN {exit !(b - a < 0.1)}' && break
  last="$now"
done
for page in /home "$result"; do
  for i in $(seq 1 "$runs"); do
    ./node_modules/.bin/lighthouse "$base$page" --quiet --form-factor=mobile --only-categories=performance,accessibility \
      --extra-headers="$work/headers.json" --chrome-flags="--headless=new --no-sandbox" \
      --output=json --output-path="$work/lh.json"
    node -e '
      const r = require(process.argv[1]);
      const a = r.audits;
      console.log(`${process.argv[2]} run ${process.argv[3]}: performance ${Math.round(r.categories.performance.score*100)}, ` +
        `accessibility ${Math.round(r.categories.accessibility.score*100)}, ` +
        `transferred ${(a["total-byte-weight"].numericValue/1024).toFixed(1)} KiB, ` +
        `FCP ${a["first-contentful-paint"].displayValue}, LCP ${a["largest-contentful-paint"].displayValue}, ` +
        `TTFB ${a["server-response-time"].displayValue || a["server-response-time"].numericValue + " ms"}`);
    ' "$work/lh.json" "$page" "$i"
  done
done
