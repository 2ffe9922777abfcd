package part

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/quantrac/quantrac/tsdb/encoding"
)

// Codec holds what reading and writing parts needs: the column codec and a
// zstd encoder and decoder for index blocks. It is safe for concurrent use;
// a store makes one and shares it between its flusher, merger and queries.
type Codec struct {
	cols *encoding.Codec
	zenc *zstd.Encoder
	zdec *zstd.Decoder
}

// NewCodec returns a Codec. Close releases it.
func NewCodec() (*Codec, error) {
	cols, err := encoding.NewCodec(encoding.Options{})
	if err != nil {
		return nil, fmt.Errorf("cannot create column codec: %w", err)
	}
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd encoder: %w", err)
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2),
		zstd.WithDecoderMaxMemory(maxIndexBlock))
	if err != nil {
		zenc.Close()
		return nil, fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	return &Codec{cols: cols, zenc: zenc, zdec: zdec}, nil
}

// Quick returns a view of c whose column codec is cols.Quick(), for head
// flushes; it shares c's coders, so only c is closed.
func (c *Codec) Quick() *Codec {
	return &Codec{cols: c.cols.Quick(), zenc: c.zenc, zdec: c.zdec}
}

// Draft returns a view of c whose column codec is cols.Draft(), for
// merges of a partition still being written; it shares c's coders.
func (c *Codec) Draft() *Codec {
	return &Codec{cols: c.cols.Draft(), zenc: c.zenc, zdec: c.zdec}
}

// Columns returns the column codec, for callers that encode or decode
// blocks themselves (benchmarks, the inspect tool).
func (c *Codec) Columns() *encoding.Codec { return c.cols }

// Close releases the zstd state.
func (c *Codec) Close() {
	c.zenc.Close()
	c.zdec.Close()
}
