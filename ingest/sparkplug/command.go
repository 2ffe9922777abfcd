package sparkplug

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// RebirthMetric is the node control metric a host sets to true in an NCMD
// to ask an edge node to publish its birth certificates again.
const RebirthMetric = "Node Control/Rebirth"

// AppendRebirthCommand appends to dst the payload of an NCMD that asks an
// edge node for a rebirth: a Payload with its timestamp and one Boolean
// metric, RebirthMetric, set to true. The caller publishes it on
// spBv1.0/<group>/NCMD/<edge node>.
func AppendRebirthCommand(dst []byte, now time.Time) []byte {
	ms := uint64(now.UnixMilli())

	var metric []byte
	metric = protowire.AppendTag(metric, metricName, protowire.BytesType)
	metric = protowire.AppendString(metric, RebirthMetric)
	metric = protowire.AppendTag(metric, metricTimestamp, protowire.VarintType)
	metric = protowire.AppendVarint(metric, ms)
	metric = protowire.AppendTag(metric, metricDatatype, protowire.VarintType)
	metric = protowire.AppendVarint(metric, typeBoolean)
	metric = protowire.AppendTag(metric, metricBool, protowire.VarintType)
	metric = protowire.AppendVarint(metric, 1)

	dst = protowire.AppendTag(dst, payloadTimestamp, protowire.VarintType)
	dst = protowire.AppendVarint(dst, ms)
	dst = protowire.AppendTag(dst, payloadMetrics, protowire.BytesType)
	return protowire.AppendBytes(dst, metric)
}
