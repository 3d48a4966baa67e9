#!/usr/bin/env bash
# Page check for the emulator: builds and starts it on a free loopback port, posts a few events with
# curl, renders the page in headless Chromium (a screenshot plus the DOM), and fails unless the DOM
# shows the posted model and feature. Kills the emulator it started. Needs Debian's `chromium`.
# Usage: tests/emulator-page/check-page.sh [screenshot.png]
set -euo pipefail
cd "$(dirname "$0")/../.."

screenshot="${1:-artifacts/emulator-page/emulator-page.png}"
work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-page: FAIL: $*" >&2; exit 1; }

browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || fail "chromium is not installed (apt-get install -y chromium)"
command -v curl >/dev/null || fail "curl is not installed"

configuration="${CONFIGURATION:-Debug}"
dotnet build src/CometMpm.Emulator.Tool -c "$configuration" --nologo -v quiet >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; fail "the emulator does not build"; }
dll="src/CometMpm.Emulator.Tool/bin/$configuration/net10.0/CometMpm.Emulator.Tool.dll"

# Port 0: Kestrel picks a free loopback port and the emulator prints it.
dotnet "$dll" --urls http://127.0.0.1:0 >"$work/emulator.log" 2>&1 &
emulator_pid=$!
root=""
for _ in $(seq 1 150); do
  root="$(sed -n 's/.*COMET_URL_OVERRIDE=\(http[^ ]*\).*/\1/p' "$work/emulator.log" | head -n 1)"
  [ -n "$root" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.log"; fail "the emulator exited"; }
  sleep 0.2
done
[ -n "$root" ] || { cat "$work/emulator.log"; fail "the emulator did not print its address"; }
echo "check-page: emulator at $root (pid $emulator_pid)"

model="page-check-model"
feature="page_check_feature"
events=""
for i in $(seq 1 40); do
  color=$([ $((i % 3)) -eq 0 ] && echo red || ([ $((i % 3)) -eq 1 ] && echo green || echo blue))
  amount=$(( (i * 37) % 100 ))
  missing=$([ $((i % 10)) -eq 0 ] && echo null || echo "\"$color\"")
  events+="{\"modelName\":\"$model\",\"modelVersion\":\"1.0\",\"workspaceName\":\"page-ws\",\"predictionId\":\"p-$i\",\"timestamp\":$((1717243200000 + i * 60000)),\"features\":{\"$feature\":$amount.5,\"color\":$missing,\"age\":$((20 + i % 50))},\"prediction\":{\"value\":\"$([ $((i % 4)) -eq 0 ] && echo fraud || echo legit)\",\"probability\":0.$((50 + i))}},"
done
status=$(curl -s -o "$work/post.json" -w '%{http_code}' -H 'Authorization: page-check-key' -H 'Content-Type: application/json' \
  --data "{\"data\":[${events%,}]}" "$root/mpm/v2/events/batch")
[ "$status" = "200" ] || { cat "$work/post.json"; fail "posting events answered $status"; }
status=$(curl -s -o "$work/labels.json" -w '%{http_code}' -H 'Authorization: page-check-key' -H 'Content-Type: application/json' \
  --data '{"data":[{"modelName":"page-check-model","modelVersion":"1.0","workspaceName":"page-ws","predictionId":"p-1","timestamp":1717329600000,"labels":{"chargeback":true}}]}' \
  "$root/mpm/v2/labels/batch")
[ "$status" = "200" ] || { cat "$work/labels.json"; fail "posting labels answered $status"; }

chrome_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars)
timeout 90 "$browser" "${chrome_flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --dump-dom "$root/" \
  >"$work/dom.html" 2>"$work/chromium-dom.log" || { tail -n 20 "$work/chromium-dom.log"; fail "chromium --dump-dom failed"; }
grep -q "$model" "$work/dom.html" || fail "the rendered page does not show the model $model"
grep -q "data-feature=\"$feature\"" "$work/dom.html" || fail "the rendered page does not show the feature $feature"
grep -q "<svg" "$work/dom.html" || fail "the rendered page has no histogram"

mkdir -p "$(dirname "$screenshot")"
rm -f "$screenshot"
timeout 90 "$browser" "${chrome_flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --screenshot="$screenshot" \
  --window-size=1280,900 "$root/" >"$work/chromium-shot.log" 2>&1 || { tail -n 20 "$work/chromium-shot.log"; fail "chromium --screenshot failed"; }
[ -s "$screenshot" ] || fail "no screenshot was written"
echo "check-page: OK (model and feature rendered; screenshot $screenshot)"
