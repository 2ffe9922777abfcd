package tsdb

// SeriesRef identifies a series in one store. Refs are assigned in creation
// order starting at 1, are never reused, and are persisted: a ref in the WAL
// or in a part names the same series after a restart.
type SeriesRef uint64

// Batch is a columnar group of samples on their way into the store: sample i
// is (Refs[i], Ts[i], Vals[i]). The ingest pipeline fills one batch per
// message from a pool and hands it to DB.Append, which copies the columns;
// the batch may be reset and reused as soon as Append returns.
type Batch struct {
	Refs []SeriesRef
	Ts   []int64 // Unix milliseconds
	Vals []float64
}

// Add appends one sample.
func (b *Batch) Add(ref SeriesRef, ts int64, v float64) {
	b.Refs = append(b.Refs, ref)
	b.Ts = append(b.Ts, ts)
	b.Vals = append(b.Vals, v)
}

// Len returns the number of samples in the batch.
func (b *Batch) Len() int { return len(b.Refs) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	b.Refs, b.Ts, b.Vals = b.Refs[:0], b.Ts[:0], b.Vals[:0]
}
