package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
	"github.com/quantrac/quantrac/province"
)

// gatewayBatches returns n consecutive batches of real readings from one
// gateway, batchSize readings each.
func gatewayBatches(t testing.TB, slug string, gw, n, batchSize int) (*sensor.Site, []batch.Batch) {
	p, _ := province.Lookup(slug)
	s, err := sensor.NewSite(12, p, gw, 10, time.Second)
	require.NoError(t, err)
	k := s.FirstSlot(time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC).UnixMilli())
	out := make([]batch.Batch, n)
	i := 0
	for b := range out {
		out[b].Seq = uint64(b + 1)
		out[b].Readings = make([]sensor.Reading, batchSize)
		for r := range out[b].Readings {
			s.Read(k+int64(i/s.Devices()), i%s.Devices(), &out[b].Readings[r])
			i++
		}
	}
	return s, out
}

func acked(s *sensor.Site, b batch.Batch) *Entry {
	return &Entry{Type: Acked, Province: s.Province().Slug, Gateway: s.Gateway(),
		Format: wire.JSON, QoS: 1, AckedAt: 1764748800999, Seq: b.Seq, Batch: b}
}

func readAll(t testing.TB, path string) ([]Entry, ReadStats) {
	var out []Entry
	st, err := Read(path, func(e *Entry) error {
		c := *e
		c.Batch.Readings = append([]sensor.Reading(nil), e.Batch.Readings...)
		out = append(out, c)
		return nil
	})
	require.NoError(t, err)
	return out, st
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	w, err := Open(path)
	require.NoError(t, err)
	sites := []string{"ha-noi", "hue", "an-giang"}
	var wg sync.WaitGroup
	for _, slug := range sites {
		wg.Go(func() {
			s, bs := gatewayBatches(t, slug, 1, 20, 15)
			for _, b := range bs {
				require.NoError(t, w.Append(acked(s, b)))
			}
			require.NoError(t, w.Append(&Entry{Type: Duplicate, Province: slug, Gateway: s.Gateway(),
				Format: wire.LineProtocol, QoS: 1, AckedAt: 5, Seq: 3, Readings: 15}))
			require.NoError(t, w.Append(&Entry{Type: Malformed, Province: slug, Gateway: s.Gateway(),
				Format: wire.JSON, QoS: 0, AckedAt: -1, Seq: 4, Variant: 2}))
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())

	entries, st := readAll(t, path)
	require.Equal(t, int64(3*22), st.Entries)
	require.Zero(t, st.TornBytes)
	bySite := map[string][]Entry{}
	for _, e := range entries {
		bySite[e.Province] = append(bySite[e.Province], e)
	}
	for _, slug := range sites {
		s, bs := gatewayBatches(t, slug, 1, 20, 15)
		got := bySite[slug]
		require.Len(t, got, 22)
		for i, b := range bs {
			want := acked(s, b)
			want.Readings = len(b.Readings)
			require.Equal(t, *want, got[i])
		}
		require.Equal(t, Entry{Type: Duplicate, Province: slug, Gateway: s.Gateway(),
			Format: wire.LineProtocol, QoS: 1, AckedAt: 5, Seq: 3, Readings: 15}, got[20])
		require.Equal(t, Malformed, got[21].Type)
		require.Equal(t, uint8(2), got[21].Variant)
		require.Equal(t, int64(-1), got[21].AckedAt)
	}
}

func TestSamplesEnumerateEachAcknowledgedReadingOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	w, err := Open(path)
	require.NoError(t, err)
	s, bs := gatewayBatches(t, "dak-lak", 7, 6, 9)
	for _, b := range bs {
		require.NoError(t, w.Append(acked(s, b)))
	}
	require.NoError(t, w.Append(acked(s, bs[2]))) // redelivered after a restart
	require.NoError(t, w.Append(&Entry{Type: Duplicate, Gateway: s.Gateway(), Seq: 2, Readings: 9}))
	require.NoError(t, w.Append(&Entry{Type: Malformed, Gateway: s.Gateway(), Seq: 5}))
	require.NoError(t, w.Close())

	type key struct {
		metric string
		labels Labels
		ts     int64
	}
	got := map[key]float64{}
	sum, err := Samples(path, func(smp Sample) error {
		k := key{smp.Metric, smp.Labels, smp.TS}
		_, dup := got[k]
		require.False(t, dup, "sample %v twice", k)
		got[k] = smp.Value
		return nil
	})
	require.NoError(t, err)

	want := map[key]float64{}
	for _, b := range bs {
		for _, r := range b.Readings {
			for f, field := range r.Kind.Fields() {
				want[key{field.Metric, Labels{"dak-lak", "dl-gw-007", string(r.AppendDeviceID(nil)), r.Kind.String()}, r.TS}] = r.Float(f)
			}
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, Summary{Batches: 6, Readings: 54, Samples: int64(len(want)),
		Redelivered: 1, Duplicates: 1, Malformed: 1}, sum)
}

func TestReopenAppendsAndCutsTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	s, bs := gatewayBatches(t, "vinh-long", 1, 4, 5)
	w, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, w.Append(acked(s, bs[0])))
	require.NoError(t, w.Append(acked(s, bs[1])))
	require.NoError(t, w.Close())

	// A crash while writing the third entry.
	rec := appendEntry(nil, acked(s, bs[2]), batch.Append(nil, &bs[2]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(rec[:len(rec)-3])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	entries, st := readAll(t, path)
	require.Len(t, entries, 2)
	require.Equal(t, int64(len(rec)-3), st.TornBytes)

	w, err = Open(path)
	require.NoError(t, err)
	require.NoError(t, w.Append(acked(s, bs[3])))
	require.NoError(t, w.Close())
	entries, st = readAll(t, path)
	require.Len(t, entries, 3)
	require.Zero(t, st.TornBytes)
	require.Equal(t, []uint64{1, 2, 4}, []uint64{entries[0].Seq, entries[1].Seq, entries[2].Seq})
}

func TestDamageInTheMiddleIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	s, bs := gatewayBatches(t, "hung-yen", 1, 3, 5)
	w, err := Open(path)
	require.NoError(t, err)
	for _, b := range bs {
		require.NoError(t, w.Append(acked(s, b)))
	}
	require.NoError(t, w.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[fileHeaderSize+recordHeaderSize+5] ^= 0x40
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = Read(path, func(*Entry) error { return nil })
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = Open(path)
	require.ErrorIs(t, err, ErrCorrupt, "a damaged ledger is not silently truncated")

	require.NoError(t, os.WriteFile(path, []byte("not a ledger"), 0o644))
	_, err = Read(path, func(*Entry) error { return nil })
	require.ErrorIs(t, err, ErrCorrupt)
}

// FuzzRead reads a ledger whose records are arbitrary bytes: it must return
// entries, a torn tail or ErrCorrupt, and never panic.
func FuzzRead(f *testing.F) {
	s, bs := gatewayBatches(f, "ninh-binh", 1, 2, 3)
	f.Add(appendEntry(appendEntry(nil, acked(s, bs[0]), batch.Append(nil, &bs[0])),
		&Entry{Type: Malformed, Gateway: "x", Seq: 1}, nil))
	f.Add(appendEntry(nil, &Entry{Type: Duplicate, Province: "p", Gateway: "g", Seq: 9, Readings: 3}, nil))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, records []byte) {
		path := filepath.Join(t.TempDir(), "ledger")
		data := append([]byte{magic[0], magic[1], magic[2], magic[3], version, 0, 0, 0}, records...)
		require.NoError(t, os.WriteFile(path, data, 0o644))
		n := 0
		st, err := Read(path, func(e *Entry) error {
			n++
			require.True(t, e.Type >= Acked && e.Type <= Malformed, fmt.Sprint(e.Type))
			return nil
		})
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.Equal(t, int64(n), st.Entries)
		require.LessOrEqual(t, st.TornBytes, int64(len(records)))
	})
}

func BenchmarkAppend(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "ledger"))
	require.NoError(b, err)
	s, bs := gatewayBatches(b, "ha-noi", 1, 1, 200)
	e := acked(s, bs[0])
	b.ReportAllocs()
	for range b.N {
		if err := w.Append(e); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, w.Close())
	b.ReportMetric(float64(b.N)*200/b.Elapsed().Seconds(), "readings/s")
}
