package broker

import "strings"

// Delivery of readings to subscribers. After the hook has ingested a
// publish on a data topic, mochi looks for subscribers to deliver it to:
// a walk of its topic index and a few allocations per message, about 8 %
// of the node's CPU at one reading per message. A gateway may not
// subscribe to any data topic (acl.go), so on a production node nobody
// can; only anonymous clients of a development node and the platform's own
// inline client could. The broker therefore remembers whether a filter
// that can match a data topic was ever asked for (OnSubscribe, before mochi
// indexes it, whether allowed or not) or restored from the session store
// since it started, and until then marks accepted readings as needing no
// delivery. The flag never clears: an unsubscribe does not say whether the
// filter was there.

// dataFilters match every topic parseDataTopic accepts.
var dataFilters = []string{
	telemetryRoot + "+/+/json",
	telemetryRoot + "+/+/lp",
	sparkplugRoot + "+/NBIRTH/+",
	sparkplugRoot + "+/NDEATH/+",
	sparkplugRoot + "+/NDATA/+",
	sparkplugRoot + "+/DBIRTH/+/+",
	sparkplugRoot + "+/DDEATH/+/+",
	sparkplugRoot + "+/DDATA/+/+",
}

// mayMatchData reports whether a subscription filter could match a data
// topic. It errs towards yes.
func mayMatchData(filter string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, filter, _ = strings.Cut(rest, "/") // $share/<group>/<filter>
	}
	for _, p := range dataFilters {
		if intersects(p, filter) {
			return true
		}
	}
	return false
}

// intersects reports whether some topic could match both filters a and b.
func intersects(a, b string) bool {
	for {
		x, aRest, aMore := strings.Cut(a, "/")
		y, bRest, bMore := strings.Cut(b, "/")
		switch {
		case x == "#" || y == "#":
			return true
		case x != "+" && y != "+" && x != y:
			return false
		}
		switch {
		case aMore && bMore:
			a, b = aRest, bRest
		case !aMore && !bMore:
			return true
		case aMore:
			return aRest == "#" // "x/#" also matches "x"
		default:
			return bRest == "#"
		}
	}
}

// noteFilter records that filter may receive readings, if it can.
func (b *Broker) noteFilter(filter string) {
	if !b.dataSubscribed.Load() && mayMatchData(filter) {
		b.dataSubscribed.Store(true)
	}
}
