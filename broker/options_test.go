package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

func TestOptionsValidate(t *testing.T) {
	p := &pipeline.Pipeline{}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"defaults", Options{Pipeline: p}, ""},
		{"no pipeline", Options{}, "no ingest pipeline"},
		{"every listener off", Options{Pipeline: p, TCPAddr: Off}, "every MQTT listener is off"},
		{"TLS without files", Options{Pipeline: p, Settings: Settings{TLSAddr: "127.0.0.1:8883"}}, "certificate file and a key file"},
		{"TLS files without listener", Options{Pipeline: p, Settings: Settings{TLSCertFile: "c", TLSKeyFile: "k"}}, "no TLS listener"},
		{"wss without ws", Options{Pipeline: p, Settings: Settings{WSTLS: true, TLSCertFile: "c", TLSKeyFile: "k"}}, "no WebSocket listener"},
		{"required certs without CA", Options{Pipeline: p, Settings: Settings{TLSAddr: ":8883", TLSCertFile: "c", TLSKeyFile: "k", RequireClientCert: true}}, "no client CA"},
		{"tiny packets", Options{Pipeline: p, Settings: Settings{MaxPacketSize: 100}}, "under 1 KiB"},
		{"keepalive too long", Options{Pipeline: p, Settings: Settings{MaxKeepalive: 20 * time.Hour}}, "max keepalive"},
		{"bad address", Options{Pipeline: p, TCPAddr: "localhost"}, "listener address"},
		{"no rate limit", Options{Pipeline: p, Settings: Settings{RateLimit: -1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.setDefaults()
			err := tt.opts.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
