package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quantrac/quantrac/broker"
	"github.com/quantrac/quantrac/server"
)

// Node is the server under test.
type Node interface {
	// Broker is the MQTT URL, tcp://host:port.
	Broker() string
	// HTTP is the base URL of the query API and /metrics.
	HTTP() string
	// Usage reads the server's CPU time and memory so far; ok is false
	// when the server's process cannot be read (a remote node).
	Usage() (u Usage, ok bool)
	// DataDir is the store's directory, or "" when unknown.
	DataDir() string
	// Close stops the node, cleanly, so its store is flushed.
	Close() error
	// Mode says how the node runs: "in-process", "child" or "remote".
	Mode() string
}

// NodeOptions choose and configure the node.
type NodeOptions struct {
	// Mode is "in-process", "child" or "remote".
	Mode string
	// Binary is the quantrac executable of a child node.
	Binary string
	// DataDir is a fresh data directory for an in-process or child node.
	DataDir string
	// Broker and HTTP address a remote node.
	Broker, HTTP string
	// Log receives the node's own log (in-process and child).
	Log io.Writer
	// CPUProfile, for a child node, is where it writes a CPU profile of
	// its whole run (quantrac serve --cpuprofile).
	CPUProfile string
}

// StartNode starts or addresses the node under test. An in-process or
// child node allows anonymous gateways and has no publish rate limit, so
// the limit does not cap the throughput being measured.
func StartNode(o NodeOptions) (Node, error) {
	switch o.Mode {
	case "in-process":
		return startInProcess(o)
	case "child":
		return startChild(o)
	case "remote":
		if o.Broker == "" || o.HTTP == "" {
			return nil, errors.New("cannot use a remote node: its MQTT and HTTP addresses are both needed")
		}
		return remoteNode{o.Broker, strings.TrimRight(o.HTTP, "/")}, nil
	}
	return nil, fmt.Errorf("invalid node mode %q: want in-process, child or remote", o.Mode)
}

type remoteNode struct{ broker, http string }

func (r remoteNode) Broker() string       { return r.broker }
func (r remoteNode) HTTP() string         { return r.http }
func (r remoteNode) Usage() (Usage, bool) { return Usage{}, false }
func (r remoteNode) DataDir() string      { return "" }
func (r remoteNode) Close() error         { return nil }
func (r remoteNode) Mode() string         { return "remote" }

type inProcessNode struct {
	srv *server.Server
	dir string
}

func startInProcess(o NodeOptions) (Node, error) {
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	srv, err := server.Start(server.Options{
		DataDir: o.DataDir, MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		AllowAnonymous: true, MQTT: broker.Settings{RateLimit: -1},
		Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start in-process node: %w", err)
	}
	return &inProcessNode{srv: srv, dir: o.DataDir}, nil
}

func (n *inProcessNode) Broker() string { return "tcp://" + n.srv.MQTTAddr() }
func (n *inProcessNode) HTTP() string   { return "http://" + n.srv.HTTPAddr() }
func (n *inProcessNode) DataDir() string {
	return n.dir
}
func (n *inProcessNode) Close() error { return n.srv.Close() }
func (n *inProcessNode) Mode() string { return "in-process" }

// Usage of an in-process node is that of the whole process, load
// generator included.
func (n *inProcessNode) Usage() (Usage, bool) {
	u, err := selfUsage()
	return u, err == nil
}

type childNode struct {
	cmd          *exec.Cmd
	dir          string
	broker, http string
	exited       chan error
	last         Usage // read before the process exited
	mu           sync.Mutex
}

// startChild runs `quantrac serve` on ports the kernel picks and learns
// them from its JSON log.
func startChild(o NodeOptions) (Node, error) {
	cmd := exec.Command(o.Binary, "serve", "--data", o.DataDir,
		"--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--insecure-allow-anonymous", "--mqtt-rate-limit", "0",
		"--log-format", "json", "--log-level", "info")
	if o.CPUProfile != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", o.CPUProfile)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start child node: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start child node %s: %w", o.Binary, err)
	}
	n := &childNode{cmd: cmd, dir: o.DataDir, exited: make(chan error, 1)}
	addrs := make(chan [2]string, 1)
	go n.readLog(stderr, o.Log, addrs)
	go func() { n.exited <- cmd.Wait() }()
	select {
	case a := <-addrs:
		n.broker, n.http = "tcp://"+a[0], "http://"+a[1]
		return n, nil
	case err := <-n.exited:
		return nil, fmt.Errorf("child node exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("child node did not listen within 30 s")
	}
}

// readLog copies the child's log to w and sends the MQTT and HTTP
// addresses once both were logged.
func (n *childNode) readLog(r io.Reader, w io.Writer, addrs chan<- [2]string) {
	var mqttAddr, httpAddr string
	sent := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if w != nil {
			_, _ = w.Write(append(line, '\n'))
		}
		if sent {
			continue
		}
		var m struct{ Msg, Listener, Addr string }
		if json.Unmarshal(line, &m) != nil || m.Msg != "listening" {
			continue
		}
		switch m.Listener {
		case "mqtt-tcp":
			mqttAddr = m.Addr
		case "http":
			httpAddr = m.Addr
		}
		if mqttAddr != "" && httpAddr != "" {
			addrs <- [2]string{mqttAddr, httpAddr}
			sent = true
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (n *childNode) Broker() string  { return n.broker }
func (n *childNode) HTTP() string    { return n.http }
func (n *childNode) DataDir() string { return n.dir }
func (n *childNode) Mode() string    { return "child" }

// Usage reads /proc/<pid> of the child: its CPU time and VmHWM.
func (n *childNode) Usage() (Usage, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	u, err := procUsage(n.cmd.Process.Pid)
	if err != nil {
		return n.last, n.last.CPU > 0
	}
	n.last = u
	return u, true
}

// Close asks the child to stop with SIGTERM and waits for it, killing it
// after a minute.
func (n *childNode) Close() error {
	n.Usage()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot stop child node: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case err := <-n.exited:
		if err != nil {
			return fmt.Errorf("child node exited: %w", err)
		}
		return nil
	case <-ctx.Done():
		_ = n.cmd.Process.Kill()
		return errors.New("child node did not stop within a minute; killed")
	}
}

// FindQuantrac returns the quantrac executable next to the running one,
// else the one on PATH.
func FindQuantrac() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "quantrac")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("quantrac")
	if err != nil {
		return "", fmt.Errorf("cannot find the quantrac binary (make build puts it beside qbench): %w", err)
	}
	return p, nil
}
