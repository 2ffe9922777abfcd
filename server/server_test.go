package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func startServer(t *testing.T, dir string) *Server {
	t.Helper()
	srv, err := Start(Options{
		DataDir:        dir,
		MQTTAddr:       "127.0.0.1:0",
		HTTPAddr:       "127.0.0.1:0",
		AllowAnonymous: true,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	return srv
}

func pahoClient(t *testing.T, addr, id string) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second), "connect timed out")
	require.NoError(t, tok.Error())
	return c
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(5*time.Second), "PUBACK timed out")
	require.NoError(t, tok.Error())
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// queryAt runs an instant query through the HTTP API and returns the vector.
func queryAt(t *testing.T, httpAddr, q string, at int64) []sample {
	t.Helper()
	u := fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%s", httpAddr, url.QueryEscape(q),
		strconv.FormatFloat(float64(at)/1000, 'f', 3, 64))
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	require.Equal(t, "success", r.Status)
	require.Equal(t, "vector", r.Data.ResultType)
	return r.Data.Result
}

func batch(device string, ts int64, fields string) string {
	return fmt.Sprintf(`{"readings":[{"device":%q,"ts":%d,"fields":{%s}}]}`, device, ts, fields)
}

func TestPahoPublishQueryBack(t *testing.T) {
	srv := startServer(t, t.TempDir())
	defer srv.Close()
	c := pahoClient(t, srv.MQTTAddr(), "hn-gw-004")
	defer c.Disconnect(100)

	ts := time.Now().Add(-time.Minute).UnixMilli()
	publish(t, c, "telemetry/ha-noi/hn-gw-004/json",
		batch("aws-0193", ts, `"air_temperature_celsius":27.4,"relative_humidity_percent":81.5`))

	got := queryAt(t, srv.HTTPAddr(), `air_temperature_celsius{province="ha-noi"}`, ts)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{
		"__name__": "air_temperature_celsius", "province": "ha-noi",
		"gateway": "hn-gw-004", "device": "aws-0193",
	}, got[0].Metric)
	require.Equal(t, "27.4", got[0].Value[1])
	require.InDelta(t, float64(ts)/1000, got[0].Value[0], 1e-9)

	got = queryAt(t, srv.HTTPAddr(), `relative_humidity_percent`, ts)
	require.Len(t, got, 1)
	require.Equal(t, "81.5", got[0].Value[1])
}

func TestMosquittoPubQueryBack(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_pub")
	require.NoError(t, err, "mosquitto_pub is needed: apt-get install -y mosquitto-clients")
	srv := startServer(t, t.TempDir())
	defer srv.Close()
	host, port := splitAddr(t, srv.MQTTAddr())

	ts := time.Now().Add(-time.Minute).UnixMilli()
	for _, v := range []string{"mqttv311", "mqttv5"} {
		ts++
		out, err := exec.Command(bin, "-h", host, "-p", port, "-V", v, "-q", "1", "-i", "hue-gw-001",
			"-t", "telemetry/hue/hu-gw-001/json",
			"-m", batch("aq-0001", ts, `"pm2_5_micrograms_per_cubic_meter":`+strconv.Itoa(int(ts%1000)))).CombinedOutput()
		require.NoError(t, err, "%s: %s", v, out)
		got := queryAt(t, srv.HTTPAddr(), `pm2_5_micrograms_per_cubic_meter{gateway="hu-gw-001"}`, ts)
		require.Len(t, got, 1, v)
		require.Equal(t, strconv.Itoa(int(ts%1000)), got[0].Value[1], v)
	}
}

func TestRestartFindsAcknowledgedData(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	c := pahoClient(t, srv.MQTTAddr(), "ct-gw-001")
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 50 {
		publish(t, c, "telemetry/can-tho/ct-gw-001/json",
			batch("soil-0001", base+int64(i)*1000, fmt.Sprintf(`"soil_moisture_percent":%d.5`, i)))
	}
	c.Disconnect(100)
	require.NoError(t, srv.Close())

	srv = startServer(t, dir)
	defer srv.Close()
	for _, i := range []int{0, 17, 49} {
		got := queryAt(t, srv.HTTPAddr(), `soil_moisture_percent`, base+int64(i)*1000)
		require.Len(t, got, 1)
		require.Equal(t, fmt.Sprintf("%d.5", i), got[0].Value[1])
	}
	got := queryAt(t, srv.HTTPAddr(), `count_over_time(soil_moisture_percent[1h])`, base+49*1000)
	require.Len(t, got, 1)
	require.Equal(t, "50", got[0].Value[1])
}

func TestMalformedPayloadKeepsGoodReadings(t *testing.T) {
	srv := startServer(t, t.TempDir())
	defer srv.Close()
	c := pahoClient(t, srv.MQTTAddr(), "dn-gw-001")
	defer c.Disconnect(100)
	errs := make(chan string, 4)
	tok := c.Subscribe("telemetry/da-nang/dn-gw-001/errors", 0, func(_ paho.Client, m paho.Message) {
		errs <- string(m.Payload())
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())

	ts := time.Now().Add(-time.Minute).UnixMilli()
	// One good reading, one field that is not a number: the good one stays.
	publish(t, c, "telemetry/da-nang/dn-gw-001/json",
		fmt.Sprintf(`{"readings":[{"device":"a","ts":%d,"fields":{"voltage_volts":230.1}},{"device":"b","ts":%d,"fields":{"voltage_volts":"high"}}]}`, ts, ts))
	got := queryAt(t, srv.HTTPAddr(), `voltage_volts`, ts)
	require.Len(t, got, 1)
	require.Equal(t, "a", got[0].Metric["device"])
	select {
	case e := <-errs:
		require.Contains(t, e, `"rejected":1`)
	case <-time.After(5 * time.Second):
		t.Fatal("no report on the error topic")
	}
}

func TestCleanShutdownLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := startServer(t, t.TempDir())
	c := pahoClient(t, srv.MQTTAddr(), "hp-gw-001")
	publish(t, c, "telemetry/hai-phong/hp-gw-001/json", batch("d", time.Now().UnixMilli(), `"x":1`))
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.Disconnect(100)
	http.DefaultClient.CloseIdleConnections()
	require.NoError(t, srv.Close())
	// A second Close, as a deferred one after an explicit one would make,
	// returns at once with the same answer.
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a second Close blocked")
	}
}

// The store's waits for a full head are on /metrics, so an operator sees
// when flushing, not the network, holds the publishers back.
func TestMetricsShowWaitsForAFullHead(t *testing.T) {
	srv := startServer(t, t.TempDir())
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), "\nquantrac_tsdb_head_full_waits_total 0\n")
	require.Contains(t, string(body), "\nquantrac_tsdb_head_full_wait_seconds_total 0\n")
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	u, err := url.Parse("tcp://" + addr)
	require.NoError(t, err)
	return u.Hostname(), u.Port()
}

func urlEscape(s string) string { return url.QueryEscape(s) }
