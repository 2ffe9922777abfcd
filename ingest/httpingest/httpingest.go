// Package httpingest receives readings over HTTP with the same durability
// contract as MQTT: a 204 means the readings are in the fsynced WAL.
//
//	POST /influx/write     InfluxDB 1.x line protocol (?precision=ns|u|us|ms|s)
//	POST /api/v2/write     InfluxDB 2.x line protocol (?precision=ns|us|ms|s)
//	POST /api/v1/write     Prometheus remote write 1.0 (snappy, protobuf)
//
// Writers authenticate with a write token (quantrac token add --write-gateway
// or --relay) as "Authorization: Bearer <token>", "Authorization: Token
// <token>" (the InfluxDB clients' form) or the password of HTTP basic
// authentication (vmagent's and Telegraf's other form).
package httpingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/quantrac/quantrac/access"
	"github.com/quantrac/quantrac/ingest/lineproto"
	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/province"
)

// Options configure the handlers.
type Options struct {
	// Pipeline receives the readings. Required.
	Pipeline *pipeline.Pipeline
	// Tokens authenticates writers. Nil: only the development mode writes.
	Tokens *access.Authenticator
	// AllowAnonymous is the development mode: a request without a token may
	// write line protocol as the gateway named by ?province= and ?gateway=,
	// and remote write for any province.
	AllowAnonymous bool
	// MaxBodyBytes bounds a request body as sent (compressed or not).
	// Default 16 MiB.
	MaxBodyBytes int64
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the write endpoints.
type Handler struct {
	opts Options
	log  *slog.Logger
	bufs sync.Pool // *bytes.Buffer
}

// New returns the handlers.
func New(opts Options) (*Handler, error) {
	if opts.Pipeline == nil {
		return nil, errors.New("httpingest: no pipeline")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{opts: opts, log: opts.Logger}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	return h, nil
}

// Register adds the write routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /influx/write", h.influxV1)
	mux.HandleFunc("POST /write", h.influxV1) // the path InfluxDB 1.x clients use
	mux.HandleFunc("POST /api/v2/write", h.influxV2)
	mux.HandleFunc("POST /api/v1/write", h.remoteWrite)
}

// errUnauthenticated is the answer to a write without a usable token.
var errUnauthenticated = errors.New("a write token is required")

// writer authenticates the request. In development mode a request without a
// credential is an anonymous relay for every province.
func (h *Handler) writer(r *http.Request) (access.Writer, bool, error) {
	cred := credential(r)
	if cred == "" && h.opts.AllowAnonymous {
		return access.Writer{Name: "anonymous", Relay: true}, true, nil
	}
	if cred == "" || h.opts.Tokens == nil {
		return access.Writer{}, false, errUnauthenticated
	}
	w, err := h.opts.Tokens.AuthenticateWriter(cred)
	return w, false, err
}

// credential finds the token in the forms writers send it.
func credential(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(auth, " "); ok {
		switch strings.ToLower(scheme) {
		case "bearer", "token":
			return strings.TrimSpace(tok)
		}
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return r.URL.Query().Get("p") // InfluxDB 1.x query-string credentials
}

// anyProvince is the development mode's relay scope.
type anyProvince struct{}

func (anyProvince) Allows(slug string) bool { _, ok := province.Lookup(slug); return ok }

func (h *Handler) influxV1(w http.ResponseWriter, r *http.Request) {
	h.lineProtocol(w, r, map[string]lineproto.Precision{
		"": lineproto.Nanosecond, "n": lineproto.Nanosecond, "ns": lineproto.Nanosecond,
		"u": lineproto.Microsecond, "us": lineproto.Microsecond, "ms": lineproto.Millisecond, "s": lineproto.Second,
	})
}

func (h *Handler) influxV2(w http.ResponseWriter, r *http.Request) {
	h.lineProtocol(w, r, map[string]lineproto.Precision{
		"": lineproto.Nanosecond, "ns": lineproto.Nanosecond, "us": lineproto.Microsecond,
		"ms": lineproto.Millisecond, "s": lineproto.Second,
	})
}

func (h *Handler) lineProtocol(w http.ResponseWriter, r *http.Request, precisions map[string]lineproto.Precision) {
	prec, ok := precisions[r.URL.Query().Get("precision")]
	if !ok {
		h.fail(w, http.StatusBadRequest, "invalid", fmt.Errorf("unknown precision %q", r.URL.Query().Get("precision")))
		return
	}
	wr, anon, err := h.writer(r)
	if err != nil {
		h.fail(w, http.StatusUnauthorized, "unauthorized", err)
		return
	}
	msg := pipeline.Message{Format: pipeline.FormatLineProtocol, Precision: prec}
	switch {
	case anon:
		msg.Province, msg.Gateway = r.URL.Query().Get("province"), r.URL.Query().Get("gateway")
		if _, ok := province.Lookup(msg.Province); !ok || msg.Gateway == "" {
			h.fail(w, http.StatusBadRequest, "invalid",
				errors.New("without a token, name the gateway with ?province=<slug>&gateway=<id> (development mode)"))
			return
		}
	case wr.Relay:
		h.fail(w, http.StatusForbidden, "forbidden", errors.New("a relay token writes by remote write, not line protocol"))
		return
	default:
		msg.Province, msg.Gateway = wr.Province, wr.Gateway
	}
	h.ingest(w, r, &msg)
}

func (h *Handler) remoteWrite(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "io.prometheus.write.v2") {
		h.fail(w, http.StatusUnsupportedMediaType, "invalid", fmt.Errorf("remote write 2.0 (%s) is not supported; send 1.0", ct))
		return
	}
	wr, anon, err := h.writer(r)
	if err != nil {
		h.fail(w, http.StatusUnauthorized, "unauthorized", err)
		return
	}
	msg := pipeline.Message{Format: pipeline.FormatRemoteWrite}
	switch {
	case anon:
		msg.Gateway, msg.Relay = "anonymous", anyProvince{}
	case wr.Relay:
		msg.Gateway, msg.Relay = wr.Name, wr
	default:
		msg.Province, msg.Gateway = wr.Province, wr.Gateway
	}
	h.ingest(w, r, &msg)
}

// ingest reads the body into a pooled buffer, hands it to the pipeline
// durably, and answers. The buffer goes back to the pool once Ingest has
// returned, since the pipeline keeps nothing of a payload.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, msg *pipeline.Message) {
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 4<<20 { // an oversized buffer is left to the collector
			h.bufs.Put(buf)
		}
	}()
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			h.fail(w, http.StatusBadRequest, "invalid", fmt.Errorf("bad gzip body: %w", err))
			return
		}
		body = io.LimitReader(zr, 4*h.opts.MaxBodyBytes+1)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, http.StatusRequestEntityTooLarge, "too large", fmt.Errorf("body over %d bytes", h.opts.MaxBodyBytes))
			return
		}
		h.fail(w, http.StatusBadRequest, "invalid", fmt.Errorf("cannot read body: %w", err))
		return
	}
	if int64(buf.Len()) > 4*h.opts.MaxBodyBytes {
		h.fail(w, http.StatusRequestEntityTooLarge, "too large", errors.New("decompressed body too large"))
		return
	}
	msg.Payload = buf.Bytes()
	res, err := h.opts.Pipeline.Ingest(msg, true)
	var pe *pipeline.PayloadError
	switch {
	case errors.As(err, &pe):
		h.fail(w, http.StatusBadRequest, "invalid", pe)
	case err != nil:
		// The store could not take the readings: the writer must retry.
		h.log.Error("cannot store HTTP write", "writer", msg.Gateway, "err", err)
		h.fail(w, http.StatusServiceUnavailable, "unavailable", errors.New("the store cannot take writes now; retry"))
	case res.Rejected > 0:
		// InfluxDB's partial write: the good points are stored, and the
		// sender learns what was refused without retrying it.
		h.fail(w, http.StatusBadRequest, "invalid", fmt.Errorf("partial write: %d stored, %d refused; first: %s: %v",
			res.Accepted, res.Rejected, res.FirstReason, res.FirstError))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// fail answers in InfluxDB 2's error shape, which the Influx clients print
// and Prometheus' remote-write client logs as the response body.
func (h *Handler) fail(w http.ResponseWriter, status int, code string, err error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="quantrac"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": err.Error()})
}
