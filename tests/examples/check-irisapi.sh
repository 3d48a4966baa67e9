#!/usr/bin/env bash
# End-to-end check of examples/IrisApi: starts the example (no API key, so it runs the MPM emulator in-process)
# on a free loopback port, sends 100 predictions and 50 labels over HTTP with curl, and fails unless the
# emulator's inspection API shows exactly 100 predictions and 50 labels for the model. Kills what it started.
# Usage: tests/examples/check-irisapi.sh        (CONFIGURATION=Release to use a Release build)
set -euo pipefail
cd "$(dirname "$0")/../.."

predictions=100
labels=50
configuration="${CONFIGURATION:-Debug}"
work="$(mktemp -d)"
app_pid=""
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-irisapi: FAIL: $*" >&2; [ -f "$work/app.log" ] && tail -n 40 "$work/app.log" >&2; exit 1; }
command -v curl >/dev/null || fail "curl is not installed"

dll="examples/IrisApi/bin/$configuration/net10.0/IrisApi.dll"
if [ ! -f "$dll" ] || [ "${CHECK_BUILD:-}" = "1" ]; then
  dotnet build examples/IrisApi -c "$configuration" --nologo -v quiet >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; fail "examples/IrisApi does not build"; }
fi

# No API key: the example starts the emulator in-process. Port 0: Kestrel picks a free port; the app prints both URLs.
env -u COMET_API_KEY -u CometMpm__ApiKey dotnet "$dll" --urls http://127.0.0.1:0 >"$work/app.log" 2>&1 &
app_pid=$!
api=""
emulator=""
for _ in $(seq 1 300); do
  api="$(sed -n 's/^Iris API listening on \(http[^ ]*\).*/\1/p' "$work/app.log" | head -n 1)"
  emulator="$(sed -n 's/^MPM emulator: \(http[^ ]*\).*/\1/p' "$work/app.log" | head -n 1)"
  [ -n "$api" ] && [ -n "$emulator" ] && break
  kill -0 "$app_pid" 2>/dev/null || fail "the example exited"
  sleep 0.2
done
[ -n "$api" ] && [ -n "$emulator" ] || fail "the example did not print its URL and the emulator's"
emulator="${emulator%/}"
echo "check-irisapi: API at $api, emulator at $emulator (pid $app_pid)"

# 100 predictions: the rows of the shipped dataset in turn, each with its own X-Prediction-Id.
mapfile -t rows < <(tail -n +2 examples/IrisApi/data/iris.csv)
for i in $(seq 1 "$predictions"); do
  IFS=, read -r sl sw pl pw species <<<"${rows[$(( (i * 37) % ${#rows[@]} ))]}"
  status=$(curl -s -o "$work/predict.json" -w '%{http_code}' -X POST "$api/predict" \
    -H 'Content-Type: application/json' -H "X-Prediction-Id: iris-check-$i" \
    -d "{\"sepal_length\":$sl,\"sepal_width\":$sw,\"petal_length\":$pl,\"petal_width\":$pw}" || true)
  [ "$status" = "200" ] || fail "prediction $i answered $status: $(cat "$work/predict.json")"
  grep -q '"species":"' "$work/predict.json" || fail "prediction $i has no species: $(cat "$work/predict.json")"
  echo "$species" >"$work/truth-$i"
done

# 50 labels (the true species) for the first 50 predictions, through the labels endpoint.
for i in $(seq 1 "$labels"); do
  status=$(curl -s -o "$work/label.txt" -w '%{http_code}' -X POST "$api/predictions/iris-check-$i/labels" \
    -H 'Content-Type: application/json' -d "{\"species\":\"$(cat "$work/truth-$i")\"}" || true)
  [ "$status" = "202" ] || fail "label $i answered $status: $(cat "$work/label.txt")"
done

# The client batches in the background (MaxBatchTime 2 s in appsettings.json): poll the emulator.
got_predictions=""
got_labels=""
for _ in $(seq 1 120); do
  curl -s "$emulator/api/emulator/models" >"$work/models.json" || true
  got_predictions="$(grep -o '"model":"iris-classifier"[^}]*' "$work/models.json" | sed -n 's/.*"predictions":\([0-9]*\).*/\1/p' | head -n 1 || true)"
  got_labels="$(grep -o '"model":"iris-classifier"[^}]*' "$work/models.json" | sed -n 's/.*"labels":\([0-9]*\).*/\1/p' | head -n 1 || true)"
  [ "${got_predictions:-0}" -ge "$predictions" ] && [ "${got_labels:-0}" -ge "$labels" ] && break
  sleep 0.5
done
[ "${got_predictions:-0}" = "$predictions" ] || fail "the emulator has ${got_predictions:-0} predictions, expected $predictions: $(cat "$work/models.json")"
[ "${got_labels:-0}" = "$labels" ] || fail "the emulator has ${got_labels:-0} labels, expected $labels: $(cat "$work/models.json")"

# The stored events themselves: 100 distinct ids with features and outputs, 50 of them labelled with the truth.
curl -s "$emulator/api/emulator/events?model=iris-classifier&limit=1000" >"$work/events.json" || fail "the emulator does not answer GET /api/emulator/events"
ids=$(grep -o '"predictionId":"iris-check-[0-9]*"' "$work/events.json" | sort -u | wc -l || true)
[ "$ids" -eq "$predictions" ] || fail "the events page has $ids distinct prediction ids, expected $predictions"
with_features=$(grep -o '"features":{"sepal_length":[^}]*"petal_width":[^}]*}' "$work/events.json" | wc -l || true)
[ "$with_features" -eq "$predictions" ] || fail "$with_features events carry the four features, expected $predictions"
with_outputs=$(grep -o '"prediction":{"species":"[a-z]*","probability":[0-9.]*}' "$work/events.json" | wc -l || true)
[ "$with_outputs" -eq "$predictions" ] || fail "$with_outputs events carry species and probability, expected $predictions"
labelled=$(grep -o '"labels":{"species":"[a-z]*"}' "$work/events.json" | wc -l || true)
[ "$labelled" -eq "$labels" ] || fail "$labelled events carry a species label, expected $labels"
grep -q "\"predictionId\":\"iris-check-1\"[^}]*}[^}]*}[^}]*\"labels\":{\"species\":\"$(cat "$work/truth-1")\"}" "$work/events.json" \
  || fail "prediction iris-check-1 does not carry its label $(cat "$work/truth-1")"

echo "check-irisapi: OK ($got_predictions predictions and $got_labels labels in the emulator)"
