package wire

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/province"
)

func generated(t testing.TB, n int) *batch.Batch {
	p, _ := province.Lookup("can-tho")
	s, err := sensor.NewSite(8, p, 1, 16, time.Second)
	require.NoError(t, err)
	b := &batch.Batch{Seq: 42, Readings: make([]sensor.Reading, n)}
	k := s.FirstSlot(time.Date(2025, 9, 20, 6, 0, 0, 0, time.UTC).UnixMilli())
	for i := range b.Readings {
		s.Read(k+int64(i/s.Devices()), i%s.Devices(), &b.Readings[i])
	}
	return b
}

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		m     int64
		scale int
		want  string
	}{
		{274, 1, "27.4"}, {270, 1, "27"}, {-3, 1, "-0.3"}, {5, 0, "5"}, {-12, 0, "-12"},
		{230, 2, "2.3"}, {201, 2, "2.01"}, {7, 2, "0.07"}, {0, 2, "0"}, {123456789, 9, "0.123456789"},
		{math.MinInt64 + 1, 1, "-922337203685477580.7"},
	} {
		got := string(AppendDecimal([]byte("x"), tc.m, tc.scale))
		require.Equal(t, "x"+tc.want, got)
		f, err := strconv.ParseFloat(tc.want, 64)
		require.NoError(t, err)
		require.Equal(t, sensor.Decimal(tc.m, tc.scale), f, "decimal text and float agree")
	}
}

func TestJSONParsesToTheReadings(t *testing.T) {
	b := generated(t, 40)
	payload := AppendJSON(nil, b)
	v, err := fastjson.ParseBytes(payload)
	require.NoError(t, err)
	require.Equal(t, uint64(42), v.GetUint64("seq"))
	readings := v.GetArray("readings")
	require.Len(t, readings, len(b.Readings))
	for i, rv := range readings {
		r := &b.Readings[i]
		require.Equal(t, string(r.AppendDeviceID(nil)), string(rv.GetStringBytes("device")))
		require.Equal(t, r.TS, rv.GetInt64("ts"))
		require.Equal(t, r.Kind.String(), string(rv.GetStringBytes("tags", "kind")))
		fields := rv.GetObject("fields")
		require.Equal(t, len(r.Kind.Fields()), fields.Len())
		for f, field := range r.Kind.Fields() {
			fv := fields.Get(field.Metric)
			require.NotNil(t, fv, field.Metric)
			require.Equal(t, r.Float(f), fv.GetFloat64(), field.Metric)
		}
	}
}

func TestLineProtocolParsesToTheReadings(t *testing.T) {
	b := generated(t, 40)
	dec := lineprotocol.NewDecoderWithBytes(AppendLineProtocol(nil, b))
	for i := range b.Readings {
		r := &b.Readings[i]
		for f, field := range r.Kind.Fields() {
			require.True(t, dec.Next())
			m, err := dec.Measurement()
			require.NoError(t, err)
			require.Equal(t, field.Metric, string(m))
			tags := map[string]string{}
			for {
				k, v, err := dec.NextTag()
				require.NoError(t, err)
				if k == nil {
					break
				}
				tags[string(k)] = string(v)
			}
			require.Equal(t, map[string]string{"device": string(r.AppendDeviceID(nil)), "kind": r.Kind.String()}, tags)
			k, v, err := dec.NextField()
			require.NoError(t, err)
			require.Equal(t, "value", string(k))
			require.Equal(t, lineprotocol.Float, v.Kind())
			require.Equal(t, r.Float(f), v.FloatV())
			k, _, err = dec.NextField()
			require.NoError(t, err)
			require.Nil(t, k)
			ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
			require.NoError(t, err)
			require.Equal(t, r.TS, ts.UnixMilli())
			require.Zero(t, ts.Nanosecond()%int(time.Millisecond))
		}
	}
	require.False(t, dec.Next())
}

// lpValid decodes every line fully and reports whether all were valid.
func lpValid(payload []byte) bool {
	dec := lineprotocol.NewDecoderWithBytes(payload)
	for dec.Next() {
		if _, err := dec.Measurement(); err != nil {
			return false
		}
		for {
			k, _, err := dec.NextTag()
			if err != nil {
				return false
			}
			if k == nil {
				break
			}
		}
		for {
			k, _, err := dec.NextField()
			if err != nil {
				return false
			}
			if k == nil {
				break
			}
		}
		if _, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			return false
		}
	}
	return dec.Err() == nil
}

func TestMalformedPayloadsCarryNoValidReading(t *testing.T) {
	b := generated(t, 3)
	for v := range uint64(MalformedVariants) {
		t.Run("json/"+strconv.Itoa(int(v)), func(t *testing.T) {
			p := AppendMalformed(nil, JSON, v, b)
			parsed, err := fastjson.ParseBytes(p)
			if err != nil {
				return // not JSON at all
			}
			rs := parsed.GetArray("readings")
			require.Len(t, rs, 1)
			ts := rs[0].Get("ts")
			bad := ts.Type() != fastjson.TypeNumber
			for _, f := range []string{"air_temperature_celsius", "pm2_5_micrograms_per_cubic_meter",
				"energy_kilowatt_hours_total", "soil_moisture_percent"} {
				if fv := rs[0].Get("fields", f); fv != nil && fv.Type() != fastjson.TypeNumber {
					bad = true
				}
			}
			require.True(t, bad, "variant %d parses with a valid reading: %s", v, p)
		})
		t.Run("lp/"+strconv.Itoa(int(v)), func(t *testing.T) {
			require.False(t, lpValid(AppendMalformed(nil, LineProtocol, v, b)))
		})
	}
	require.True(t, lpValid(AppendLineProtocol(nil, b)), "the checker accepts good input")
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{JSON, LineProtocol, Sparkplug} {
		got, err := ParseFormat(f.String())
		require.NoError(t, err)
		require.Equal(t, f, got)
	}
	_, err := ParseFormat("xml")
	require.Error(t, err)
	require.Equal(t, "telemetry/ha-noi/hn-gw-001/lp", Topic(LineProtocol, "ha-noi", "hn-gw-001"))
	require.Equal(t, "telemetry/ha-noi/hn-gw-001/errors", ErrorsTopic("ha-noi", "hn-gw-001"))
}

func TestEncodersDoNotAllocate(t *testing.T) {
	b := generated(t, 200)
	buf := AppendLineProtocol(nil, b)
	for name, enc := range map[string]func([]byte, *batch.Batch) []byte{
		"json": AppendJSON, "lp": AppendLineProtocol,
	} {
		allocs := testing.AllocsPerRun(20, func() { buf = enc(buf[:0], b) })
		require.Zero(t, allocs, name)
	}
}

func benchmarkEncoder(b *testing.B, enc func([]byte, *batch.Batch) []byte) {
	bt := generated(b, 500)
	buf := enc(nil, bt)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		buf = enc(buf[:0], bt)
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(len(buf))/500, "bytes/reading")
}

func BenchmarkAppendJSON(b *testing.B)         { benchmarkEncoder(b, AppendJSON) }
func BenchmarkAppendLineProtocol(b *testing.B) { benchmarkEncoder(b, AppendLineProtocol) }
