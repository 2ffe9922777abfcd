package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client reads the node's /metrics and query API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

func (c *client) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// counters are the node's own totals, from /metrics.
type counters struct {
	Messages float64 // quantrac_mqtt_messages_received_total
	Samples  float64 // quantrac_tsdb_samples_appended_total
	Rejected float64 // quantrac_ingest_readings_rejected_total, all labels
	Clients  float64 // quantrac_mqtt_clients_connected
}

// scrape reads the counters from /metrics, summing over labels.
func (c *client) scrape(ctx context.Context) (counters, error) {
	resp, err := c.get(ctx, "/metrics")
	if err != nil {
		return counters{}, fmt.Errorf("cannot scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	var out counters
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		var dst *float64
		switch name {
		case "quantrac_mqtt_messages_received_total":
			dst = &out.Messages
		case "quantrac_tsdb_samples_appended_total":
			dst = &out.Samples
		case "quantrac_ingest_readings_rejected_total":
			dst = &out.Rejected
		case "quantrac_mqtt_clients_connected":
			dst = &out.Clients
		default:
			continue
		}
		rest := line[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return counters{}, fmt.Errorf("cannot parse metric line %q: %w", line, err)
		}
		*dst += v
	}
	if err := sc.Err(); err != nil {
		return counters{}, fmt.Errorf("cannot read metrics: %w", err)
	}
	return out, nil
}

// sample is one point of an instant vector.
type sample struct {
	T time.Time
	V float64
}

// queryInstant evaluates a PromQL instant query at t and returns its
// points (one per series).
func (c *client) queryInstant(ctx context.Context, q string, t time.Time) ([]sample, error) {
	v := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)}}
	resp, err := c.get(ctx, "/api/v1/query?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("cannot query %s: %w", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode the answer to %s: %w", q, err)
	}
	out := make([]sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		ts, ok1 := r.Value[0].(float64)
		vs, ok2 := r.Value[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cannot decode the answer to %s: value %v", q, r.Value)
		}
		val, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot decode the answer to %s: %w", q, err)
		}
		out = append(out, sample{T: time.UnixMilli(int64(ts * 1e3)), V: val})
	}
	return out, nil
}
