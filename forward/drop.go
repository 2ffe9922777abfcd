package forward

// The full-queue policy. A destination's backlog is the log from its
// watermark to the head. When the maintenance loop finds it larger than
// MaxQueueBytes, the destination drops its oldest undelivered samples: every
// sender abandons its batch, and the reader resumes at the start of the
// oldest segment from which the rest of the log fits the bound. The samples
// skipped are counted as dropped and logged. Other destinations are not
// affected: the segments stay on disk until every destination has passed
// them.
//
// The count is exact with one sender. With several, it runs from the
// oldest sample any sender still holds, and samples another sender had
// delivered after that point are counted too: it is then an upper bound on
// what was lost, as docs/deployment.md says.

// requestDrop asks the reader to drop the oldest part of the backlog.
func (d *destination) requestDrop() {
	d.mu.Lock()
	if d.mu.dropping {
		d.mu.Unlock()
		return
	}
	d.mu.dropping = true
	d.mu.Unlock()
	d.epoch.Load().cancel()
	for _, s := range d.shards {
		s.wake()
	}
}

// drop runs on the reader goroutine once the epoch is cancelled. It holds mu
// throughout, so that the maintenance loop never persists a watermark that
// skips samples the policy did not drop.
func (d *destination) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A batch whose request succeeded as the drop was asked for is
	// delivered: the watermark is taken once every sender has settled, so
	// that it is neither counted as dropped nor sent again.
	for _, s := range d.shards {
		s.settle()
	}
	from, _ := d.watermarkLocked()
	for _, s := range d.shards {
		s.discard()
	}
	target := d.ql.dropTarget(from, d.opts.MaxQueueBytes)
	_, before := d.ql.backlog(from)
	d.mu.readPos, d.rdr.pos = target, target
	d.mu.dropping = false
	d.newEpoch()
	for _, s := range d.shards {
		s.wake() // senders wait out a cancelled epoch
	}
	n := int64(target.Seq - min(target.Seq, from.Seq))
	d.stats.dropped.Add(n)
	if d.warn.allow() {
		d.log.Warn("forward queue full; the oldest undelivered samples are dropped for this destination",
			"samples_dropped", n, "backlog_bytes", before, "max_queue_bytes", d.opts.MaxQueueBytes,
			"dropped_total", d.stats.dropped.Load(), "resume_segment", target.Segment)
	}
}
