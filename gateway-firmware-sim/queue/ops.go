package queue

import (
	"fmt"
)

// Dropped reports what an Append dropped to make room.
type Dropped struct {
	Records int64
	Weight  int64
	// Below is the new head: every record numbered below it has left the
	// queue. A consumer holding such a record (handed out by Next, not yet
	// acknowledged) learns here that the queue no longer has it.
	Below uint64
}

// Append adds a record of the given weight at the tail and returns its
// index. If the queue would exceed MaxBytes, records are dropped from the
// head first, oldest first (acknowledged records leave without counting as
// drops). The record is durable after the next Sync. payload is copied.
func (q *Queue) Append(weight uint32, payload []byte) (uint64, Dropped, error) {
	size := int64(recordHeaderSize + len(payload))
	if size > q.opts.MaxBytes || size > 1<<31 {
		return 0, Dropped{}, fmt.Errorf("cannot append %d-byte record: %w", len(payload), ErrTooLarge)
	}
	var d Dropped
	for q.stats.Bytes+size > q.opts.MaxBytes {
		if q.head >= q.next {
			panic("BUG: queue: bytes counted in an empty queue")
		}
		r, w := q.dropHead()
		d.Records += r
		d.Weight += w
	}
	d.Below = q.head
	if err := q.removePassedSegments(); err != nil {
		return 0, d, err
	}
	if err := q.prepareAppend(size); err != nil {
		return 0, d, err
	}
	seg := q.segs[len(q.segs)-1]
	q.scratch = appendRecord(q.scratch[:0], weight, payload)
	if _, err := q.active.WriteAt(q.scratch, seg.size); err != nil {
		// Whatever part reached the file is past seg.size and will be
		// overwritten by the next append or cut off by the next Open.
		return 0, d, fmt.Errorf("cannot write queue record: %w", err)
	}
	seg.offs = append(seg.offs, uint32(seg.size))
	seg.weights = append(seg.weights, weight)
	seg.size += size
	idx := q.next
	q.next++
	q.dataDirty = true
	q.stats.Records++
	q.stats.Weight += int64(weight)
	q.stats.Bytes += size
	return idx, d, nil
}

// prepareAppend makes sure the active segment can take size more bytes.
func (q *Queue) prepareAppend(size int64) error {
	if len(q.segs) == 0 {
		return q.createSegment()
	}
	last := q.segs[len(q.segs)-1]
	if last.end() != q.next || (len(last.offs) > 0 && last.size+size > q.opts.SegmentBytes) {
		return q.createSegment()
	}
	if q.active == nil {
		return q.openActive()
	}
	return nil
}

// dropHead removes the head record and returns what was dropped: nothing if
// it had already been acknowledged.
func (q *Queue) dropHead() (records, weight int64) {
	if _, ok := q.acked[q.head]; ok {
		delete(q.acked, q.head)
	} else if seg, i := q.locate(q.head); seg != nil {
		records, weight = 1, int64(seg.weights[i])
		q.forget(seg, i)
		q.stats.DroppedRecords++
		q.stats.DroppedWeight += weight
	}
	q.advanceHead()
	return records, weight
}

// forget takes record i of seg out of the live statistics.
func (q *Queue) forget(seg *segment, i int) {
	q.stats.Records--
	q.stats.Weight -= int64(seg.weights[i])
	q.stats.Bytes -= seg.recordSize(i)
}

// advanceHead moves the head past one record, over any gap between
// segments, and over records acknowledged out of order.
func (q *Queue) advanceHead() {
	q.head++
	for {
		if len(q.segs) > 0 {
			for _, s := range q.segs {
				if q.head < s.base {
					q.head = s.base // records in the gap were lost to corruption
				}
				if q.head < s.end() {
					break
				}
			}
		}
		if _, ok := q.acked[q.head]; !ok || q.head >= q.next {
			break
		}
		delete(q.acked, q.head)
		q.head++
	}
	q.head = min(q.head, q.next)
	q.read = max(q.read, q.head)
}

// locate returns the segment holding record idx and its position in it, or
// nil if no segment has it.
func (q *Queue) locate(idx uint64) (*segment, int) {
	for _, s := range q.segs {
		if idx >= s.base && idx < s.end() {
			return s, int(idx - s.base)
		}
	}
	return nil, 0
}

// removePassedSegments deletes segment files whose records have all left
// the queue. The active segment is kept so appends go on in it.
func (q *Queue) removePassedSegments() error {
	for len(q.segs) > 1 && q.segs[0].end() <= q.head {
		if q.readFile != nil && q.readFileSeg == q.segs[0].base {
			q.readFile.Close()
			q.readFile = nil
		}
		if err := q.removeFile(q.segmentPath(q.segs[0].base)); err != nil {
			return err
		}
		q.segs = q.segs[1:]
	}
	return nil
}

// Next returns the oldest record not yet handed out since the last Rewind:
// its index, weight and payload. The payload aliases dst (grown as needed)
// and stays valid until dst is reused. ok is false when every queued record
// has been handed out. A record whose checksum fails is skipped and counted
// as corrupt.
func (q *Queue) Next(dst []byte) (idx uint64, weight uint32, payload []byte, ok bool, err error) {
	for q.read < q.next {
		idx = q.read
		q.read++
		if _, done := q.acked[idx]; done {
			continue
		}
		seg, i := q.locate(idx)
		if seg == nil {
			continue // lost in a gap
		}
		payload, ok, err = q.readRecord(seg, i, dst)
		if err != nil {
			q.read--
			return 0, 0, nil, false, err
		}
		if !ok {
			q.opts.Logger.Warn("queue record failed its checksum; skipping it", "index", idx)
			q.stats.Corrupt++
			q.forget(seg, i)
			q.acked[idx] = struct{}{} // leaves with the head like an acknowledged one
			if idx == q.head {
				q.Ack(idx)
			}
			continue
		}
		return idx, seg.weights[i], payload, true, nil
	}
	return 0, 0, nil, false, nil
}

// Ack removes record idx from the queue: its consumer has delivered it. It
// reports false if the record had already left (dropped or acknowledged).
// Acknowledgements may come in any order; the head moves past a record only
// when everything before it has left.
func (q *Queue) Ack(idx uint64) bool {
	if idx < q.head || idx >= q.next {
		return false
	}
	if _, dup := q.acked[idx]; dup && idx != q.head {
		return false
	}
	if seg, i := q.locate(idx); seg != nil {
		if _, dup := q.acked[idx]; !dup {
			q.forget(seg, i)
		}
	}
	if idx != q.head {
		q.acked[idx] = struct{}{}
		return true
	}
	delete(q.acked, idx)
	q.advanceHead()
	// A failed removal leaves a file that the next Open deletes.
	_ = q.removePassedSegments()
	return true
}

// Rewind makes Next start again from the oldest record in the queue: the
// consumer lost its connection and must resend what it did not get
// acknowledged.
func (q *Queue) Rewind() { q.read = q.head }

// Head returns the index of the oldest record in the queue.
func (q *Queue) Head() uint64 { return q.head }

// Len returns the number of unacknowledged records in the queue.
func (q *Queue) Len() int64 { return q.stats.Records }
