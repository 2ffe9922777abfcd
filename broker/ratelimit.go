package broker

import (
	"sync"
	"time"
)

// rateLimiter is a token bucket: it holds up to burst tokens and gains rate
// tokens a second; each publish spends one. A gateway's limiter outlives its
// connections (a reconnect does not refill it) and survives a reload that
// leaves the gateway unchanged.
type rateLimiter struct {
	rate, burst float64

	// mu guards the bucket. A gateway has one connection at a time, so it
	// is uncontended but for a takeover.
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newRateLimiter returns a full bucket, or nil (no limit) for a
// non-positive rate.
func newRateLimiter(rate float64, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	return &rateLimiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// refill adds the tokens earned since the last call. The caller holds mu.
func (l *rateLimiter) refill(now time.Time) {
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
}

// take spends a token if there is one, and reports whether it did. A nil
// limiter always allows.
func (l *rateLimiter) take(now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(now)
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// reserve spends a token, borrowing it from the future if the bucket is
// empty, and returns how long the caller must wait before going on: at most
// one token's worth (1/rate) for a single publisher.
func (l *rateLimiter) reserve(now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(now)
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}
