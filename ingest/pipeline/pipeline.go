package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/lineproto"
	"github.com/quantrac/quantrac/tsdb"
)

// Identity is who sent a message, established by authentication (or, in
// development mode, by the topic). Province and gateway labels come from here
// and never from the payload.
type Identity struct {
	Province string
	Gateway  string
}

// Format names a payload format; the topic names it, the pipeline never
// guesses.
type Format uint8

// Payload formats.
const (
	FormatJSON Format = iota + 1
	FormatLineProtocol
	FormatSparkplug
	FormatRemoteWrite // Prometheus remote write 1.0, over HTTP
	numFormats
)

// Message is one payload to ingest.
type Message struct {
	Identity
	Format Format
	// Topic is the full topic the payload came on; Sparkplug reads the
	// message type and device id from it.
	Topic string
	// Payload is kept by no one after Ingest returns: readings are copied
	// into columns as numbers.
	Payload []byte
	// Relay, when set, marks a trusted upstream feed rather than a gateway:
	// another node forwarding by remote write. Each series then carries its
	// own province and gateway labels, and Relay must allow the province;
	// Identity only names the relay in the counters.
	Relay RelayScope
	// Precision is the unit of line-protocol timestamps; the zero value is
	// nanoseconds, what Telegraf sends over MQTT.
	Precision lineproto.Precision
}

// RelayScope says which provinces a relay may write.
type RelayScope interface {
	Allows(province string) bool
}

// Decoder decodes one payload format. A decoder is used by one message at a
// time; the pipeline pools them.
type Decoder interface {
	Decode(msg *Message, now time.Time, sink ingest.Sink) (Outcome, error)
}

// PayloadError is a whole message refused, with the reason gateways see:
// a decoder's refusal as it is, or the pipeline's own (an unknown format or
// topic). It is ingest's type, named here for the pipeline's callers.
type PayloadError = ingest.PayloadError

// Result says what became of a message's readings.
type Result struct {
	Accepted int // samples committed (or queued, when not durable)
	Rejected int // readings or fields skipped
	// FirstReason and FirstError describe the first skipped reading, for the
	// gateway's error topic. FirstError is nil when nothing was skipped.
	FirstReason ingest.Reason
	FirstError  error
	// Rebirth asks for a Sparkplug rebirth request to the edge node.
	Rebirth bool
}

// Pipeline turns messages into committed samples. It is safe for concurrent
// use: each publisher's goroutine calls Ingest directly.
type Pipeline struct {
	opts     Options
	log      *slog.Logger
	cache    *seriesCache
	tagSets  tagSets
	gateways statsTable
	pool     sync.Pool // *msgState
	logLimit limiter

	newDecoder [numFormats]func() Decoder

	series atomic.Int64 // series created through this pipeline
}

// New returns a pipeline over opts.Store, with the decoders of the built-in
// formats registered.
func New(opts Options) (*Pipeline, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{
		opts:     opts,
		log:      opts.Logger,
		cache:    newSeriesCache(),
		gateways: statsTable{m: map[string]*GatewayStats{}},
		logLimit: limiter{per: int64(opts.LogsPerSecond)},
	}
	p.pool.New = func() any { return &msgState{p: p} }
	if err := p.registerBuiltin(); err != nil {
		return nil, err
	}
	return p, nil
}

// Register sets the decoder constructor for a format, replacing the built-in
// one. It must be called before Ingest is used.
func (p *Pipeline) Register(f Format, newDecoder func() Decoder) {
	p.newDecoder[f] = newDecoder
}

// ErrUnknownFormat is returned for a message in a format with no decoder.
var ErrUnknownFormat = errors.New("no decoder for this payload format")

// Ingest decodes msg and commits its readings. With durable set it returns
// only once they are in the fsynced WAL; otherwise once they are queued for
// the next commit group (which may block while the store catches up).
//
// A *PayloadError means the whole message was refused; any other error means
// the store could not take the readings, and none of them may be
// acknowledged.
func (p *Pipeline) Ingest(msg *Message, durable bool) (Result, error) {
	st := p.pool.Get().(*msgState)
	defer p.pool.Put(st)
	st.begin(msg, p.opts.Now())
	defer st.done()

	if int(msg.Format) >= len(p.newDecoder) || p.newDecoder[msg.Format] == nil {
		return Result{}, &PayloadError{Reason: ingest.ReasonTopic, Err: ErrUnknownFormat}
	}
	dec := st.decoders[msg.Format]
	if dec == nil {
		dec = p.newDecoder[msg.Format]()
		st.decoders[msg.Format] = dec
	}
	st.gw.Messages.Add(1)
	out, err := dec.Decode(msg, st.now, st)
	if st.prev != nil && st.gw.last.Load() != st.prev {
		st.gw.last.Store(st.prev)
	}
	if err != nil {
		st.gw.RefusedMessages.Add(1)
		var pe *PayloadError
		if !errors.As(err, &pe) {
			pe = &PayloadError{Reason: ingest.ReasonSyntax, Err: err}
		}
		st.gw.Rejected[pe.Reason].Add(1)
		p.warn("message refused", msg, "reason", pe.Reason.String(), "err", err)
		return Result{Rejected: 1, FirstReason: pe.Reason, FirstError: pe.Err, Rebirth: out.Rebirth}, pe
	}
	res := Result{Accepted: st.batch.Len(), Rejected: st.rejected, FirstReason: st.firstReason,
		FirstError: st.firstErr, Rebirth: out.Rebirth}
	if st.rejected > 0 {
		p.warn("readings refused", msg, "rejected", st.rejected, "reason", st.firstReason.String(), "err", st.firstErr)
	}
	if st.batch.Len() == 0 {
		return res, nil
	}
	c, err := p.opts.Store.Append(&st.batch)
	var fw Waiter
	if err == nil && p.opts.Forwarder != nil {
		fw, err = p.opts.Forwarder.Append(st.lsets, st.batch.Ts, st.batch.Vals)
	}
	if err == nil && durable {
		err = c.Wait()
		if err == nil && fw != nil {
			err = fw.Wait()
		}
	}
	if err != nil {
		return Result{Rejected: res.Rejected}, fmt.Errorf("cannot commit %d readings: %w", res.Accepted, err)
	}
	st.gw.Readings.Add(int64(res.Accepted))
	return res, nil
}

func (p *Pipeline) warn(msg string, m *Message, args ...any) {
	if !p.logLimit.allow(time.Now().Unix()) {
		return
	}
	p.log.Warn(msg, append([]any{"province", m.Province, "gateway", m.Gateway, "topic", m.Topic}, args...)...)
}

// Gateways returns every gateway's counters, ordered by province and gateway.
// The counters are live: read them with Load.
func (p *Pipeline) Gateways() []*GatewayStats { return p.gateways.all() }

// SeriesCreated returns how many series this pipeline created.
func (p *Pipeline) SeriesCreated() int64 { return p.series.Load() }

// limiter allows up to per events a second, roughly: a warning path does not
// need an exact count, only a bound.
type limiter struct {
	per int64
	sec atomic.Int64
	n   atomic.Int64
}

func (l *limiter) allow(sec int64) bool {
	if l.sec.Load() != sec {
		l.sec.Store(sec)
		l.n.Store(0)
	}
	return l.n.Add(1) <= l.per
}

// ensure tsdb.DB satisfies Store.
var _ Store = (*tsdb.DB)(nil)
