package broker

import (
	"context"
	"log/slog"
	"sync"
)

// throttledHandler passes at most a set number of warnings and errors a
// second to the handler it wraps, and notes on the next one let through how
// many it dropped. Lower levels pass untouched: they are off in production.
// The broker gives it to mochi, whose per-client warnings would otherwise
// let any client on the network write to the log as fast as it connects.
type throttledHandler struct {
	slog.Handler
	t *logThrottle // shared by the handlers WithAttrs and WithGroup derive
}

type logThrottle struct {
	per int64
	// mu guards the counts of the current second.
	mu         sync.Mutex
	sec        int64
	n          int64
	suppressed int64
}

func newThrottledLogger(l *slog.Logger, perSecond int) *slog.Logger {
	return slog.New(throttledHandler{Handler: l.Handler(), t: &logThrottle{per: int64(perSecond)}})
}

func (t *logThrottle) allow(sec int64) (ok bool, suppressed int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if sec != t.sec {
		t.sec, t.n = sec, 0
	}
	if t.n >= t.per {
		t.suppressed++
		return false, 0
	}
	t.n++
	suppressed, t.suppressed = t.suppressed, 0
	return true, suppressed
}

func (h throttledHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		ok, suppressed := h.t.allow(r.Time.Unix())
		if !ok {
			return nil
		}
		if suppressed > 0 {
			r = r.Clone()
			r.AddAttrs(slog.Int64("suppressed_before", suppressed))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h throttledHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return throttledHandler{Handler: h.Handler.WithAttrs(as), t: h.t}
}

func (h throttledHandler) WithGroup(name string) slog.Handler {
	return throttledHandler{Handler: h.Handler.WithGroup(name), t: h.t}
}
