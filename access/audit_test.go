package access

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuditLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenAuditFile(path)
	require.NoError(t, err)
	log := NewAuditLog(f)
	log.now = func() time.Time { return time.Date(2026, 12, 3, 16, 30, 0, 123_456_789, time.FixedZone("ICT", 7*3600)) }

	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, log.Log(AuditRecord{
		Token: "moet-hanoi", Remote: "127.0.0.1:5555", Endpoint: "/api/v1/query_range",
		Query: `avg(air_temperature_celsius{province="ha-noi"})`, Start: start, End: start.Add(24 * time.Hour),
		Step: 60, Series: 12, Samples: 17280, Duration: 0.0421, Status: AuditOK,
	}))
	require.NoError(t, log.Log(AuditRecord{Endpoint: "/api/v1/export", Status: AuditDenied, Error: ErrUnauthenticated.Error()}))
	require.NoError(t, f.Close())

	// Reopening appends.
	f, err = OpenAuditFile(path)
	require.NoError(t, err)
	require.NoError(t, NewAuditLog(f).Log(AuditRecord{Token: "research", Endpoint: "/api/v1/export", Format: "parquet",
		Series: 3, Samples: 1000, Bytes: 2400, Status: AuditOK}))
	require.NoError(t, f.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := splitLines(data)
	require.Len(t, lines, 3)
	require.Equal(t, `{"time":"2026-12-03T09:30:00.123Z","token":"moet-hanoi","remote":"127.0.0.1:5555",`+
		`"endpoint":"/api/v1/query_range","query":"avg(air_temperature_celsius{province=\"ha-noi\"})",`+
		`"start":"2026-12-01T00:00:00Z","end":"2026-12-02T00:00:00Z","step_s":60,"series":12,"samples":17280,`+
		`"duration_s":0.0421,"status":"ok"}`, lines[0])
	require.Equal(t, `{"time":"2026-12-03T09:30:00.123Z","token":"","endpoint":"/api/v1/export","series":0,"samples":0,`+
		`"duration_s":0,"status":"denied","error":"unauthenticated: missing or unknown token"}`, lines[1])
	var rec AuditRecord
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &rec))
	require.Equal(t, "research", rec.Token)
	require.Equal(t, int64(2400), rec.Bytes)
	require.WithinDuration(t, time.Now(), rec.Time, time.Minute)
}

// TestAuditLogConcurrent writes from many goroutines at once through a
// writer that splits every write, which would interleave lines if the log
// did not hold its lock across the whole line.
func TestAuditLogConcurrent(t *testing.T) {
	var w slowWriter
	log := NewAuditLog(&w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				err := log.Log(AuditRecord{Token: "t" + strconv.Itoa(g), Endpoint: "/api/v1/query", Samples: int64(i), Status: AuditOK})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	lines := splitLines(w.buf)
	require.Len(t, lines, 400)
	for _, l := range lines {
		var rec AuditRecord
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
	}
}

// slowWriter appends what it gets one byte at a time, yielding in between.
type slowWriter struct {
	mu  sync.Mutex // only to keep the race detector quiet about buf
	buf []byte
}

func (w *slowWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		w.mu.Lock()
		w.buf = append(w.buf, b)
		w.mu.Unlock()
	}
	return len(p), nil
}

func splitLines(data []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
