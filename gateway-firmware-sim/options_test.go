package gwsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

func TestDefaultOptionsAreValid(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	require.Equal(t, byte(1), o.QoS)
	require.Equal(t, wire.JSON, o.Format)
	require.Equal(t, 10*time.Second, o.SampleInterval)
	require.NoError(t, Options{}.Validate(), "the zero Options take defaults")
	s, err := New(Options{})
	require.NoError(t, err)
	require.Len(t, s.Gateways(), 34)
	require.Equal(t, "hn-gw-001", s.Gateways()[0].ID)
	require.Len(t, s.Gateways()[0].Devices, 20)
}

func TestOptionsValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"broker scheme", func(o *Options) { o.Broker = "http://x:1" }, "invalid broker"},
		{"broker host", func(o *Options) { o.Broker = "tcp://" }, "invalid broker"},
		{"province", func(o *Options) { o.Provinces = []string{"saigon"} }, "invalid province"},
		{"province twice", func(o *Options) { o.Provinces = []string{"hue", "hue"} }, "listed twice"},
		{"gateways", func(o *Options) { o.GatewaysPerProvince = 1000 }, "gateways per province"},
		{"devices", func(o *Options) { o.DevicesPerGateway = -1 }, "devices per gateway"},
		{"interval", func(o *Options) { o.SampleInterval = 5 * time.Millisecond }, "sample interval"},
		{"interval ms", func(o *Options) { o.SampleInterval = 10*time.Millisecond + 1 }, "sample interval"},
		{"batch", func(o *Options) { o.BatchSize = MaxBatchSize + 1 }, "batch size"},
		{"format", func(o *Options) { o.Format = 9 }, "invalid format"},
		{"qos", func(o *Options) { o.QoS = 2 }, "invalid QoS"},
		{"inflight", func(o *Options) { o.Inflight = -3 }, "inflight"},
		{"speed", func(o *Options) { o.Speed = -1 }, "invalid speed"},
		{"queue", func(o *Options) { o.QueueBytes = 1000 }, "queue"},
		{"password", func(o *Options) { o.Password = "x" }, "needs a username"},
		{"password file", func(o *Options) { o.PasswordFile = "x" }, "needs a username"},
		{"password twice", func(o *Options) { o.Username, o.Password, o.PasswordFile = "u", "x", "y" }, "exclude each other"},
		{"cert", func(o *Options) { o.TLS.CertFile = "x" }, "certificate and a key"},
		{"flap", func(o *Options) { o.Faults.FlapEvery, o.Faults.FlapDown = time.Minute, time.Minute }, "link flap"},
		{"flap short", func(o *Options) { o.Faults.FlapEvery, o.Faults.FlapDown = time.Minute, time.Second }, "shorter than the sample"},
		{"rate", func(o *Options) { o.Faults.DuplicateRate = 1.5 }, "duplicate rate"},
		{"backoff", func(o *Options) { o.MinBackoff, o.MaxBackoff = time.Minute, time.Second }, "maximum backoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.edit(&o)
			require.ErrorContains(t, o.Validate(), tc.want)
			_, err := New(o)
			require.Error(t, err)
		})
	}
}
