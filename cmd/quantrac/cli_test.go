package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildBinary builds quantrac once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "quantrac-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "quantrac")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// node is a quantrac serve subprocess.
type node struct {
	cmd      *exec.Cmd
	mqtt     string
	http     string
	stderr   *syncBuffer
	dataDir  string
	finished chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`msg=listening .*listener=(\S+) addr=(\S+)`)

// startNode runs `quantrac serve` on free loopback ports and waits until
// both listeners are up.
func startNode(t *testing.T, bin, dataDir string, extra ...string) *node {
	t.Helper()
	args := append([]string{"serve", "--data", dataDir, "--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	n := &node{cmd: cmd, stderr: &syncBuffer{}, dataDir: dataDir, finished: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, n.stderr)
	require.NoError(t, cmd.Start())
	go func() { n.finished <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-n.finished
		}
	})
	addrs := make(chan [2]string, 4)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- [2]string{m[1], m[2]}
			}
		}
	}()
	deadline := time.After(20 * time.Second)
	for n.mqtt == "" || n.http == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "mqtt-tcp":
				n.mqtt = a[1]
			case "http":
				n.http = a[1]
			}
		case err := <-n.finished:
			t.Fatalf("quantrac serve exited: %v\n%s", err, n.stderr.String())
		case <-deadline:
			t.Fatalf("quantrac serve did not start listening:\n%s", n.stderr.String())
		}
	}
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-n.finished:
		require.NoError(t, err, n.stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("quantrac serve did not stop on SIGTERM:\n%s", n.stderr.String())
	}
}

func run(t *testing.T, bin string, env []string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "quantrac %v: %s", args, stderr.String())
	return stdout.String(), stderr.String()
}

func TestTokenQueryExportThroughTheBinary(t *testing.T) {
	bin, err := buildBinary()
	require.NoError(t, err)
	pub, err := exec.LookPath("mosquitto_pub")
	require.NoError(t, err, "mosquitto_pub is needed: apt-get install -y mosquitto-clients")

	// First in development mode: anonymous gateways and anonymous reads.
	data := t.TempDir()
	n := startNode(t, bin, data, "--insecure-allow-anonymous")
	host, port, _ := strings.Cut(n.mqtt, ":")
	ts := time.Now().Add(-2 * time.Minute).UnixMilli()
	for i := range 3 {
		out, err := exec.Command(pub, "-h", host, "-p", port, "-q", "1", "-t", "telemetry/khanh-hoa/kh-gw-007/json",
			"-m", fmt.Sprintf(`{"readings":[{"device":"buoy-1","ts":%d,"fields":{"sea_temperature_celsius":2%d.5}}]}`, ts+int64(i)*1000, i)).CombinedOutput()
		require.NoError(t, err, string(out))
	}

	out, _ := run(t, bin, nil, "query", "--server", n.http, "--end", fmt.Sprint(float64(ts+2000)/1000), "sea_temperature_celsius")
	require.Regexp(t, `(?m)^__NAME__|^NAME`, out)
	require.Contains(t, out, "khanh-hoa")
	require.Contains(t, out, "22.5")

	out, _ = run(t, bin, nil, "query", "--server", n.http, "--json", "--end", fmt.Sprint(float64(ts+2000)/1000), "count_over_time(sea_temperature_celsius[1m])")
	require.Contains(t, out, `"3"`)

	csvPath := filepath.Join(t.TempDir(), "sea.csv")
	_, errOut := run(t, bin, nil, "export", "--server", n.http, "--match", `sea_temperature_celsius{province="khanh-hoa"}`,
		"--start", "1h", "-o", csvPath)
	require.Contains(t, errOut, "wrote "+csvPath)
	f, err := os.Open(csvPath)
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, rows, 4, "header and three rows")
	require.Equal(t, "20.5", rows[1][indexOf(rows[0], "value")])
	n.stop(t)

	// Without development mode, reads need a token; a token added while
	// the node runs takes effect on SIGHUP.
	n = startNode(t, bin, data)
	_, err = exec.Command(bin, "query", "--server", n.http, "up").Output()
	require.Error(t, err, "a read without a token must fail")
	tok, _ := run(t, bin, nil, "token", "add", "--tokens", filepath.Join(data, "tokens.json"),
		"--name", "khanh-hoa-analyst", "--provinces", "khanh-hoa")
	tok = strings.TrimSpace(tok)
	require.True(t, strings.HasPrefix(tok, "qtr_"), tok)
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(n.stderr.String(), "msg=reloaded") }, 10*time.Second, 50*time.Millisecond)
	out, _ = run(t, bin, []string{"QUANTRAC_TOKEN=" + tok}, "query", "--server", n.http,
		"--end", fmt.Sprint(float64(ts+2000)/1000), "sea_temperature_celsius")
	require.Contains(t, out, "22.5")
	list, _ := run(t, bin, nil, "token", "list", "--tokens", filepath.Join(data, "tokens.json"))
	require.Contains(t, list, "khanh-hoa-analyst")
	require.NotContains(t, list, tok, "the list must never show a token")
	n.stop(t)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// `serve --cpuprofile` writes a profile of the whole run when the node
// shuts down cleanly: a gzip stream, as pprof reads it.
func TestServeWritesACPUProfile(t *testing.T) {
	bin, err := buildBinary()
	require.NoError(t, err)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	n := startNode(t, bin, t.TempDir(), "--insecure-allow-anonymous", "--cpuprofile", prof)
	n.stop(t)
	b, err := os.ReadFile(prof)
	require.NoError(t, err)
	require.Greater(t, len(b), 2)
	require.Equal(t, []byte{0x1f, 0x8b}, b[:2], "a gzipped profile")
}
