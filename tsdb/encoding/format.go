package encoding

import (
	"errors"
	"fmt"
)

// MaxBlockSamples is the largest number of samples one column may hold.
// Encoders panic when given more (a caller bug: the store cuts blocks at
// this size), and decoders refuse a count above it, which bounds the memory
// a corrupt or hostile column can make a decoder allocate.
const MaxBlockSamples = 8192

// FormatVersion is the column format version this package writes. It is
// carried in the top three bits of every column's marker byte; decoders
// refuse any other version with ErrUnsupported.
const FormatVersion = 1

// ErrCorrupt is wrapped by every error a decoder returns for a column that
// is truncated, inconsistent or otherwise not something an encoder of this
// format version could have written. Callers test for it with errors.Is.
var ErrCorrupt = errors.New("corrupt column")

// ErrUnsupported is wrapped by the error a decoder returns for a column
// written by another format version (usually a newer release of this
// package). The data may be valid; this build cannot read it.
var ErrUnsupported = errors.New("unsupported column format version")

// Marker byte layout: vvvzkkkk. vvv is the format version, z says the body
// is a zstd frame, kkkk is the encoding kind.
const (
	markerVersionShift = 5
	markerZstd         = 0x10
	markerKindMask     = 0x0f
)

// Encoding kinds. Timestamps and values share one numbering so that a
// column handed to the wrong decoder is refused rather than misread.
const (
	kindTSLinear  = 1  // t0, step: t[i] = t0 + i*step
	kindTSDelta   = 2  // t0, FOR(t[i]-t[i-1])
	kindTSDoD     = 3  // t0, d0, FOR(second differences)
	kindTSGrid    = 4  // t0, step in 1/65536 ms, FOR(residuals from the grid)
	kindValConst  = 5  // one float64 bit pattern repeated
	kindDecLinear = 6  // decimal mantissas m0 + i*step
	kindDecFOR    = 7  // decimal mantissas, FOR-packed as they are
	kindDecDelta  = 8  // decimal mantissas, FOR(first differences)
	kindDecDoD    = 9  // decimal mantissas, FOR(second differences)
	kindGorilla   = 10 // XOR of consecutive float64 bit patterns
	kindRaw       = 11 // float64 bit patterns, 8 bytes little-endian each
)

func makeMarker(kind byte, zstd bool) byte {
	m := byte(FormatVersion<<markerVersionShift) | kind
	if zstd {
		m |= markerZstd
	}
	return m
}

// corrupt returns an error that wraps ErrCorrupt with a reason.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// fmtDecodeErr names the column that could not be decoded.
func fmtDecodeErr(column string, err error) error {
	return fmt.Errorf("cannot decode %s: %w", column, err)
}

// corruptWrap returns an error that wraps both ErrCorrupt and the cause
// reported by a library decoder.
func corruptWrap(what string, cause error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, cause)
}
