package export

import (
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// batch is one row group's worth of samples, held column by column. Rows are
// series-major: consecutive rows of one series form a run, and the label
// values of a run are stored once, as one dictionary code per label column.
//
// A batch owns all of its memory. Label values are copied into the batch's
// dictionaries, so it keeps no reference to the labels.Labels it was given.
// All slices and maps are reused after reset; the Arrow dictionary arrays
// built from a batch copy the values (see recordBuilder), because the Arrow
// IPC writer keeps the last dictionary it wrote to compare with the next.
type batch struct {
	ts   []int64
	vals []float64
	runs []run

	cols    []labelColumn
	colOf   map[string]int // label name -> index in cols
	codes   []int32        // per series in the batch, one code per column; -1 = absent
	series  int            // series started in this batch
	maxRows int
}

// run is a stretch of consecutive rows belonging to one series.
type run struct {
	series int32 // index of the series in the batch (into codes)
	rows   int32
}

// labelColumn is one label's values in the current batch, as a dictionary.
type labelColumn struct {
	label string           // label name, as in Options.Columns
	index map[string]int32 // value -> code
	dict  []string         // code -> value, in order of first appearance
	size  int              // sum of len(dict[i])
}

func newBatch(columns []string, maxRows int) *batch {
	// Small exports are common (a dashboard panel's worth), so the columns
	// start small and grow by appending up to maxRows.
	initial := min(maxRows, 1024)
	b := &batch{
		ts:      make([]int64, 0, initial),
		vals:    make([]float64, 0, initial),
		cols:    make([]labelColumn, len(columns)),
		colOf:   make(map[string]int, len(columns)),
		maxRows: maxRows,
	}
	for i, name := range columns {
		b.cols[i].label = name
		b.cols[i].index = make(map[string]int32)
		b.colOf[name] = i
	}
	return b
}

// startSeries opens a run for a series with the given labels and reports
// whether the series has labels that are not columns.
func (b *batch) startSeries(lset labels.Labels) (unlisted bool) {
	base := len(b.codes)
	for range b.cols {
		b.codes = append(b.codes, -1)
	}
	lset.Range(func(l labels.Label) {
		c, ok := b.colOf[l.Name]
		if !ok {
			unlisted = true
			return
		}
		b.codes[base+c] = b.cols[c].code(l.Value)
	})
	b.runs = append(b.runs, run{series: int32(b.series)})
	b.series++
	return unlisted
}

// code returns the dictionary code of value, adding it if new. The value is
// cloned because labels may alias memory the series set reuses.
func (c *labelColumn) code(value string) int32 {
	if code, ok := c.index[value]; ok {
		return code
	}
	value = strings.Clone(value)
	code := int32(len(c.dict))
	c.index[value] = code
	c.dict = append(c.dict, value)
	c.size += len(value)
	return code
}

// append adds one sample to the open run; the caller flushes when full.
func (b *batch) append(t int64, v float64) {
	b.ts = append(b.ts, t)
	b.vals = append(b.vals, v)
	b.runs[len(b.runs)-1].rows++
}

func (b *batch) len() int   { return len(b.ts) }
func (b *batch) full() bool { return len(b.ts) >= b.maxRows }

// seriesCodes returns the column codes of series s in the batch.
func (b *batch) seriesCodes(s int32) []int32 {
	n := len(b.cols)
	return b.codes[int(s)*n : int(s)*n+n]
}

// value returns the label value of series s in column c, and whether the
// series has that label.
func (b *batch) value(s int32, c int) (string, bool) {
	code := b.seriesCodes(s)[c]
	if code < 0 {
		return "", false
	}
	return b.cols[c].dict[code], true
}

// reset empties the batch for reuse.
func (b *batch) reset() {
	b.ts = b.ts[:0]
	b.vals = b.vals[:0]
	b.runs = b.runs[:0]
	b.codes = b.codes[:0]
	b.series = 0
	for i := range b.cols {
		c := &b.cols[i]
		clear(c.index)
		clear(c.dict)
		c.dict = c.dict[:0]
		c.size = 0
	}
}
