#!/usr/bin/env bash
# The build with observability compiled out (preset noobserve): serve answers byte-exact, every
# counter stays 0, and the features that need observability refuse with a clear error.
# Usage: scripts/smoke-noobserve.sh [path/to/zcnet]   (default: build/noobserve/zcnet)
set -euo pipefail
cd "$(dirname "$0")/.."
zcnet=${1:-build/noobserve/zcnet}
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "smoke-noobserve: $*" >&2
  cat "$tmp/err" >&2 2>/dev/null || true
  exit 1
}
head -c 1048576 /dev/urandom >"$tmp/f.bin"

if timeout 5 "$zcnet" serve --root "$tmp" --listen 127.0.0.1:0 --trace-file "$tmp/t.jsonl" 2>"$tmp/refused"; then
  fail "--trace-file was accepted by a build without observability"
fi
grep -q "ZCNET_OBSERVE=OFF" "$tmp/refused" || fail "--trace-file refused without naming the build: $(cat "$tmp/refused")"

"$zcnet" serve --root "$tmp" --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --admin 0 2>"$tmp/err" &
pid=$!
port_of() { sed -n "s/.*$1 on port \([0-9]*\).*/\1/p" "$tmp/err" | head -1; }
for _ in $(seq 100); do
  [ -n "$(port_of listening)" ] && break
  sleep 0.05
done
port=$(port_of listening)
[ -n "$port" ] || fail "serve did not start"
for _ in 1 2 3; do
  curl -sf "http://127.0.0.1:$port/f.bin" -o "$tmp/got" || fail "GET /f.bin failed"
  [ "$(sha256sum <"$tmp/got")" = "$(sha256sum <"$tmp/f.bin")" ] || fail "body differs"
done
metrics=$(curl -sf "http://127.0.0.1:$(port_of metrics)/metrics") || fail "no /metrics"
echo "$metrics" | grep -q '^zcnet_http_response_bytes_total{strategy="headers-only"} 0$' ||
  fail "the byte counter is not 0"
if echo "$metrics" | grep -q '^zcnet_http_requests_total{'; then
  fail "requests were counted: $(echo "$metrics" | grep '^zcnet_http_requests_total')"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data on "http://127.0.0.1:$(port_of admin)/syscall-timing")
[ "$code" = 409 ] || fail "PUT /syscall-timing answered $code, not 409"
echo "smoke-noobserve: ok (3 byte-exact responses, counters at 0, tracing and syscall timing refused)"
