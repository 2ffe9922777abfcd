package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/tsdb"
	"github.com/stretchr/testify/require"
)

func TestInspectReport(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(tsdb.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ref, err := db.GetOrCreate(labels.FromStrings("__name__", "rainfall_mm", "device", "aws-0001"))
	require.NoError(t, err)
	var b tsdb.Batch
	for i := range int64(50) {
		b.Add(ref, 1_750_000_000_000+i*10_000, float64(i%3)*0.2)
	}
	c, err := db.Append(&b)
	require.NoError(t, err)
	require.NoError(t, c.Wait())
	require.NoError(t, db.Close()) // flushes the head into a part

	rep, err := tsdb.Inspect(dir)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, printReport(&out, rep, true))
	text := out.String()
	require.Contains(t, text, "no server holds it")
	require.Contains(t, text, "20250615")
	require.Regexp(t, `total\s+1\s+1\s+50\s`, text)

	js, err := json.Marshal(rep)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, float64(50), back["samples"])
	require.True(t, strings.Contains(string(js), `"bytes_per_sample"`))
}
