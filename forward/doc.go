// Package forward delivers what a node stores to other stores by Prometheus
// remote write 1.0: a regional node to the national tier (another Quantrac,
// a VictoriaMetrics cluster, Grafana Mimir, Thanos receive). It keeps
// working while the links are down and delivers everything when they
// return.
//
// # Queue
//
// Every batch the ingest pipeline commits is also appended to one shared,
// durable log (Forwarder.Append, the pipeline.Forwarder seam). Appends join
// a commit group; one committer goroutine writes each group as one record
// and fsyncs it, and only then do the appends' Waiters complete: an
// acknowledged reading is in the store's WAL and in this queue.
//
// Each destination reads the log from its own position (its cursor), so a
// sample is written once however many destinations there are. A
// destination's backlog is bounded in bytes (Destination.MaxQueueBytes):
// past it, the destination drops its oldest undelivered samples, whole
// segments at a time, counts them and logs it; other destinations are not
// affected. A segment is deleted when every destination has persisted a
// cursor past it.
//
// # Delivery
//
// A destination's reader decodes records, keeps the series its match[]
// selectors pick, adds its labels (never replacing one a series has) and
// hands each sample to a shard chosen by the hash of its series, so that
// each series stays in order. Each shard sends one batch while the next
// fills, up to MaxSamplesPerSend samples per request, snappy-compressed.
// Shards are added, up to MaxShards, while a backlog is being delivered.
// 2xx is delivered; 429, 5xx, 401, 403 and network errors are retried for
// ever with exponential backoff and jitter, the queue holding the data
// meanwhile; any other 4xx rejects the batch, which is counted as failed and
// not retried. Delivery is at least once: after a crash, the batches sent
// since the last persisted cursor are sent again; receivers store an
// identical (series, timestamp, value) once.
//
// # On disk (format version 1)
//
//	<dir>/log/00000000000000000001.seg   segments of the shared log
//	<dir>/cursors/<destination>           one cursor per destination
//
// A segment starts with a 16-byte header: "QFWD", the version byte 1, three
// zero bytes, and the u64 little-endian sequence number of its first
// sample. Records follow back to back, each framed as
//
//	u32 LE   body length
//	u32 LE   CRC-32C (Castagnoli) of the body
//	body
//
// and each body is one commit group:
//
//	byte     1 (record version)
//	uvarint  sequence number of the group's first sample
//	varint   append time, Unix milliseconds
//	uvarint  symbol count, then per symbol: uvarint length, bytes
//	uvarint  sample count, then per sample:
//	           uvarint label count, then per label: uvarint name symbol,
//	                   uvarint value symbol (labels sorted by name)
//	           varint  timestamp minus the previous sample's (the first: minus 0)
//	           8 bytes value, IEEE 754 bits, little-endian
//
// A cursor file is 36 bytes: "QFCR", the version byte 1, three zero bytes,
// the u64 LE segment number, byte offset and sequence number of the first
// record not yet acknowledged, and a CRC-32C of the preceding 32 bytes. It
// is replaced by writing a temporary file, fsyncing and renaming it.
//
// Recovery: the newest segment is scanned at open; a torn tail (a frame
// running past the end of the file) is cut off, and records whose checksum
// fails are skipped and counted, there and when a destination reads them.
// This process then writes to a new segment.
package forward
