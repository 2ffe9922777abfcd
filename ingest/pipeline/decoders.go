package pipeline

import (
	"fmt"
	"time"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/jsonbatch"
)

// registerBuiltin registers the decoders of the formats the topic scheme
// names. Their options are the decoders' documented defaults.
func (p *Pipeline) registerBuiltin() error {
	if _, err := jsonbatch.New(jsonbatch.Options{}); err != nil {
		return fmt.Errorf("cannot create JSON decoder: %w", err)
	}
	p.Register(FormatJSON, func() Decoder {
		d, _ := jsonbatch.New(jsonbatch.Options{}) // options checked above
		return jsonDecoder{d}
	})
	return nil
}

type jsonDecoder struct{ d *jsonbatch.Decoder }

func (j jsonDecoder) Decode(msg *Message, _ time.Time, sink ingest.Sink) error {
	_, err := j.d.Decode(msg.Payload, sink)
	return err
}
