package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// FuzzIsRebirthRequest feeds arbitrary NCMD payloads to the one decoder of
// the package: it must never panic, and it may answer true only for a
// payload that unmarshals to a rebirth request. Seeds are in
// testdata/fuzz/FuzzIsRebirthRequest.
func FuzzIsRebirthRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !IsRebirthRequest(payload) {
			return
		}
		var p pb.Payload
		if err := proto.Unmarshal(payload, &p); err != nil {
			t.Fatalf("a rebirth request that does not unmarshal: %v", err)
		}
		found := false
		for _, m := range p.Metrics {
			found = found || (m.GetName() == SparkplugRebirth && m.GetBooleanValue())
		}
		if !found {
			t.Fatalf("rebirth reported for %x", payload)
		}
	})
}
