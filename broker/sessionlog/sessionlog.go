// Package sessionlog is a small durable key-value store for the MQTT
// broker's session state: persistent clients, their subscriptions, the QoS 1
// messages in flight to them and retained messages. It is an append-only log
// of put and delete records, replayed into memory at open, written with group
// commit (every Put and Delete returns once its record is fsynced, and
// concurrent callers share one fsync) and compacted by rewriting the live
// records to a new file that replaces the old one by rename.
//
// The state it holds changes on subscribe, on connect and disconnect of
// persistent sessions and on outbound QoS 1 deliveries: a few writes per
// gateway per connection, never one per reading. Everything is kept in
// memory; a node with 10 000 persistent gateways holds a few megabytes.
//
// File format, version 1 (docs/mqtt.md):
//
//	header  "qsession" (8 bytes), version uint32 little-endian (= 1)
//	record  length uint32 LE | crc32c(payload) uint32 LE | payload
//	payload op byte (1 put, 2 delete) | uvarint key length | key | value
//
// A torn or corrupt tail (a crash mid-append) is cut off at open; records
// before it are kept.
package sessionlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// Version is the file format version written in the header.
const Version = 1

const (
	magic      = "qsession"
	headerSize = len(magic) + 4
	recHdrSize = 8
	opPut      = 1
	opDelete   = 2
	// maxRecord bounds one record: a retained message or an inflight
	// message carries a payload up to the broker's packet size limit.
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("session log closed")

// Options configure a Log.
type Options struct {
	// CompactMinBytes is the least garbage worth a compaction. Default 1 MiB.
	CompactMinBytes int64
}

// Log is an open session log. It is safe for concurrent use.
type Log struct {
	path string
	opts Options

	// mu guards the live state and the records not yet written.
	mu struct {
		sync.Mutex
		live      map[string][]byte
		liveBytes int64  // encoded size of the live records
		pending   []byte // encoded records not yet written
		seq       uint64 // sequence number of the last record appended to pending
		closed    bool
	}

	// wmu serialises writers: the one holding it writes everything pending
	// and fsyncs, so the callers queued behind it usually find their record
	// already durable (group commit). Fields below are guarded by wmu.
	wmu      sync.Mutex
	f        *os.File
	size     int64  // bytes in the file
	synced   uint64 // sequence number of the last durable record
	spare    []byte
	writeErr error // sticky: once a write fails the log refuses further writes
}

// Open opens the log at path, creating it (and its directory) if needed,
// and replays it into memory.
func Open(path string, opts Options) (*Log, error) {
	if opts.CompactMinBytes <= 0 {
		opts.CompactMinBytes = 1 << 20
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create session directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open session log: %w", err)
	}
	l := &Log{path: path, opts: opts, f: f}
	l.mu.live = map[string][]byte{}
	if err := l.load(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// load replays the file, cuts off a torn tail and writes a header into an
// empty file.
func (l *Log) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("cannot read session log: %w", err)
	}
	if len(data) == 0 {
		return l.rewrite(nil)
	}
	rest, err := checkHeader(data)
	if err != nil {
		return fmt.Errorf("session log %s: %w", l.path, err)
	}
	good := Replay(rest, func(op byte, key, value []byte) {
		l.apply(op, string(key), value)
	})
	l.size = int64(headerSize + good)
	if good < len(rest) {
		if err := l.f.Truncate(l.size); err != nil {
			return fmt.Errorf("cannot cut torn tail of session log: %w", err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("cannot fsync session log: %w", err)
		}
	}
	if _, err := l.f.Seek(l.size, io.SeekStart); err != nil {
		return fmt.Errorf("cannot seek session log: %w", err)
	}
	if l.needsCompaction() {
		return l.rewrite(l.snapshot())
	}
	return nil
}

func checkHeader(data []byte) ([]byte, error) {
	if len(data) < headerSize || string(data[:len(magic)]) != magic {
		return nil, errors.New("not a session log (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(data[len(magic):]); v != Version {
		return nil, fmt.Errorf("unsupported session log version %d (this build reads %d)", v, Version)
	}
	return data[headerSize:], nil
}

// Replay decodes the records of data (the file after its header) in order,
// calling fn for each, and returns how many bytes held whole, valid records.
// Decoding stops at the first short or corrupt record. fn's slices alias
// data.
func Replay(data []byte, fn func(op byte, key, value []byte)) (good int) {
	for {
		op, key, value, rest, err := decodeRecord(data[good:])
		if err != nil {
			return good
		}
		fn(op, key, value)
		good = len(data) - len(rest)
	}
}

var errShort = errors.New("short record")

// decodeRecord decodes one record from b and returns the unread tail.
func decodeRecord(b []byte) (op byte, key, value, rest []byte, err error) {
	if len(b) < recHdrSize {
		return 0, nil, nil, b, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	sum := binary.LittleEndian.Uint32(b[4:])
	if n > maxRecord || uint64(len(b)-recHdrSize) < uint64(n) {
		return 0, nil, nil, b, errShort
	}
	p := b[recHdrSize : recHdrSize+int(n)]
	if crc32.Checksum(p, castagnoli) != sum {
		return 0, nil, nil, b, errors.New("record checksum mismatch")
	}
	if len(p) < 1 || (p[0] != opPut && p[0] != opDelete) {
		return 0, nil, nil, b, errors.New("bad record op")
	}
	klen, k := binary.Uvarint(p[1:])
	if k <= 0 || k != uvarintLen(klen) || klen > uint64(len(p)-1-k) {
		return 0, nil, nil, b, errors.New("bad record key length")
	}
	ks := 1 + k
	return p[0], p[ks : ks+int(klen)], p[ks+int(klen):], b[recHdrSize+int(n):], nil
}

// appendRecord appends one encoded record to dst.
func appendRecord(dst []byte, op byte, key string, value []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recHdrSize)...)
	dst = append(dst, op)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = append(dst, value...)
	p := dst[start+recHdrSize:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(p)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(p, castagnoli))
	return dst
}

func recordSize(key string, value []byte) int64 {
	return int64(recHdrSize + 1 + uvarintLen(uint64(len(key))) + len(key) + len(value))
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// apply changes the live state. The caller holds mu (or owns l alone).
func (l *Log) apply(op byte, key string, value []byte) {
	if old, ok := l.mu.live[key]; ok {
		l.mu.liveBytes -= recordSize(key, old)
		delete(l.mu.live, key)
	}
	if op == opPut {
		v := append([]byte(nil), value...)
		l.mu.live[key] = v
		l.mu.liveBytes += recordSize(key, v)
	}
}

// Put stores value under key and returns once the record is fsynced. The
// log keeps a copy of value.
func (l *Log) Put(key string, value []byte) error { return l.write(opPut, key, value) }

// Delete removes key and returns once the record is fsynced. Deleting a key
// that is not there writes nothing.
func (l *Log) Delete(key string) error {
	l.mu.Lock()
	_, ok := l.mu.live[key]
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return l.write(opDelete, key, nil)
}

func (l *Log) write(op byte, key string, value []byte) error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.apply(op, key, value)
	l.mu.pending = appendRecord(l.mu.pending, op, key, value)
	l.mu.seq++
	seq := l.mu.seq
	l.mu.Unlock()
	return l.sync(seq)
}

// sync makes every record up to seq durable.
func (l *Log) sync(seq uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.writeErr != nil {
		return l.writeErr
	}
	if l.synced >= seq {
		return nil // a writer ahead of us wrote and fsynced our record
	}
	l.mu.Lock()
	buf, upto := l.mu.pending, l.mu.seq
	l.mu.pending = l.spare[:0]
	var snap []byte
	if l.needsCompaction() {
		snap = l.snapshot() // includes everything pending
	}
	l.mu.Unlock()
	l.spare = buf

	var err error
	if snap != nil {
		err = l.rewrite(snap)
	} else {
		err = l.append(buf)
	}
	if err != nil {
		l.writeErr = err
		return err
	}
	l.synced = upto
	return nil
}

func (l *Log) append(buf []byte) error {
	if _, err := l.f.Write(buf); err != nil {
		return fmt.Errorf("cannot append to session log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("cannot fsync session log: %w", err)
	}
	l.size += int64(len(buf))
	return nil
}

// needsCompaction reports whether the file holds enough dead records to be
// worth rewriting. The caller holds mu (or owns l alone).
func (l *Log) needsCompaction() bool {
	return l.size+int64(len(l.mu.pending)) > 2*l.mu.liveBytes+l.opts.CompactMinBytes
}

// snapshot encodes the live records in key order. The caller holds mu.
func (l *Log) snapshot() []byte {
	keys := make([]string, 0, len(l.mu.live))
	for k := range l.mu.live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := make([]byte, 0, l.mu.liveBytes)
	for _, k := range keys {
		buf = appendRecord(buf, opPut, k, l.mu.live[k])
	}
	return buf
}

// rewrite replaces the file with a header and records: a temporary file is
// written, fsynced and renamed over the log, then the directory is fsynced.
func (l *Log) rewrite(records []byte) error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create session log: %w", err)
	}
	hdr := make([]byte, headerSize, headerSize+len(records))
	copy(hdr, magic)
	binary.LittleEndian.PutUint32(hdr[len(magic):], Version)
	if _, err := f.Write(append(hdr, records...)); err != nil {
		f.Close()
		return fmt.Errorf("cannot write session log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot fsync session log: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		f.Close()
		return fmt.Errorf("cannot replace session log: %w", err)
	}
	if err := fsutil.SyncDir(filepath.Dir(l.path)); err != nil {
		f.Close()
		return err
	}
	l.f.Close()
	l.f = f
	l.size = int64(headerSize + len(records))
	return nil
}

// Has reports whether key is stored.
func (l *Log) Has(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.mu.live[key]
	return ok
}

// HasKey is Has for a key in bytes; it does not allocate.
func (l *Log) HasKey(key []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.mu.live[string(key)]
	return ok
}

// Scan calls fn for every key with the given prefix, in no particular order.
// value is the log's own copy: fn must not modify or keep it.
func (l *Log) Scan(prefix string, fn func(key string, value []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.mu.live {
		if strings.HasPrefix(k, prefix) {
			fn(k, v)
		}
	}
}

// Len returns the number of live keys.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.live)
}

// Close writes what is pending and closes the file. Writes after Close
// return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	seq := l.mu.seq
	l.mu.Unlock()
	err := l.sync(seq)
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("cannot close session log: %w", cerr)
	}
	return err
}
