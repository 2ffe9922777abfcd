package ledger

import (
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// Labels are the labels of a series as the platform derives them: province
// and gateway from the topic, device and kind from the payload. Sparkplug
// payloads carry no kind (the device is the topic's last level), so Kind is
// empty for batches sent as Sparkplug.
type Labels struct {
	Province string
	Gateway  string
	Device   string
	Kind     string
}

// Label is one label name and value.
type Label struct{ Name, Value string }

// Pairs returns the labels sorted by name, the order Prometheus uses,
// without an empty kind.
func (l Labels) Pairs() []Label {
	if l.Kind == "" {
		return []Label{{"device", l.Device}, {"gateway", l.Gateway}, {"province", l.Province}}
	}
	return []Label{{"device", l.Device}, {"gateway", l.Gateway}, {"kind", l.Kind}, {"province", l.Province}}
}

// Sample is one value the platform must hold: the series is Metric with
// Labels, TS is Unix ms, Value the exact decimal the sensor reported.
type Sample struct {
	Metric string
	Labels Labels
	TS     int64
	Value  float64
}

// Summary counts what a ledger holds.
type Summary struct {
	// Batches, Readings and Samples count distinct acknowledged batches
	// (one per gateway and sequence number) and what they carry.
	Batches  int64
	Readings int64
	Samples  int64
	// Redelivered counts Acked entries for a batch already recorded: the
	// simulator resent it (after a crash, or when a queue cursor checkpoint
	// was lost) and the broker acknowledged it again.
	Redelivered int64
	// Duplicates and Malformed count the fault-injection entries.
	Duplicates int64
	Malformed  int64
	TornBytes  int64
}

type batchKey struct {
	gateway string
	seq     uint64
}

// Samples calls fn once for every sample of every distinct acknowledged
// batch in the ledger at path: what the platform must store, exactly once
// each. Duplicate and Malformed entries contribute no samples; an Acked
// entry repeating a (gateway, seq) already seen is counted as Redelivered and
// skipped. An error from fn stops the walk and is returned.
func Samples(path string, fn func(Sample) error) (Summary, error) {
	var sum Summary
	seen := make(map[batchKey]struct{})
	ids := make(map[uint32]string) // device ids, interned
	st, err := Read(path, func(e *Entry) error {
		switch e.Type {
		case Duplicate:
			sum.Duplicates++
			return nil
		case Malformed:
			sum.Malformed++
			return nil
		}
		key := batchKey{e.Gateway, e.Seq}
		if _, dup := seen[key]; dup {
			sum.Redelivered++
			return nil
		}
		seen[key] = struct{}{}
		sum.Batches++
		sum.Readings += int64(len(e.Batch.Readings))
		for i := range e.Batch.Readings {
			r := &e.Batch.Readings[i]
			id := uint32(r.Kind)<<16 | uint32(r.Device)
			dev, ok := ids[id]
			if !ok {
				dev = string(r.AppendDeviceID(nil))
				ids[id] = dev
			}
			labels := Labels{Province: e.Province, Gateway: e.Gateway, Device: dev, Kind: r.Kind.String()}
			if e.Format == wire.Sparkplug {
				labels.Kind = ""
			}
			for f, field := range r.Kind.Fields() {
				sum.Samples++
				s := Sample{Metric: field.Metric, Labels: labels, TS: r.TS, Value: sensor.Decimal(r.Values[f], field.Scale)}
				if err := fn(s); err != nil {
					return err
				}
			}
		}
		return nil
	})
	sum.TornBytes = st.TornBytes
	return sum, err
}
