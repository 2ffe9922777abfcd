package gwsim

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

// message is one PUBLISH a test broker received.
type message struct {
	client, topic string
	payload       []byte
}

// testBroker is a real MQTT broker (mochi) on loopback that records every
// PUBLISH from the gateways.
type testBroker struct {
	t    testing.TB
	srv  *mochi.Server
	addr string
	// refuse, if set, decides which payloads the broker answers on the
	// gateway's errors topic, as the platform does for malformed ones.
	refuse func(topic string, payload []byte) bool

	closeOnce sync.Once

	mu struct {
		sync.Mutex
		msgs    []message
		refused int
	}
}

type brokerConfig struct {
	addr string      // "" for 127.0.0.1:0
	tls  *tls.Config // nil for plain TCP
	auth mochi.Hook  // nil to allow everyone
}

func startBroker(t testing.TB, cfg brokerConfig) *testBroker {
	t.Helper()
	if cfg.addr == "" {
		cfg.addr = "127.0.0.1:0"
	}
	b := &testBroker{t: t, srv: mochi.New(&mochi.Options{InlineClient: true, Logger: quiet})}
	if cfg.auth == nil {
		cfg.auth = new(allowHook)
	}
	require.NoError(t, b.srv.AddHook(cfg.auth, nil))
	require.NoError(t, b.srv.AddHook(&captureHook{b: b}, nil))
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: cfg.addr, TLSConfig: cfg.tls})
	// The previous broker on this port may take a moment to let go of it.
	var err error
	for range 200 {
		if err = b.srv.AddListener(l); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, err)
	require.NoError(t, b.srv.Serve())
	b.addr = l.Address()
	t.Cleanup(b.close)
	return b
}

func (b *testBroker) url() string { return "tcp://" + b.addr }

func (b *testBroker) close() { b.closeOnce.Do(func() { b.srv.Close() }) }

func (b *testBroker) messages() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.mu.msgs)
}

func (b *testBroker) refusals() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.refused
}

// captureHook records every PUBLISH before the broker acknowledges it.
type captureHook struct {
	mochi.HookBase
	b *testBroker
}

func (h *captureHook) ID() string { return "capture" }

func (h *captureHook) Provides(x byte) bool { return x == mochi.OnPublish }

func (h *captureHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if strings.HasSuffix(pk.TopicName, "/errors") {
		return pk, nil
	}
	b := h.b
	b.mu.Lock()
	b.mu.msgs = append(b.mu.msgs, message{client: cl.ID, topic: pk.TopicName, payload: bytes.Clone(pk.Payload)})
	refuse := b.refuse != nil && b.refuse(pk.TopicName, pk.Payload)
	if refuse {
		b.mu.refused++
	}
	b.mu.Unlock()
	if refuse {
		go b.srv.Publish(errorsTopicOf(pk.TopicName), []byte(`{"reason":"syntax"}`), false, 1)
	}
	return pk, nil
}

// allowHook admits every client to every topic. mochi ships one in
// hooks/auth, but that package imports gopkg.in/yaml.v3, which is not among
// the module's dependencies.
type allowHook struct{ mochi.HookBase }

func (h *allowHook) ID() string { return "allow" }

func (h *allowHook) Provides(x byte) bool {
	return x == mochi.OnConnectAuthenticate || x == mochi.OnACLCheck
}

func (h *allowHook) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// errorsTopicOf returns the errors topic of the gateway that published on
// topic (telemetry/<p>/<g>/<format> or spBv1.0/<p>/<verb>/<g>[/<device>]).
func errorsTopicOf(topic string) string {
	parts := strings.Split(topic, "/")
	if parts[0] == "spBv1.0" {
		return "telemetry/" + parts[1] + "/" + parts[3] + "/errors"
	}
	return "telemetry/" + parts[1] + "/" + parts[2] + "/errors"
}

// passwordHook admits a client whose username is its client id and whose
// password is "pw-" + its client id.
type passwordHook struct {
	mochi.HookBase
	mu       sync.Mutex
	rejected int
}

func (h *passwordHook) ID() string { return "password" }

func (h *passwordHook) Provides(x byte) bool {
	return x == mochi.OnConnectAuthenticate || x == mochi.OnACLCheck
}

func (h *passwordHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	ok := string(pk.Connect.Username) == cl.ID && string(pk.Connect.Password) == "pw-"+cl.ID
	if !ok {
		h.mu.Lock()
		h.rejected++
		h.mu.Unlock()
	}
	return ok
}

func (h *passwordHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// waitFor polls cond until it holds. The deadline only keeps a broken test
// from hanging; nothing asserts how fast things happen.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("gave up waiting for %s", what))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
