package sparkplug

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// The rebirth command is read back with the generated protobuf code, which
// is how an edge node's own Sparkplug library would read it.
func TestRebirthCommandDecodesAsSparkplug(t *testing.T) {
	now := time.UnixMilli(1_764_000_000_123)
	b := AppendRebirthCommand([]byte("keep"), now)
	require.Equal(t, "keep", string(b[:4]), "append-style: dst is kept")

	var p sparkplugpb.Payload
	require.NoError(t, proto.Unmarshal(b[4:], &p))
	require.Equal(t, uint64(now.UnixMilli()), p.GetTimestamp())
	require.Len(t, p.GetMetrics(), 1)
	m := p.GetMetrics()[0]
	require.Equal(t, RebirthMetric, m.GetName())
	require.Equal(t, uint32(sparkplugpb.DataType_Boolean), m.GetDatatype())
	require.True(t, m.GetBooleanValue())
	require.Equal(t, uint64(now.UnixMilli()), m.GetTimestamp())
}
