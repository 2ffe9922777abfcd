package export

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// textFlushSize is the buffered output size at which text encoders write.
const textFlushSize = 64 * 1024

// textEncoder holds what the CSV and JSON lines encoders share: an output
// buffer written out whenever it passes textFlushSize, and a per-run prefix
// or suffix with the series' label fields, built once per run.
type textEncoder struct {
	dst    io.Writer
	buf    []byte
	series []byte // label fields of the current run
	day    dayCache
	format string
}

func (e *textEncoder) maybeFlush() error {
	if len(e.buf) < textFlushSize {
		return nil
	}
	return e.flush()
}

func (e *textEncoder) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.dst.Write(e.buf)
	e.buf = e.buf[:0]
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", e.format, err)
	}
	return nil
}

// csvEncoder writes a header and then one line per sample:
//
//	time,timestamp,value,<label columns...>
//	2026-01-02T03:04:05.678Z,1767323045678,21.5,air_temperature_celsius,ha-noi
//
// time is RFC 3339 in UTC with milliseconds, timestamp is Unix milliseconds,
// value is the shortest decimal that parses back to the same float64 ("NaN",
// "+Inf", "-Inf" for the special values). An absent label is an empty field.
type csvEncoder struct {
	textEncoder
}

func newCSVEncoder(dst io.Writer, columns []string) *csvEncoder {
	e := &csvEncoder{textEncoder: textEncoder{dst: dst, format: "csv", day: newDayCache()}}
	e.buf = append(e.buf, "time,timestamp,value"...)
	for _, label := range columns {
		e.buf = append(e.buf, ',')
		e.buf = appendCSVField(e.buf, ColumnName(label))
	}
	e.buf = append(e.buf, '\n')
	return e
}

func (e *csvEncoder) writeBatch(b *batch) error {
	row := 0
	for _, rn := range b.runs {
		e.series = e.series[:0]
		for c := range b.cols {
			e.series = append(e.series, ',')
			if v, ok := b.value(rn.series, c); ok {
				e.series = appendCSVField(e.series, v)
			}
		}
		e.series = append(e.series, '\n')
		for _, t := range b.ts[row : row+int(rn.rows)] {
			e.buf = e.day.appendTime(e.buf, t)
			e.buf = append(e.buf, ',')
			e.buf = strconv.AppendInt(e.buf, t, 10)
			e.buf = append(e.buf, ',')
			e.buf = strconv.AppendFloat(e.buf, b.vals[row], 'g', -1, 64)
			e.buf = append(e.buf, e.series...)
			row++
			if err := e.maybeFlush(); err != nil {
				return err
			}
		}
	}
	return e.flush()
}

func (e *csvEncoder) close() error { return e.flush() }

// appendCSVField appends s, quoted when it holds a separator, a quote, a
// line break or leading or trailing space (RFC 4180, as encoding/csv reads).
func appendCSVField(dst []byte, s string) []byte {
	needQuotes := len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t')
	for i := 0; i < len(s) && !needQuotes; i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			needQuotes = true
		}
	}
	if !needQuotes {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// jsonlEncoder writes one JSON object per sample and line:
//
//	{"metric":"air_temperature_celsius","province":"ha-noi","timestamp":1767323045678,"value":21.5}
//
// Keys are the column names; an absent label has no key. Finite values are
// JSON numbers; NaN and the infinities, which JSON numbers cannot hold, are
// the strings "NaN", "+Inf" and "-Inf", as Prometheus writes them.
type jsonlEncoder struct {
	textEncoder
	keys [][]byte // per column: `"name":` escaped once
}

func newJSONLEncoder(dst io.Writer, columns []string) *jsonlEncoder {
	e := &jsonlEncoder{textEncoder: textEncoder{dst: dst, format: "json lines"}}
	for _, label := range columns {
		k := appendJSONString(nil, ColumnName(label))
		e.keys = append(e.keys, append(k, ':'))
	}
	return e
}

func (e *jsonlEncoder) writeBatch(b *batch) error {
	row := 0
	for _, rn := range b.runs {
		e.series = append(e.series[:0], '{')
		for c := range b.cols {
			if v, ok := b.value(rn.series, c); ok {
				e.series = append(e.series, e.keys[c]...)
				e.series = appendJSONString(e.series, v)
				e.series = append(e.series, ',')
			}
		}
		e.series = append(e.series, `"timestamp":`...)
		for _, t := range b.ts[row : row+int(rn.rows)] {
			e.buf = append(e.buf, e.series...)
			e.buf = strconv.AppendInt(e.buf, t, 10)
			e.buf = append(e.buf, `,"value":`...)
			e.buf = appendJSONValue(e.buf, b.vals[row])
			e.buf = append(e.buf, "}\n"...)
			row++
			if err := e.maybeFlush(); err != nil {
				return err
			}
		}
	}
	return e.flush()
}

func (e *jsonlEncoder) close() error { return e.flush() }

func appendJSONValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Inf"`...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// and U+2028/U+2029 are escaped, as encoding/json does, so any line is valid
// JSON and safe to embed in JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// dayCache formats millisecond timestamps as RFC 3339 in UTC, reusing the
// date part while consecutive samples fall on the same day, which they do
// for nearly every row of a series-major export.
type dayCache struct {
	day    int64
	prefix []byte // "2006-01-02T"
}

const msPerDay = 24 * 60 * 60 * 1000

func newDayCache() dayCache { return dayCache{day: math.MinInt64} }

func (d *dayCache) appendTime(dst []byte, ms int64) []byte {
	day := ms / msPerDay
	rem := ms % msPerDay
	if rem < 0 {
		day--
		rem += msPerDay
	}
	if day != d.day {
		t := time.UnixMilli(day * msPerDay).UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			// Outside RFC 3339's four-digit years: let time spell it out.
			return time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		}
		d.day = day
		d.prefix = t.AppendFormat(d.prefix[:0], "2006-01-02T")
	}
	dst = append(dst, d.prefix...)
	h := rem / 3_600_000
	m := rem / 60_000 % 60
	s := rem / 1000 % 60
	milli := rem % 1000
	return append(dst,
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10), 'Z')
}
