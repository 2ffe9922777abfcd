package tsdb

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// FuzzRecordDecode feeds arbitrary WAL record bodies to the record decoder:
// it must return an error or a group, never panic or allocate without
// bound; and a group it accepts must survive encoding and decoding again
// unchanged. Together with wal.FuzzReplay (the framing) this covers WAL
// replay from bytes on disk to samples.
func FuzzRecordDecode(f *testing.F) {
	enc, err := newRecordCodec()
	if err != nil {
		f.Fatal(err)
	}
	defer enc.close()
	g := newPending()
	g.series = []*memSeries{
		newMemSeries(1, labels.FromStrings("__name__", "air_temperature_celsius", "device", "aws-0001")),
		newMemSeries(2, labels.FromStrings("__name__", "rainfall_mm", "device", "aws-0001")),
	}
	g.refs = []SeriesRef{1, 2, 1, 2}
	g.ts = []int64{1_750_000_000_000, 1_750_000_000_000, 1_750_000_010_013, 1_750_000_010_013}
	g.vals = []float64{27.4, 0, 27.5, math.NaN()}
	valid := enc.encode(nil, g)
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add([]byte{recGroupZstd})
	f.Add([]byte{recGroupPacked})
	f.Add(append([]byte{recGroupPacked, 0, 2, 2, packedRaw}, 1, 2, 3)) // a raw value cut short
	f.Add(enc.encode(nil, newPending()))

	dec, err := newRecordCodec()
	if err != nil {
		f.Fatal(err)
	}
	defer dec.close()
	f.Fuzz(func(t *testing.T, rec []byte) {
		var got decodedGroup
		if err := dec.decode(rec, &got); err != nil {
			return
		}
		if len(got.refs) != len(got.ts) || len(got.ts) != len(got.vals) {
			t.Fatalf("columns of %d, %d and %d samples", len(got.refs), len(got.ts), len(got.vals))
		}
		p := newPending()
		for _, s := range got.series {
			p.series = append(p.series, newMemSeries(s.ref, s.lset))
		}
		p.refs, p.ts, p.vals = got.refs, got.ts, got.vals
		again := enc.encode(nil, p)
		var back decodedGroup
		if err := dec.decode(again, &back); err != nil {
			t.Fatalf("a decoded group does not decode after encoding: %v", err)
		}
		if len(back.series) != len(got.series) || len(back.refs) != len(got.refs) {
			t.Fatalf("round trip changed the group")
		}
		for i := range back.refs {
			if back.refs[i] != got.refs[i] || back.ts[i] != got.ts[i] ||
				math.Float64bits(back.vals[i]) != math.Float64bits(got.vals[i]) {
				t.Fatalf("sample %d changed in the round trip", i)
			}
		}
	})
}
