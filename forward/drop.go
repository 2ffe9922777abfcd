package forward

// The full-queue policy. A destination's backlog is the log from its
// watermark to the head. When the maintenance loop finds it larger than
// MaxQueueBytes, the destination drops its oldest undelivered samples: every
// sender abandons its batch once its request in flight has been answered
// (or timed out), and the reader resumes at the start of the oldest segment
// from which the rest of the log fits the bound, or where it was if that is
// further. The samples skipped and abandoned are counted as dropped and
// logged. Other destinations are not affected: the segments stay on disk
// until every destination has passed them.
//
// The count is exact however many senders there are: a sample a sender
// delivered is neither counted nor sent again. One approximation remains,
// written in docs/deployment.md: with match[] selectors, the samples of
// segments skipped before the reader reached them count as dropped whether
// or not the selectors would have picked them.

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
// from taking the watermark to resuming, so that the maintenance loop never
// persists a watermark that skips samples the policy did not drop.
func (d *destination) drop() {
	// A batch whose request succeeded as the drop was asked for is
	// delivered: the watermark is taken once every sender has settled, so
	// that it is neither counted as dropped nor sent again. Settling may
	// wait for a request in flight, so it is done before taking mu, which
	// the maintenance loop needs for every destination.
	for _, s := range d.shards {
		s.settle()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	from, _ := d.watermarkLocked()
	target := d.ql.dropTarget(from, d.opts.MaxQueueBytes)
	_, before := d.ql.backlog(from)
	// The reader resumes at target, or at the record it was in if that is
	// further: going back would send again what the senders delivered after
	// the watermark. It then passes over the samples it had handed over.
	// What is lost is exact: the samples the shards held, and those never
	// handed over, up to target.
	read := d.mu.readPos
	resume := target
	if target.before(read) {
		resume = read
	}
	var n int64
	for _, s := range d.shards {
		n += s.discard(d.handed)
	}
	n += int64(target.Seq - min(target.Seq, d.handed))
	d.handed = max(d.handed, resume.Seq)
	d.skip = d.handed
	d.mu.readPos, d.rdr.pos = resume, resume
	d.mu.dropping = false
	d.newEpoch()
	for _, s := range d.shards {
		s.wake() // senders wait out a cancelled epoch
	}
	d.stats.dropped.Add(n)
	if d.warn.allow() {
		d.log.Warn("forward queue full; the oldest undelivered samples are dropped for this destination",
			"samples_dropped", n, "backlog_bytes", before, "max_queue_bytes", d.opts.MaxQueueBytes,
			"dropped_total", d.stats.dropped.Load(), "resume_segment", resume.Segment)
	}
}
