package forward

import (
	"sync"
	"time"
)

// limiter lets through at most per events a minute: warnings on paths that
// repeat per request are bounded.
type limiter struct {
	per int
	now func() time.Time

	mu     sync.Mutex
	minute int64
	n      int
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{per: perMinute, now: now}
}

func (l *limiter) allow() bool {
	m := l.now().Unix() / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	if m != l.minute {
		l.minute, l.n = m, 0
	}
	l.n++
	return l.n <= l.per
}
