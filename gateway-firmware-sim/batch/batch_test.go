package batch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/province"
)

// generated returns a batch of n real readings from a simulated site.
func generated(t testing.TB, seq uint64, n int) *Batch {
	p, _ := province.Lookup("quang-ninh")
	s, err := sensor.NewSite(4, p, 2, 25, time.Second)
	require.NoError(t, err)
	b := &Batch{Seq: seq, Readings: make([]sensor.Reading, n)}
	k := s.FirstSlot(time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC).UnixMilli())
	for i := range b.Readings {
		s.Read(k+int64(i/s.Devices()), i%s.Devices(), &b.Readings[i])
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 500} {
		b := generated(t, uint64(n)*1000+3, n)
		enc := Append([]byte("prefix"), b)
		require.Equal(t, "prefix", string(enc[:6]))
		var got Batch
		tail, err := Decode(append(enc[6:], "tail"...), &got)
		require.NoError(t, err)
		require.Equal(t, "tail", string(tail))
		require.Equal(t, b.Seq, got.Seq)
		require.Equal(t, len(b.Readings), len(got.Readings))
		for i := range b.Readings {
			require.Equal(t, b.Readings[i], got.Readings[i])
		}
		require.Equal(t, b.Samples(), got.Samples())
	}
}

func TestDecodeRejectsCorruption(t *testing.T) {
	good := Append(nil, generated(t, 9, 3))
	for _, tc := range []struct {
		name string
		src  []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"huge count", []byte{Version, 1, 0xff, 0xff, 0xff, 0x7f}},
		{"bad kind", []byte{Version, 1, 1, 9, 1, 2, 2}},
		{"device zero", []byte{Version, 1, 1, byte(sensor.Agri), 0, 2, 2}},
		{"device too big", []byte{Version, 1, 1, byte(sensor.Agri), 0x90, 0x4e, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			_, err := Decode(tc.src, &b)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func TestAppendAndDecodeDoNotAllocate(t *testing.T) {
	b := generated(t, 1, 200)
	buf := Append(nil, b)
	var got Batch
	_, err := Decode(buf, &got)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(50, func() {
		buf = Append(buf[:0], b)
		if _, err := Decode(buf, &got); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, generated(f, 77, 5)))
	f.Add([]byte{Version, 0, 0})
	f.Fuzz(func(t *testing.T, src []byte) {
		var b Batch
		tail, err := Decode(src, &b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again := Append(nil, &b)
		var b2 Batch
		rest, err := Decode(again, &b2)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, b.Seq, b2.Seq)
		require.Equal(t, len(b.Readings), len(b2.Readings))
		for i := range b.Readings {
			require.Equal(t, b.Readings[i], b2.Readings[i])
		}
		require.LessOrEqual(t, len(tail), len(src))
	})
}

func BenchmarkAppend(b *testing.B) {
	bt := generated(b, 1, 500)
	buf := Append(nil, bt)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		buf = Append(buf[:0], bt)
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkDecode(b *testing.B) {
	bt := generated(b, 1, 500)
	buf := Append(nil, bt)
	var got Batch
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		if _, err := Decode(buf, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "readings/s")
}
