package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// quantracBin is the quantrac binary the package's tests share: built once
// on first use, removed by TestMain when the tests are done.
var quantracBin struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildQuantrac returns the path of the quantrac binary, compiling it into
// a temporary directory the first time.
func buildQuantrac(t *testing.T) string {
	t.Helper()
	b := &quantracBin
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "quantrac-e2e-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "quantrac")
		// go test puts its own toolchain first on PATH.
		out, err := exec.Command("go", "build", "-o", b.path, "github.com/quantrac/quantrac/cmd/quantrac").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if quantracBin.dir != "" {
		os.RemoveAll(quantracBin.dir)
	}
	os.Exit(code)
}

// node is a quantrac serve process.
type node struct {
	cmd      *exec.Cmd
	mqttAddr string
	httpAddr string
	logs     *logTail
}

// logTail keeps the last lines a process logged, for failure messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-200:]
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := ""
	for _, s := range l.lines {
		out += s + "\n"
	}
	return out
}

// startNode runs `quantrac serve` on dir with both listeners on loopback
// port 0, and any extra flags, and waits for the "listening" log lines that
// carry the bound addresses (JSON logs: msg, listener and addr fields).
func startNode(t *testing.T, bin, dir string, extra ...string) *node {
	t.Helper()
	args := append([]string{"serve", "--data", dir,
		"--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--insecure-allow-anonymous", "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	n := &node{cmd: cmd, logs: &logTail{}}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addrs := make(chan [2]string, 4)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.logs.add(sc.Text())
			var rec struct{ Msg, Listener, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addrs <- [2]string{rec.Listener, rec.Addr}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	deadline := time.After(30 * time.Second)
	for n.mqttAddr == "" || n.httpAddr == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "mqtt-tcp":
				n.mqttAddr = a[1]
			case "http":
				n.httpAddr = a[1]
			}
		case <-deadline:
			t.Fatalf("the node did not report its addresses; its log:\n%s", n.logs)
		}
	}
	return n
}

// kill ends the node with SIGKILL, as a power cut or the OOM killer would.
func (n *node) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Kill())
	n.cmd.Wait()
}

// stop ends the node with SIGTERM and waits for its clean shutdown.
func (n *node) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(os.Interrupt))
	require.NoError(t, n.cmd.Wait(), "log:\n%s", n.logs)
}

// queryResult is the part of a Prometheus API answer the tests read.
type queryResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// query runs an instant PromQL query at time at.
func (n *node) query(t *testing.T, q string, at time.Time) queryResult {
	t.Helper()
	u := fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%s", n.httpAddr, url.QueryEscape(q),
		strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r queryResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, "query %s: %s", q, r.Error)
	return r
}
