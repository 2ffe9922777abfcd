package forward

import (
	"context"
	"sync"
)

// shard is one parallel sender of a destination. The reader fills one batch
// while the sender sends the other: at most two batches per shard, so a
// destination holds a bounded amount of memory however large its backlog.
// A series always goes to the same shard (by the hash of its labels) and a
// shard sends its batches in order, so each series' samples arrive in log
// order.
type shard struct {
	d *destination

	// mu guards the fields below; cond signals both ways: to the sender
	// that a batch is ready, to the reader that the filling batch was taken
	// or that the sender is idle.
	mu      sync.Mutex
	cond    *sync.Cond
	filling *batch
	spare   *batch // nil while the sender holds it
	busy    bool   // the sender holds a batch
	// sendingFirst and sendingMs describe the batch being sent, for the
	// acknowledgement watermark and the oldest-sample age.
	sendingFirst Position
	sendingMs    int64
	// parked is a batch the sender abandoned when its epoch was cancelled.
	// It stays pending, holding the watermark back, until the reader's drop
	// discards it and counts its samples as dropped, so an
	// abandoned batch must not vanish before.
	parked *batch
	flush  bool // send a partial batch: the reader is caught up
	stop   bool
}

func newShard(d *destination) *shard {
	s := &shard{d: d, filling: newBatch(), spare: newBatch()}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// add puts one sample in the filling batch, waiting while that batch is
// full and the sender still holds the other. It returns false, having
// added nothing, when ctx is done.
func (s *shard) add(ctx context.Context, at Position, appendMs int64, lbls []byte, h, seq uint64, ts int64, v float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.filling.len() >= s.d.opts.MaxSamplesPerSend {
		if ctx.Err() != nil || s.stop {
			return false
		}
		s.cond.Wait()
	}
	s.filling.add(at, appendMs, lbls, h, seq, ts, v)
	if s.filling.len() >= s.d.opts.MaxSamplesPerSend {
		s.cond.Broadcast()
	}
	return true
}

// setFlush tells the sender whether to send partial batches.
func (s *shard) setFlush(on bool) {
	s.mu.Lock()
	s.flush = on
	if on {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

// pending returns the oldest position the shard has not delivered, and the
// append time of its record.
func (s *shard) pending() (Position, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.busy:
		return s.sendingFirst, s.sendingMs, true
	case s.filling.len() > 0:
		return s.filling.first, s.filling.firstMs, true
	}
	return Position{}, 0, false
}

// settle waits until the sender has finished or parked its batch. The
// sender must already have been told to abandon it (the epoch's context is
// cancelled), and takes no other while the epoch stays cancelled: after
// settle, what the shard holds is undelivered, and stays put.
func (s *shard) settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy && s.parked == nil && !s.stop {
		s.cond.Wait()
	}
}

// discard forgets the shard's batches (a drop), after settle, and returns
// how many of their samples have a sequence number below lost: those the
// reader will not read again.
func (s *shard) discard(lost uint64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.filling.countBefore(lost)
	s.filling.reset()
	s.flush = false
	if b := s.parked; b != nil {
		n += b.countBefore(lost)
		b.reset()
		s.spare, s.parked, s.busy = b, nil, false
		s.cond.Broadcast()
	}
	return n
}

// waitIdle waits until the shard has nothing pending, or ctx is done. The
// caller has asked for a flush.
func (s *shard) waitIdle(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy || s.filling.len() > 0 {
		if ctx.Err() != nil || s.stop {
			return false
		}
		s.cond.Wait()
	}
	return true
}

// wake wakes every goroutine waiting on the shard, so that they look at
// their context again.
func (s *shard) wake() {
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *shard) halt() {
	s.mu.Lock()
	s.stop = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// run is the sender goroutine: it takes a batch when one is full, or when
// the reader is caught up, and delivers it, retrying as the destination's
// policy says. It takes nothing while the epoch is cancelled.
func (s *shard) run(done *sync.WaitGroup) {
	defer done.Done()
	for {
		s.mu.Lock()
		for !s.stop && (s.filling.len() == 0 ||
			!s.flush && s.filling.len() < s.d.opts.MaxSamplesPerSend ||
			s.d.epochContext().Err() != nil) {
			s.cond.Wait()
		}
		if s.stop {
			s.mu.Unlock()
			return
		}
		b := s.filling
		s.filling, s.spare = s.spare, nil
		s.busy, s.sendingFirst, s.sendingMs = true, b.first, b.firstMs
		ctx := s.d.epochContext()
		s.cond.Broadcast()
		s.mu.Unlock()

		finished := s.d.deliver(ctx, b)

		s.mu.Lock()
		if !finished {
			s.parked = b
			s.cond.Broadcast()
			for s.parked != nil && !s.stop {
				s.cond.Wait()
			}
			s.mu.Unlock()
			continue
		}
		b.reset()
		s.spare, s.busy = b, false
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}
