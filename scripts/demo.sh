#!/usr/bin/env bash
# make demo: a Quantrac node plus simulated gateways of all 34 provinces
# feeding it over MQTT on loopback, a live readings/s line, then example
# queries. Everything listens on 127.0.0.1 only and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

MQTT=127.0.0.1:${DEMO_MQTT_PORT:-18883}
HTTP=127.0.0.1:${DEMO_HTTP_PORT:-19490}
DATA=${DEMO_DATA:-./data-demo}
MINUTES=${DEMO_MINUTES:-20}   # simulated minutes, played at 60x: about 20 s

rm -rf "$DATA" && mkdir -p "$DATA"
bin/quantrac serve --data "$DATA/store" --mqtt-addr "$MQTT" --http-addr "$HTTP" \
  --insecure-allow-anonymous 2>"$DATA/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://$HTTP/healthz" >/dev/null && break
  sleep 0.1
done
echo "quantrac is up: MQTT $MQTT, HTTP http://$HTTP (log: $DATA/server.log)"
echo "simulating 34 provinces x 3 gateways x 10 devices, ${MINUTES} minutes of readings at 60x speed..."

# Simulated time starts in the past and catches up with the clock, so every
# timestamp is one the platform accepts (it refuses readings from more than
# ten minutes in the future).
start=$(date -u -d "-${MINUTES} min" +%Y-%m-%dT%H:%M:%SZ)
bin/gwsim --broker "tcp://$MQTT" --gateways 3 --devices 10 --interval 10s \
  --speed 60 --start "$start" --duration "${MINUTES}m" --seed 7 \
  --queue-dir "$DATA/gwsim-queue" --ledger "$DATA/ledger" --log-level error

echo
echo "Example queries (run them yourself while the node is up, or after 'make run'):"
run() {
  echo
  echo "\$ $*"
  "$@"
  echo
}
run curl -s "http://$HTTP/api/v1/query?query=count%20by%20(province)(air_temperature_celsius)"
run curl -s "http://$HTTP/api/v1/query" --data-urlencode 'query=avg by (province) (air_temperature_celsius{province=~"ha-noi|hue|ho-chi-minh"})'
run curl -s "http://$HTTP/api/v1/query" --data-urlencode 'query=count by (__name__) ({province="ha-noi"})'
run sh -c "curl -s http://$HTTP/metrics | grep -E '^quantrac_(tsdb_series|tsdb_samples_appended_total|mqtt_messages_received_total) '"
run bin/quantrac query --server "http://$HTTP" 'topk(5, max by (province) (pm2_5_micrograms_per_cubic_meter))'
run bin/quantrac export --server "http://$HTTP" --match 'air_temperature_celsius{province="ha-noi"}' \
  --start "${MINUTES}m" -o "$DATA/ha-noi-temperature.parquet"
echo "the node stops now; its data stays in $DATA"
