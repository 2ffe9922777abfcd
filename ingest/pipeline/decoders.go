package pipeline

import (
	"fmt"
	"sync"
	"time"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/jsonbatch"
	"github.com/quantrac/quantrac/ingest/lineproto"
	"github.com/quantrac/quantrac/ingest/remotewrite"
	"github.com/quantrac/quantrac/ingest/sparkplug"
)

// Outcome is what a decoder reports beyond its samples.
type Outcome struct {
	// Rebirth asks the platform to request a Sparkplug rebirth from the
	// edge node: it sent data for metrics it never declared.
	Rebirth bool
}

// registerBuiltin registers the decoders of the formats the topic scheme
// names, with the decoders' documented default limits.
func (p *Pipeline) registerBuiltin() error {
	if _, err := jsonbatch.New(jsonbatch.Options{}); err != nil {
		return fmt.Errorf("cannot create JSON decoder: %w", err)
	}
	if _, err := lineproto.New(lineproto.Options{}); err != nil {
		return fmt.Errorf("cannot create line-protocol decoder: %w", err)
	}
	p.Register(FormatJSON, func() Decoder {
		d, _ := jsonbatch.New(jsonbatch.Options{}) // options checked above
		return jsonDecoder{d}
	})
	p.Register(FormatLineProtocol, func() Decoder { return &lpDecoder{} })
	p.Register(FormatRemoteWrite, func() Decoder { return rwDecoder{remotewrite.New(remotewrite.Options{})} })
	sessions := &sparkplugSessions{m: map[Identity]*sparkplugSession{}}
	p.Register(FormatSparkplug, func() Decoder { return sessions })
	return nil
}

type jsonDecoder struct{ d *jsonbatch.Decoder }

func (j jsonDecoder) Decode(msg *Message, _ time.Time, sink ingest.Sink) (Outcome, error) {
	_, err := j.d.Decode(msg.Payload, sink)
	return Outcome{}, err
}

// lpDecoder decodes line protocol in the message's timestamp precision
// (nanoseconds over MQTT, as Telegraf sends; HTTP writers say which); a line
// without a timestamp takes the arrival time. It keeps one decoder per
// precision, made on first use.
type lpDecoder struct {
	d [lineproto.Second + 1]*lineproto.Decoder
}

func (l *lpDecoder) Decode(msg *Message, now time.Time, sink ingest.Sink) (Outcome, error) {
	if msg.Precision > lineproto.Second {
		return Outcome{}, &PayloadError{Reason: ingest.ReasonTimestamp, Err: fmt.Errorf("unknown precision %d", msg.Precision)}
	}
	d := l.d[msg.Precision]
	if d == nil {
		var err error
		if d, err = lineproto.New(lineproto.Options{Precision: msg.Precision}); err != nil {
			return Outcome{}, err
		}
		l.d[msg.Precision] = d
	}
	_, err := d.Decode(msg.Payload, now.UnixMilli(), sink)
	return Outcome{}, err
}

type rwDecoder struct{ d *remotewrite.Decoder }

func (r rwDecoder) Decode(msg *Message, _ time.Time, sink ingest.Sink) (Outcome, error) {
	return Outcome{}, r.d.Decode(msg.Payload, sink)
}

// sparkplugSessions keeps one Sparkplug session per edge node. Unlike the
// other formats the decoder is stateful (births define aliases), so one
// value serves every pooled message state.
type sparkplugSessions struct {
	mu sync.RWMutex
	m  map[Identity]*sparkplugSession
}

type sparkplugSession struct {
	mu   sync.Mutex // one message at a time per edge node
	node *sparkplug.EdgeNode
}

func (s *sparkplugSessions) get(id Identity) (*sparkplugSession, error) {
	s.mu.RLock()
	ss := s.m[id]
	s.mu.RUnlock()
	if ss != nil {
		return ss, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss = s.m[id]; ss != nil {
		return ss, nil
	}
	n, err := sparkplug.NewEdgeNode(id.Province, id.Gateway, sparkplug.Options{})
	if err != nil {
		return nil, err
	}
	ss = &sparkplugSession{node: n}
	s.m[id] = ss
	return ss, nil
}

// Decode applies the message to its edge node's session. The session is the
// authenticated gateway's: a topic naming another group or edge node is
// refused by the session.
func (s *sparkplugSessions) Decode(msg *Message, now time.Time, sink ingest.Sink) (Outcome, error) {
	t, err := sparkplug.ParseTopic(msg.Topic)
	if err != nil {
		return Outcome{}, &PayloadError{Reason: ingest.ReasonTopic, Err: err}
	}
	ss, err := s.get(msg.Identity)
	if err != nil {
		return Outcome{}, &PayloadError{Reason: ingest.ReasonTopic, Err: err}
	}
	ss.mu.Lock()
	res, err := ss.node.Decode(t, msg.Payload, now.UnixMilli(), sink)
	ss.mu.Unlock()
	return Outcome{Rebirth: res.Rebirth}, err
}
