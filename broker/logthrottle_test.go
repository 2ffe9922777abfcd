package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestThrottledLoggerBoundsWarnings(t *testing.T) {
	var buf bytes.Buffer
	log := newThrottledLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), 3)
	child := log.With("component", "broker")
	for range 10 {
		log.Warn("refused")
		child.Error("refused too")
	}
	log.Info("lifecycle") // below warning: never dropped
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Three warnings or errors in this second, shared by the derived
	// logger, plus the info line. (A second boundary may fall inside the
	// loop; then up to three more get through.)
	require.GreaterOrEqual(t, len(lines), 4)
	require.LessOrEqual(t, len(lines), 7)
	require.Contains(t, lines[len(lines)-1], "lifecycle")
}

func TestThrottleReportsSuppressed(t *testing.T) {
	th := &logThrottle{per: 1}
	ok, _ := th.allow(1)
	require.True(t, ok)
	for range 5 {
		ok, _ = th.allow(1)
		require.False(t, ok)
	}
	ok, suppressed := th.allow(2)
	require.True(t, ok)
	require.Equal(t, int64(5), suppressed)
}
