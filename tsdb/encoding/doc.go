// Package encoding holds the block codecs of the store: it turns one block of
// one series, a run of at most MaxBlockSamples samples, into two byte
// columns (timestamps and values) and back.
//
// Each column is self-describing: it starts with a marker byte that names
// the format version and the encoding, followed by the sample count and an
// encoding-specific body, optionally compressed with zstd. For every block
// the encoder tries the cheap candidate encodings, keeps the smallest, and
// tries zstd on top of it. The byte layout and the selection rules are
// specified in docs/encoding.md.
//
// The codecs are append-style: encoders append to dst and return the
// extended slice; decoders append to dst and return it, so a caller reuses
// a buffer by passing buf[:0]. A Codec holds the zstd state and is safe for
// concurrent use; the store keeps one for its lifetime.
package encoding
