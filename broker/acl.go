package broker

import (
	"strings"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

// A gateway's topic rights (docs/security.md):
//
//	publish    telemetry/<province>/<gateway>/json
//	           telemetry/<province>/<gateway>/lp
//	           spBv1.0/<province>/{NBIRTH,NDEATH,NDATA}/<gateway>
//	           spBv1.0/<province>/{DBIRTH,DDEATH,DDATA}/<gateway>/<device>
//	subscribe  telemetry/<province>/<gateway>/errors
//	           telemetry/<province>/<gateway>/cmd/#
//	           spBv1.0/<province>/NCMD/<gateway>
//	           spBv1.0/<province>/DCMD/<gateway>/+
//	           spBv1.0/STATE/+
//
// where <province> and <gateway> are the authenticated identity's. A
// subscription filter is allowed when every topic it can match is allowed,
// so "telemetry/ha-noi/hn-gw-001/cmd/+" is fine and "telemetry/ha-noi/#" is
// not.

// mayPublish reports whether a gateway with identity id may publish on
// topic. It does not allocate.
func mayPublish(id pipeline.Identity, topic string) bool {
	t, ok := parseDataTopic(topic)
	return ok && t.province == id.Province && t.gateway == id.Gateway
}

// readPatterns returns the filters that bound what a gateway may subscribe
// to and receive.
func readPatterns(id pipeline.Identity) []string {
	p, g := id.Province, id.Gateway
	return []string{
		telemetryRoot + p + "/" + g + "/errors",
		telemetryRoot + p + "/" + g + "/cmd/#",
		sparkplugRoot + p + "/NCMD/" + g,
		sparkplugRoot + p + "/DCMD/" + g + "/+",
		sparkplugRoot + "STATE/+",
	}
}

// mayRead reports whether filter (a subscription filter, or the topic of a
// message about to be delivered) is covered by one of patterns.
func mayRead(patterns []string, filter string) bool {
	for _, p := range patterns {
		if covers(p, filter) {
			return true
		}
	}
	return false
}

// covers reports whether every topic that filter matches is also matched by
// pattern, both being MQTT topic filters. A topic name is a filter without
// wildcards. It does not allocate.
func covers(pattern, filter string) bool {
	for {
		p, pRest, pMore := strings.Cut(pattern, "/")
		f, fRest, fMore := strings.Cut(filter, "/")
		switch {
		case p == "#":
			return true // this level and everything below, whatever filter holds
		case f == "#" || f == "+" && p != "+":
			return false // the filter is wider here than the pattern
		case p != "+" && p != f:
			return false
		}
		switch {
		case !pMore && !fMore:
			return true
		case !fMore:
			// The filter stops here; "a/#" also matches its parent "a".
			return pRest == "#"
		case !pMore:
			return false
		}
		pattern, filter = pRest, fRest
	}
}
