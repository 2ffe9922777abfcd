package broker

import (
	"strings"

	"github.com/quantrac/quantrac/broker/gateways"
	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/province"
)

// Topic scheme (docs/mqtt.md):
//
//	telemetry/<province>/<gateway>/json     JSON batch, published by the gateway
//	telemetry/<province>/<gateway>/lp       line protocol, published by the gateway
//	telemetry/<province>/<gateway>/errors   refusals, published by the platform
//	telemetry/<province>/<gateway>/cmd/...  commands, published by the platform
//	spBv1.0/<province>/<type>/<gateway>[/<device>]   Sparkplug B: N/D BIRTH, DEATH, DATA
const (
	telemetryRoot = "telemetry/"
	sparkplugRoot = "spBv1.0/"
	// MaxGatewayIDLen bounds a gateway id, which is also an MQTT client id
	// and a label value.
	MaxGatewayIDLen = gateways.MaxIDLen
)

// dataTopic is a parsed topic a gateway publishes readings on. Its strings
// are substrings of the topic: parsing does not allocate.
type dataTopic struct {
	province, gateway string
	format            pipeline.Format
}

// parseDataTopic parses a topic that carries readings. ok is false for any
// other topic, including the platform's own errors and cmd topics.
func parseDataTopic(topic string) (t dataTopic, ok bool) {
	if rest, found := strings.CutPrefix(topic, telemetryRoot); found {
		prov, rest, _ := strings.Cut(rest, "/")
		gw, kind, _ := strings.Cut(rest, "/")
		switch kind {
		case "json":
			t.format = pipeline.FormatJSON
		case "lp":
			t.format = pipeline.FormatLineProtocol
		default:
			return t, false
		}
		t.province, t.gateway = prov, gw
		return t, validProvince(prov) && ValidGatewayID(gw)
	}
	if rest, found := strings.CutPrefix(topic, sparkplugRoot); found {
		// <group>/<message type>/<edge node>[/<device>]; only the types an
		// edge node publishes carry readings.
		group, rest, _ := strings.Cut(rest, "/")
		typ, rest, _ := strings.Cut(rest, "/")
		edge, device, hasDevice := strings.Cut(rest, "/")
		switch typ {
		case "NBIRTH", "NDEATH", "NDATA":
			if hasDevice {
				return t, false
			}
		case "DBIRTH", "DDEATH", "DDATA":
			if device == "" || strings.IndexByte(device, '/') >= 0 {
				return t, false
			}
		default:
			return t, false // NCMD, DCMD: commands to the edge node
		}
		t.province, t.gateway, t.format = group, edge, pipeline.FormatSparkplug
		return t, validProvince(group) && ValidGatewayID(edge)
	}
	return t, false
}

func validProvince(s string) bool {
	_, ok := province.Lookup(s)
	return ok
}

// ValidGatewayID reports whether id is a well-formed gateway id: 1 to 64
// letters, digits, '-' or '_'. It does not allocate.
func ValidGatewayID(id string) bool { return gateways.ValidID(id) }

// ErrorTopic is the topic the platform reports a gateway's refused messages on.
func ErrorTopic(prov, gateway string) string {
	return telemetryRoot + prov + "/" + gateway + "/errors"
}
