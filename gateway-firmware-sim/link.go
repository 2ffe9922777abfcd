package gwsim

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// errLinkDown is what reads and writes return after a deliberate link drop.
var errLinkDown = errors.New("gateway uplink dropped")

// errLinkClosed is what writes return once the connection is closed.
var errLinkClosed = errors.New("gateway uplink closed")

// Write coalescing. paho writes every MQTT packet with its own Write, and a
// Write on a TCP socket is a system call: at QoS 0, with one small reading
// per message, those system calls were most of the load generator's CPU
// and left the broker reading one packet per read. linkConn instead copies
// each Write into a pending buffer and a flusher goroutine writes whatever
// has accumulated with one system call. Nothing waits for a timer: the
// flusher is woken by the first Write into an empty buffer, so an idle link
// sends a packet at once, and under load every flush takes what the client
// wrote while the previous one was in the kernel.
const (
	// coalesceLimit is how many bytes may wait for the flusher before
	// Write blocks (a single larger write is still taken whole).
	coalesceLimit = 64 << 10
	// keepBuffer bounds the capacity of a buffer kept for the next flush.
	keepBuffer = 1 << 20
)

// linkConn is the TCP connection under a gateway's MQTT session.
//
// paho ignores read errors that say the connection was closed (it assumes
// its own disconnect), so a link cut by the simulator reports errLinkDown
// instead: paho then notices the loss at once instead of at the next
// keep-alive.
//
// Writes are coalesced (above). A Write returns once its bytes are in the
// pending buffer, so a write error reaches the client on a later Write,
// and a failed flush closes the socket so that the client's reader notices
// at once. Write blocks while the buffer is full, until the flusher takes
// it or the deadline of SetWriteDeadline passes; each flush is bounded by
// the gateway's write timeout. Close sends what is pending (a polite
// MQTT DISCONNECT must reach the broker) before closing; cut does not.
type linkConn struct {
	net.Conn
	down    atomic.Bool
	timeout time.Duration // bound on one flush

	kick    chan struct{} // capacity 1: pending became non-empty, or closing
	room    chan struct{} // capacity 1: the flusher took the pending bytes
	flushed chan struct{} // closed when the flusher exits

	mu struct {
		sync.Mutex
		pend     []byte
		spare    []byte
		err      error // sticky: a failed flush, or the connection closed
		closing  bool
		deadline time.Time // of SetWriteDeadline, for a Write waiting for room
	}
}

func newLinkConn(c net.Conn, timeout time.Duration) *linkConn {
	l := &linkConn{Conn: c, timeout: timeout,
		kick: make(chan struct{}, 1), room: make(chan struct{}, 1), flushed: make(chan struct{})}
	go l.flusher()
	return l
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// cut drops the link as a radio losing its signal would: what is pending
// is lost with it.
func (l *linkConn) cut() {
	l.down.Store(true)
	l.mu.Lock()
	l.mu.pend = l.mu.pend[:0]
	l.mu.closing = true
	l.mu.Unlock()
	signal(l.kick)
	l.Conn.Close()
}

func (l *linkConn) Read(b []byte) (int, error) {
	n, err := l.Conn.Read(b)
	if err != nil && l.down.Load() {
		err = errLinkDown
	}
	return n, err
}

// Write queues b for the flusher.
func (l *linkConn) Write(b []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	l.mu.Lock()
	for {
		if err := l.mu.err; err != nil {
			l.mu.Unlock()
			if l.down.Load() {
				err = errLinkDown
			}
			return 0, err
		}
		if n := len(l.mu.pend); n == 0 || n+len(b) <= coalesceLimit {
			l.mu.pend = append(l.mu.pend, b...)
			l.mu.Unlock()
			if n == 0 {
				signal(l.kick)
			}
			return len(b), nil
		}
		dl := l.mu.deadline
		l.mu.Unlock()
		var expired <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			expired = timer.C
		}
		select {
		case <-l.room:
		case <-l.flushed:
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		}
		l.mu.Lock()
	}
}

// SetWriteDeadline bounds how long a Write may wait for room in the
// pending buffer; the flusher applies its own timeout to the socket.
func (l *linkConn) SetWriteDeadline(t time.Time) error {
	l.mu.Lock()
	l.mu.deadline = t
	l.mu.Unlock()
	return nil
}

func (l *linkConn) SetDeadline(t time.Time) error {
	if err := l.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return l.SetWriteDeadline(t)
}

// Close sends what is pending, within the write timeout, and closes the
// socket.
func (l *linkConn) Close() error {
	l.mu.Lock()
	l.mu.closing = true
	l.mu.Unlock()
	signal(l.kick)
	if l.timeout > 0 {
		t := time.NewTimer(l.timeout)
		select {
		case <-l.flushed:
		case <-t.C:
		}
		t.Stop()
	} else {
		<-l.flushed
	}
	return l.Conn.Close()
}

// flusher writes the pending bytes, one system call per accumulation,
// until the connection is closed or a write fails.
func (l *linkConn) flusher() {
	defer close(l.flushed)
	for {
		l.mu.Lock()
		for len(l.mu.pend) == 0 {
			if l.mu.closing || l.mu.err != nil {
				if l.mu.err == nil {
					l.mu.err = errLinkClosed
				}
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			<-l.kick
			// Let the goroutines that are ready run first: on a busy
			// machine the client writes more meanwhile.
			runtime.Gosched()
			l.mu.Lock()
		}
		buf := l.mu.pend
		l.mu.pend = l.mu.spare[:0]
		l.mu.spare = nil
		l.mu.Unlock()
		signal(l.room)

		var err error
		if l.timeout > 0 {
			err = l.Conn.SetWriteDeadline(time.Now().Add(l.timeout))
		}
		if err == nil {
			_, err = l.Conn.Write(buf)
		}
		if err != nil {
			l.mu.Lock()
			l.mu.err = err
			l.mu.Unlock()
			l.Conn.Close() // the client's reader learns of it now
			return
		}
		if cap(buf) <= keepBuffer {
			l.mu.Lock()
			l.mu.spare = buf[:0]
			l.mu.Unlock()
		}
	}
}
