package sparkplug

import (
	"fmt"
	"strings"
)

// MessageType is the verb of a Sparkplug topic.
type MessageType uint8

// Message types of the Sparkplug B topic namespace.
const (
	TypeUnknown MessageType = iota
	NBIRTH
	NDATA
	NDEATH
	DBIRTH
	DDATA
	DDEATH
	NCMD
	DCMD
	STATE
)

var typeNames = [...]string{
	TypeUnknown: "unknown", NBIRTH: "NBIRTH", NDATA: "NDATA", NDEATH: "NDEATH",
	DBIRTH: "DBIRTH", DDATA: "DDATA", DDEATH: "DDEATH", NCMD: "NCMD", DCMD: "DCMD", STATE: "STATE",
}

// String returns the verb as it appears in topics.
func (t MessageType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// deviceLevel reports whether the type's topic names a device.
func (t MessageType) deviceLevel() bool {
	return t == DBIRTH || t == DDATA || t == DDEATH || t == DCMD
}

// Namespace is the first topic level of every Sparkplug B topic.
const Namespace = "spBv1.0"

// Topic is a parsed Sparkplug topic. Its strings are substrings of the
// topic given to ParseTopic.
type Topic struct {
	Group    string // group id: the province slug in Quantrac
	Type     MessageType
	EdgeNode string // edge node id: the gateway id in Quantrac
	Device   string // device id; empty for node-level types
	// HostID is set, and the other fields empty, for a Sparkplug 3.0 host
	// application state topic spBv1.0/STATE/<host_id>.
	HostID string
}

// ParseTopic parses spBv1.0/<group>/<type>/<edge_node>[/<device>] and
// spBv1.0/STATE/<host_id>. It does not allocate unless it fails.
func ParseTopic(topic string) (Topic, error) {
	ns, rest, _ := strings.Cut(topic, "/")
	if ns != Namespace {
		return Topic{}, fmt.Errorf("cannot parse Sparkplug topic %q: it does not start with %s/", topic, Namespace)
	}
	group, rest, ok := strings.Cut(rest, "/")
	if group == "STATE" && ok && rest != "" && !strings.Contains(rest, "/") {
		return Topic{Type: STATE, HostID: rest}, nil
	}
	verb, rest, _ := strings.Cut(rest, "/")
	node, device, hasDevice := strings.Cut(rest, "/")
	t := Topic{Group: group, Type: parseType(verb), EdgeNode: node, Device: device}
	switch {
	case t.Type == TypeUnknown || t.Type == STATE:
		return Topic{}, fmt.Errorf("cannot parse Sparkplug topic %q: unknown message type %q", topic, verb)
	case group == "" || node == "":
		return Topic{}, fmt.Errorf("cannot parse Sparkplug topic %q: empty group or edge node id", topic)
	case t.Type.deviceLevel() && (device == "" || strings.Contains(device, "/")):
		return Topic{}, fmt.Errorf("cannot parse Sparkplug topic %q: %s needs one device id level", topic, t.Type)
	case !t.Type.deviceLevel() && hasDevice:
		return Topic{}, fmt.Errorf("cannot parse Sparkplug topic %q: %s takes no device id", topic, t.Type)
	}
	return t, nil
}

func parseType(s string) MessageType {
	for t := NBIRTH; t <= STATE; t++ {
		if typeNames[t] == s {
			return t
		}
	}
	return TypeUnknown
}
