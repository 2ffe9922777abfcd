package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiClient talks to a node's HTTP API for the query and export commands.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// clientFlags registers the flags every API command shares.
func clientFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	server := fs.String("server", "http://127.0.0.1:9490", "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding a read token (default: $QUANTRAC_TOKEN)")
	return func() (*apiClient, error) {
		tok := os.Getenv("QUANTRAC_TOKEN")
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				return nil, fmt.Errorf("cannot read token file: %w", err)
			}
			tok = strings.TrimSpace(string(b))
		}
		base := strings.TrimRight(*server, "/")
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return &apiClient{base: base, token: tok, http: &http.Client{}}, nil
	}
}

func (c *apiClient) get(path string, params url.Values) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			ErrorType string `json:"errorType"`
			Error     string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s (%s, HTTP %d)", e.Error, e.ErrorType, resp.StatusCode)
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// parseWhen accepts RFC 3339, Unix seconds, "now", or a duration before now
// such as "1h" or "30m".
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" || s == "now" {
		return now, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var sec float64
	if _, err := fmt.Sscan(s, &sec); err == nil {
		return time.UnixMilli(int64(sec * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("cannot parse time %q: want RFC 3339, Unix seconds, now, or a duration ago like 1h", s)
}

func unixParam(t time.Time) string {
	return fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000)
}
