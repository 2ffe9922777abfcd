package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// outcome is what became of one request.
type outcome uint8

const (
	delivered outcome = iota // 2xx
	rejected                 // a 4xx that retrying cannot fix: counted as failed
	retry                    // 429, 5xx, 401/403, or a network error
)

// classify maps a response status to what the sender does next. 401 and
// 403 are retried, unlike other 4xx: the request is not bad, the
// credentials are, and an operator can fix them without the backlog being
// thrown away.
func classify(status int) outcome {
	switch {
	case status >= 200 && status < 300:
		return delivered
	case status == http.StatusTooManyRequests, status >= 500,
		status == http.StatusUnauthorized, status == http.StatusForbidden:
		return retry
	}
	return rejected
}

// deliver sends a batch until the receiver accepts or rejects it, and
// reports true; or until ctx is done (a drop, or shutdown), and reports
// false: the batch is then undelivered, and stays in the queue.
//
// A drop (ctx done, the destination still running) does not cut a request
// in flight: a cancelled request may or may not have been stored by the
// receiver, and the drop's count must know which. It waits for the answer,
// at most Timeout. Only shutdown cancels requests.
func (d *destination) deliver(ctx context.Context, b *batch) bool {
	body := b.encode()
	n := int64(b.len())
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		out, status, wait, err := d.post(d.root, body)
		switch {
		case out == delivered:
			d.stats.sent.Add(n)
			return true
		case ctx.Err() != nil:
			return false
		case out == rejected:
			d.stats.failed.Add(n)
			if d.warn.allow() {
				d.log.Warn("remote write rejected; the batch is not retried", "status", status,
					"samples", n, "err", err, "failed_total", d.stats.failed.Load())
			}
			return true
		}
		d.stats.retried.Add(n)
		backoff := d.backoff(attempt, wait)
		if d.warn.allow() {
			d.log.Warn("remote write failed; retrying", "status", status, "err", err,
				"samples", n, "attempt", attempt+1, "retry_in", backoff.Round(time.Millisecond))
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// backoff returns the wait before retry attempt+1: MinBackoff doubled per
// attempt up to MaxBackoff, of which a random half is jitter, so that
// senders that failed together do not retry together. A Retry-After the
// receiver asked for is honoured up to MaxBackoff.
func (d *destination) backoff(attempt int, retryAfter time.Duration) time.Duration {
	b := d.opts.MaxBackoff
	if attempt < 32 {
		b = min(d.opts.MinBackoff<<attempt, d.opts.MaxBackoff)
	}
	b = b/2 + rand.N(b/2+1)
	return max(b, min(retryAfter, d.opts.MaxBackoff))
}

// post sends one request. It returns the outcome, the status (0 when there
// was no response), the Retry-After the receiver asked for, and an error
// describing a failure.
func (d *destination) post(ctx context.Context, body []byte) (outcome, int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return rejected, 0, 0, fmt.Errorf("cannot build request: %w", err)
	}
	h := req.Header
	for k, v := range d.opts.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	h.Set("User-Agent", d.ua)
	if err := d.authorize(req); err != nil {
		return retry, 0, 0, err
	}
	d.stats.requests.Add(1)
	d.stats.requestBytes.Add(int64(len(body)))
	resp, err := d.client.Do(req)
	if err != nil {
		return retry, 0, 0, fmt.Errorf("cannot send remote write: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	out := classify(resp.StatusCode)
	if out == delivered {
		return out, resp.StatusCode, 0, nil
	}
	return out, resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")),
		fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
}

// authorize sets the request's credentials, reading them from their files
// every time, so that a rotated secret is used at once.
func (d *destination) authorize(req *http.Request) error {
	switch {
	case d.opts.BasicAuth != nil:
		pass, err := readSecret(d.opts.BasicAuth.PasswordFile)
		if err != nil {
			return err
		}
		req.SetBasicAuth(d.opts.BasicAuth.Username, pass)
	case d.opts.BearerTokenFile != "":
		tok, err := readSecret(d.opts.BearerTokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read forward credentials: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// retryAfter parses a Retry-After header in seconds; dates are ignored.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// newHTTPClient builds the destination's client with its TLS settings.
func newHTTPClient(d *Destination) (*http.Client, error) {
	tc := &tls.Config{ServerName: d.TLS.ServerName, InsecureSkipVerify: d.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if d.TLS.CAFile != "" {
		pem, err := os.ReadFile(d.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("the CA file holds no PEM certificate")
		}
	}
	if d.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(d.TLS.CertFile, d.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = d.MaxShards
	return &http.Client{Transport: tr}, nil
}
