package tsdb

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
)

// FuzzSeriesFile feeds the series file decoder arbitrary input. With whole
// set, data is the file itself, as a damaged disk would leave it. Otherwise
// data is the content before compression, which the harness compresses and
// frames with a valid checksum, so that the fuzzer reaches the entry parser
// behind the checksum. The decoder must return an error or series with
// ascending refs, never panic; and what it accepts must come back the same
// after encoding it again.
func FuzzSeriesFile(f *testing.F) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	defer enc.Close()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	file := encodeSeriesFile(enc, []*memSeries{
		newMemSeries(1, labels.FromStrings("__name__", "air_temperature_celsius", "device", "aws-0001", "province", "ha-noi")),
		newMemSeries(2, labels.FromStrings("__name__", "rainfall_mm", "device", "aws-0001", "province", "ha-noi")),
		newMemSeries(7, labels.FromStrings("__name__", "voltage_volts", "device", "pwr-0042", "province", "hue")),
	})
	f.Add(file, true)
	f.Add(file[:len(file)-5], true)
	if raw, err := dec.DecodeAll(file[8:len(file)-8], nil); err == nil {
		f.Add(raw, false)
		f.Add(raw[:len(raw)-3], false)
	}

	f.Fuzz(func(t *testing.T, data []byte, whole bool) {
		if !whole {
			b := []byte{seriesMagic[0], seriesMagic[1], seriesMagic[2], seriesMagic[3], seriesVersion, 0, 0, 0}
			b = enc.EncodeAll(data, b)
			b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
			data = append(b, seriesMagic...)
		}
		var got []*memSeries
		err := decodeSeriesFile("fuzz", data, dec, func(ref SeriesRef, lset labels.Labels) {
			if n := len(got); n > 0 && ref <= got[n-1].ref {
				t.Fatalf("ref %d after %d", ref, got[n-1].ref)
			}
			got = append(got, newMemSeries(ref, lset))
		})
		if err != nil || len(got) == 0 {
			return
		}
		i := 0
		err = decodeSeriesFile("again", encodeSeriesFile(enc, got), dec, func(ref SeriesRef, lset labels.Labels) {
			if ref != got[i].ref || !labels.Equal(lset, got[i].lset) {
				t.Fatalf("series %d changed in the round trip: %d %s", i, ref, lset)
			}
			i++
		})
		if err != nil || i != len(got) {
			t.Fatalf("a file decoded does not decode again: %v (%d of %d series)", err, i, len(got))
		}
	})
}
