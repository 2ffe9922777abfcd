package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// TestWALDamageKeepsWhatIsIntact damages the write-ahead log of a killed
// node the ways a disk does: a byte flipped in the middle of a segment
// (once in a record's body, once in a record's length, which loses the
// framing) and a tail torn off in the middle of the last record. The node
// must start, serve every reading outside the three damaged records with
// its exact value, and say what it dropped, in its log and on /metrics.
//
// One publisher sends its messages one at a time, each waiting for its
// PUBACK, so each commit group, and thus each WAL record, holds exactly one
// message; the test finds the records by their framing
// (docs/storage-format.md) and knows which readings each one carried.
func TestWALDamageKeepsWhatIsIntact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	const messages = 40
	bin := buildQuantrac(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)

	base := time.Now().Add(-30 * time.Minute).UnixMilli()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + n.mqttAddr).
		SetClientID("damage-gw").SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	sent := make([]map[readingKey]float64, messages) // readings of each message
	for msg := range messages {
		var b strings.Builder
		b.WriteString(`{"readings":[`)
		sent[msg] = map[readingKey]float64{}
		for d := range devicesPerGateway {
			ts := base + int64(msg)*1000 + int64(d)*7
			dev := fmt.Sprintf("dev-%d", d)
			if d > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"device":%q,"ts":%d,"fields":{`, dev, ts)
			for f, name := range fields {
				if f > 0 {
					b.WriteByte(',')
				}
				v := value(0, d, f, msg)
				fmt.Fprintf(&b, "%q:%s", name, v)
				fv, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err)
				sent[msg][readingKey{"gw-damage", dev, name, ts}] = fv
			}
			b.WriteString("}}")
		}
		b.WriteString("]}")
		tok := c.Publish("telemetry/hue/gw-damage/json", 1, false, b.String())
		require.True(t, tok.WaitTimeout(10*time.Second), "message %d not acknowledged", msg)
		require.NoError(t, tok.Error())
	}
	c.Disconnect(0)
	n.kill(t)

	// Flip a byte in one record's length and in the middle record's body,
	// and tear the last record.
	seg, recs := walSegmentRecords(t, filepath.Join(dir, "wal"))
	require.Len(t, recs, messages, "one WAL record per acknowledged message")
	buf, err := os.ReadFile(seg)
	require.NoError(t, err)
	badLength, flipped, torn := messages/4, messages/2, messages-1
	buf[recs[badLength][0]-8] += 3 // the frame's length, 8 bytes before the body
	buf[recs[flipped][0]+recs[flipped][1]/2] ^= 0x10
	cut := recs[torn][0] + recs[torn][1]/2
	require.NoError(t, os.WriteFile(seg, buf[:cut], 0o644))
	tornBytes := cut - (recs[torn][0] - 8) // the record's frame is cut too

	n = startNode(t, bin, dir)
	defer n.stop(t)
	at := time.UnixMilli(base).Add(time.Hour)
	got := map[readingKey]float64{}
	for _, name := range fields {
		r := n.query(t, name+`{gateway="gw-damage"}[2h]`, at)
		for _, s := range r.Data.Result {
			for _, pair := range s.Values {
				secs, _ := pair[0].(float64)
				v, err := strconv.ParseFloat(pair[1].(string), 64)
				require.NoError(t, err)
				got[readingKey{s.Metric["gateway"], s.Metric["device"], name, int64(math.Round(secs * 1000))}] = v
			}
		}
	}
	want := map[readingKey]float64{}
	for msg, readings := range sent {
		if msg == badLength || msg == flipped || msg == torn {
			continue
		}
		for k, v := range readings {
			want[k] = v
		}
	}
	require.Equal(t, want, got, "every reading outside the three damaged records, and nothing else")

	logs := n.logs.String()
	for _, msg := range []string{"WAL segment has a damaged record", "WAL segment has a torn tail", "WAL replay dropped damaged data"} {
		require.Contains(t, logs, msg)
	}
	metrics := unlabelledMetrics(t, n)
	require.Equal(t, 2.0, metrics["quantrac_tsdb_wal_replay_dropped_records"])
	require.Equal(t, float64(8+recs[badLength][1]+8+recs[flipped][1]), metrics["quantrac_tsdb_wal_replay_skipped_bytes"])
	require.Equal(t, float64(tornBytes), metrics["quantrac_tsdb_wal_replay_truncated_bytes"])
	require.Equal(t, 0.0, metrics["quantrac_tsdb_wal_replay_orphan_samples"])
	require.Equal(t, float64(len(want)), metrics["quantrac_tsdb_wal_replay_samples"])
}

// walSegmentRecords returns the only WAL segment in dir and, for each record, the
// offset of its body and the body's length.
func walSegmentRecords(t *testing.T, dir string) (string, [][2]int) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	buf, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	require.Equal(t, "QWAL", string(buf[:4]))
	var recs [][2]int
	for off := 8; off+8 <= len(buf); {
		size := int(binary.LittleEndian.Uint32(buf[off:]))
		recs = append(recs, [2]int{off + 8, size})
		off += 8 + size
	}
	return segs[0], recs
}

// unlabelledMetrics reads the node's /metrics and returns the value of every series
// without labels.
func unlabelledMetrics(t *testing.T, n *node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.httpAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	require.NoError(t, sc.Err())
	return out
}
