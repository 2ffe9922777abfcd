package broker_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// TestReloadAddsAndRemovesGateways reloads the gateways file in process:
// an added gateway may connect at once, a removed or changed one is
// disconnected, and the unchanged ones keep their connections.
func TestReloadAddsAndRemovesGateways(t *testing.T) {
	danang := gw{id: "dn-gw-001", prov: "da-nang", password: "danang-secret-password"}
	hue := gw{id: "hu-gw-001", prov: "hue", password: "hue-old-password"}
	srv, file := securedNode(t, hanoi, danang, hue)
	addr := srv.MQTTAddr()
	connect := func(g gw) (*rawClient, byte) {
		c, ack := dialRaw(t, addr, connectOpts{clientID: g.id, username: g.id, password: g.password, clean: true})
		return c, ack.ReasonCode
	}
	_, code := connect(saigon)
	require.Equal(t, packets.ErrBadUsernameOrPassword.Code, code, "a gateway not yet in the file")
	removed, code := connect(hanoi)
	require.Equal(t, byte(0), code)
	unchanged, code := connect(danang)
	require.Equal(t, byte(0), code)
	rotated, code := connect(hue)
	require.Equal(t, byte(0), code)

	newHue := hue
	newHue.password = "hue-new-password"
	writeGateways(t, file, danang, newHue, saigon)
	require.NoError(t, srv.Reload())

	for name, c := range map[string]*rawClient{"removed": removed, "rotated": rotated} {
		pk, err := c.read()
		require.NoError(t, err, name)
		require.Equal(t, packets.Disconnect, pk.FixedHeader.Type, name)
		require.Equal(t, packets.ErrAdministrativeAction.Code, pk.ReasonCode, name)
	}
	ts := time.Now().UnixMilli()
	puback, err := unchanged.publish("telemetry/da-nang/dn-gw-001/json", reading("kept", ts, 1), 1, 1)
	require.NoError(t, err)
	require.Equal(t, byte(0), puback.ReasonCode, "an unchanged gateway's connection survives the reload")

	_, code = connect(hanoi)
	require.Equal(t, packets.ErrBadUsernameOrPassword.Code, code, "a removed gateway")
	_, code = connect(hue)
	require.Equal(t, packets.ErrBadUsernameOrPassword.Code, code, "the old password")
	_, code = connect(newHue)
	require.Equal(t, byte(0), code, "the new password")
	added, code := connect(saigon)
	require.Equal(t, byte(0), code, "an added gateway")
	puback, err = added.publish("telemetry/ho-chi-minh/hc-gw-001/json", reading("added", ts, 2), 1, 1)
	require.NoError(t, err)
	require.Equal(t, byte(0), puback.ReasonCode)
	require.Equal(t, map[string]string{"da-nang/dn-gw-001/kept": "1", "ho-chi-minh/hc-gw-001/added": "2"}, query(t, srv, temp, ts))

	// A broken file is refused whole; the gateways in use stay.
	require.NoError(t, os.WriteFile(file, []byte("quantrac-gateways 1\nbroken line\n"), 0o600))
	require.Error(t, srv.Reload())
	_, code = connect(danang)
	require.Equal(t, byte(0), code)
	require.Equal(t, 1.0, metric(t, srv, "quantrac_mqtt_gateway_reloads_total"))
	require.Equal(t, 3.0, metric(t, srv, "quantrac_mqtt_gateways_configured"))
}

// TestSIGHUPReloadThroughTheBinary builds quantrac, manages the gateways
// file with `quantrac gateway`, and reloads a running `quantrac serve` with
// a real SIGHUP.
func TestSIGHUPReloadThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the quantrac binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "quantrac")
	build := exec.Command("go", "build", "-o", bin, "github.com/quantrac/quantrac/cmd/quantrac")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	file := filepath.Join(dir, "gateways")

	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String(), &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: []byte(stderr.String())}
		}
		return stdout.String(), nil
	}
	_, err = run(hanoi.password+"\n", "gateway", "add", "--file", file, "--id", hanoi.id, "--province", hanoi.prov, "--password-stdin", "--cost", "4")
	require.NoError(t, err)
	st, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	serve := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--mqtt-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--gateways", file, "--log-format", "json")
	logs, err := serve.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, serve.Start())
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	waitLog := func(msg string, match func(map[string]any) bool) map[string]any {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				require.True(t, ok, "quantrac serve exited while waiting for %q", msg)
				if m["msg"] == msg && match(m) {
					return m
				}
			case <-timeout:
				t.Fatalf("no %q in the log", msg)
			}
		}
	}
	addr := waitLog("listening", func(m map[string]any) bool { return m["listener"] == "mqtt-tcp" })["addr"].(string)
	host, port := hostPort(t, addr)
	pub := func(g gw) (string, error) {
		return mosquitto(t, 10*time.Second, "mosquitto_pub", "-h", host, "-p", port, "-q", "1",
			"-u", g.id, "-P", g.password, "-t", "telemetry/"+g.prov+"/"+g.id+"/json", "-m", reading("d", time.Now().UnixMilli(), 1))
	}
	out2, err := pub(hanoi)
	require.NoError(t, err, out2)

	// Add a gateway with a generated password, printed once on stdout.
	password, err := run("", "gateway", "add", "--file", file, "--id", saigon.id, "--province", saigon.prov)
	require.NoError(t, err)
	added := saigon
	added.password = strings.TrimSpace(password)
	require.Len(t, added.password, 32)
	_, err = run("", "gateway", "remove", "--file", file, "--id", hanoi.id)
	require.NoError(t, err)
	list, err := run("", "gateway", "list", "--file", file)
	require.NoError(t, err)
	require.Contains(t, list, "hc-gw-001  ho-chi-minh  password")
	require.NotContains(t, list, hanoi.id)
	require.NotContains(t, list, "$2a$", "list must not show hashes")

	_, err = pub(added)
	require.Error(t, err, "added gateway admitted before the reload")
	require.NoError(t, serve.Process.Signal(syscall.SIGHUP))
	waitLog("gateways reloaded", func(m map[string]any) bool { return m["added"] == 1.0 && m["removed"] == 1.0 })
	out2, err = pub(added)
	require.NoError(t, err, out2)
	out2, err = pub(hanoi)
	require.Error(t, err, "removed gateway still admitted: %s", out2)

	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	waitLog("stopped", func(map[string]any) bool { return true })
}
