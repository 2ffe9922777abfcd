package broker_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/quantrac/quantrac/broker"
	"github.com/quantrac/quantrac/broker/gateways"
)

// idleBudget and idleBudgetTLS are the memory an idle authenticated gateway
// connection may cost the node, Go heap and goroutine stacks together, over
// TCP and over TLS: the budget docs/mqtt.md gives, above the measured
// figures. A write queue of mochi's default size alone would add 64 KiB.
const (
	idleBudget    = 32 << 10
	idleBudgetTLS = 64 << 10
)

// TestIdleConnectionsMemory holds many idle gateways connected, each
// authenticated by password, over TCP and over TLS, and measures what they
// cost the node. The clients run in a child process so that only the
// broker's side is measured. 1000 connections by default;
// QUANTRAC_IDLE_CONNS=10000 for the full figure (docs/mqtt.md).
func TestIdleConnectionsMemory(t *testing.T) {
	n := 1000
	if v := os.Getenv("QUANTRAC_IDLE_CONNS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	raiseOpenFiles(t, uint64(n+512))
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) { measureIdle(t, n, useTLS) })
	}
}

func measureIdle(t *testing.T, n int, useTLS bool) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	// One hash at bcrypt's least cost for every gateway: the file is
	// written fast, and each connect still runs a bcrypt check.
	const password = "idle-gateway-password"
	hash, err := gateways.HashPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	entries := make([]gateways.Entry, n)
	for i := range entries {
		entries[i] = gateways.Entry{ID: fmt.Sprintf("idle-%05d", i), Province: "can-tho", PasswordHash: hash}
	}
	require.NoError(t, gateways.Write(file, entries))
	s := broker.Settings{GatewaysFile: file, MaxConnections: n + 16}
	if v := os.Getenv("QUANTRAC_IDLE_WRITE_QUEUE"); v != "" {
		q, err := strconv.Atoi(v)
		require.NoError(t, err)
		s.MaxWritesPending = int32(q)
	}
	caFile := ""
	if useTLS {
		pki := newTestPKI(t)
		s.TLSAddr = "127.0.0.1:0"
		s.TLSCertFile, s.TLSKeyFile = pki.issue(t, "idle test node", true)
		caFile = pki.CAFile
	}
	srv := startNode(t, filepath.Join(dir, "data"), false, s)
	addr := srv.MQTTAddr()
	if useTLS {
		addr = srv.MQTTTLSAddr()
	}

	before := memNow()
	helper := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.timeout=10m")
	helper.Env = append(os.Environ(), "QUANTRAC_IDLE_HELPER="+strings.Join([]string{addr, strconv.Itoa(n), password, caFile}, ","))
	stdin, err := helper.StdinPipe()
	require.NoError(t, err)
	stdout, err := helper.StdoutPipe()
	require.NoError(t, err)
	helper.Stderr = os.Stderr
	require.NoError(t, helper.Start())
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	require.Equal(t, "ready", sc.Text(), "the client process did not connect its clients")
	eventually(t, "every gateway connected", func() bool {
		return metric(t, srv, `quantrac_mqtt_gateways_connected{province="can-tho"}`) == float64(n)
	})
	after := memNow()

	perConn := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	heapStack := perConn(after.heap+after.stack, before.heap+before.stack)
	t.Logf("%d idle gateways: %.1f KiB heap+stacks each (heap %.1f KiB, stacks %.1f KiB), RSS %.1f KiB each, %.2f goroutines each",
		n, heapStack/1024, perConn(after.heap, before.heap)/1024, perConn(after.stack, before.stack)/1024,
		perConn(after.rss, before.rss)/1024, perConn(uint64(after.goroutines), uint64(before.goroutines)))
	budget := idleBudget
	if useTLS {
		budget = idleBudgetTLS
	}
	if s.MaxWritesPending == 0 {
		require.Less(t, heapStack, float64(budget), "an idle gateway costs more than the documented budget")
	}

	require.NoError(t, stdin.Close()) // the helper closes its connections and exits
	require.NoError(t, helper.Wait())
	eventually(t, "every gateway gone", func() bool {
		return metric(t, srv, `quantrac_mqtt_gateways_connected{province="can-tho"}`) == 0
	})
}

type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func memNow() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, stack: ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

// rssBytes reads the process's resident set size from /proc.
func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func raiseOpenFiles(t *testing.T, want uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		t.Skipf("open-files limit %d is under the %d this test needs", lim.Max, want)
	}
	lim.Cur = want
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
}

// TestIdleClientsHelper is the client side of TestIdleConnectionsMemory,
// run in a child process: it connects the gateways, says "ready", and holds
// them until its standard input closes.
func TestIdleClientsHelper(t *testing.T) {
	env := os.Getenv("QUANTRAC_IDLE_HELPER")
	if env == "" {
		t.Skip("run by TestIdleConnectionsMemory")
	}
	parts := strings.SplitN(env, ",", 4)
	addr, password, caFile := parts[0], parts[2], parts[3]
	n, err := strconv.Atoi(parts[1])
	require.NoError(t, err)
	var tlsConf *tls.Config
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		tlsConf = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	}
	raiseOpenFiles(t, uint64(n+512))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := fmt.Sprintf("idle-%05d", i)
				_, ack := dialRaw(t, addr, connectOpts{v: 4, clientID: id, username: id, password: password, clean: true, keepalive: 300, tls: tlsConf})
				if ack.ReasonCode != 0 {
					t.Errorf("gateway %s refused: %#x", id, ack.ReasonCode)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
}
