package gwsim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/queue"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

func TestPublishesEveryReadingAndLedgersTheAcks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format wire.Format
		qos    byte
	}{
		{"json qos1", wire.JSON, 1},
		{"lp qos1", wire.LineProtocol, 1},
		{"sparkplug qos1", wire.Sparkplug, 1},
		{"json qos0", wire.JSON, 0},
		{"lp qos0", wire.LineProtocol, 0},
		{"sparkplug qos0", wire.Sparkplug, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, brokerConfig{})
			o := testOptions(t, b.url())
			o.Format, o.QoS = tc.format, tc.qos
			s := run(t, o)

			want := expected(t, o, o.Start, o.Start.Add(o.Duration))
			readings := int64(4 * 6 * 300)
			st := s.Status()
			require.Equal(t, readings, st.Generated)
			require.Equal(t, readings, st.Acked)
			require.Zero(t, st.Backlog)
			require.Zero(t, st.Dropped+st.Lost)
			require.Equal(t, 4, st.Gateways)
			require.Equal(t, st.AckedBatches, st.AckLatency.Count(), "one latency per acknowledged batch")
			require.Positive(t, st.AckLatency.Quantile(0.5))
			require.LessOrEqual(t, st.AckLatency.Quantile(0.5), st.AckLatency.Quantile(0.99))
			require.LessOrEqual(t, st.AckLatency.Quantile(0.99), st.AckLatency.Quantile(0.999))

			got, sum := fromLedger(t, o.LedgerPath)
			requireSameSamples(t, want, got)
			require.Equal(t, readings, sum.Readings)
			require.Equal(t, st.AckedBatches, sum.Batches)
			require.Zero(t, sum.Redelivered+sum.Duplicates+sum.Malformed)

			rc := decodeReceived(t, b.messages())
			requireSameSamples(t, want, rc.values)
			for k, n := range rc.count {
				require.Equal(t, 1, n, "sample %v", k)
			}
			require.Zero(t, rc.malformed)
			require.Zero(t, rc.seqGaps)
		})
	}
}

func TestSameSeedSameBatches(t *testing.T) {
	payloads := func(seed uint64) map[string][][]byte {
		b := startBroker(t, brokerConfig{})
		o := testOptions(t, b.url())
		o.Seed = seed
		o.Duration = time.Minute
		run(t, o)
		out := map[string][][]byte{}
		for _, m := range b.messages() {
			out[m.topic] = append(out[m.topic], m.payload)
		}
		return out
	}
	a, b, c := payloads(3), payloads(3), payloads(4)
	require.Len(t, a, 4)
	require.Equal(t, a, b, "same seed, same options: byte-identical messages")
	for topic := range a {
		require.NotEqual(t, a[topic], c[topic], "another seed gives other data")
	}
	// The JSON batches number themselves from 1 on each gateway.
	for _, msgs := range a {
		require.True(t, bytes.HasPrefix(msgs[0], []byte(`{"seq":1,"readings":[{"device":"`)))
	}
}

// queuedRecords counts what the gateways' queues hold on disk.
func queuedRecords(t testing.TB, o Options) (records, readings int64) {
	dirs, err := filepath.Glob(filepath.Join(o.QueueDir, "*"))
	require.NoError(t, err)
	for _, d := range dirs {
		q, err := queue.Open(queue.Options{Dir: d, MaxBytes: o.QueueBytes, Logger: quiet})
		require.NoError(t, err)
		st := q.Stats()
		records += st.Records
		readings += st.Weight
		require.NoError(t, q.Close())
	}
	return records, readings
}

func TestOutageQueuesOnDiskThenReplays(t *testing.T) {
	for _, f := range []wire.Format{wire.JSON, wire.Sparkplug} {
		t.Run(f.String(), func(t *testing.T) { testOutage(t, f) })
	}
}

func testOutage(t *testing.T, format wire.Format) {
	b := startBroker(t, brokerConfig{})
	o := testOptions(t, b.url())
	o.Format = format
	o.Unpaced = false
	o.Speed = 300 // 5 simulated minutes in a second of wall time
	o.Duration = 10 * time.Minute
	s, err := New(o)
	require.NoError(t, err)
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()

	waitFor(t, "first acknowledgements", func() bool { return s.Status().Acked > 0 })
	b.close()
	waitFor(t, "a backlog on disk", func() bool {
		st := s.Status()
		return st.Connected == 0 && st.BacklogBatches >= 8
	})
	segs, err := filepath.Glob(filepath.Join(o.QueueDir, "*", "*.seg"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	b2 := startBroker(t, brokerConfig{addr: b.addr})
	require.NoError(t, <-done)

	st := s.Status()
	readings := int64(4 * 6 * 600)
	require.Equal(t, readings, st.Generated)
	require.Equal(t, readings, st.Acked)
	require.Zero(t, st.Backlog+st.Dropped+st.Lost)
	require.Positive(t, st.Reconnects)

	want := expected(t, o, o.Start, o.Start.Add(o.Duration))
	got, sum := fromLedger(t, o.LedgerPath)
	requireSameSamples(t, want, got, "every reading acknowledged exactly once in the ledger")
	require.Equal(t, readings, sum.Readings)

	// Between them the two brokers received everything; a batch in flight
	// when the first went down may have reached it and been resent.
	rc := decodeReceived(t, append(b.messages(), b2.messages()...))
	requireSameSamples(t, want, rc.values)
	rc2 := decodeReceived(t, b2.messages())
	require.NotEmpty(t, rc2.values, "the backlog went to the second broker")
	recs, _ := queuedRecords(t, o)
	require.Zero(t, recs)
}

func TestRestartDuringOutageLosesNothing(t *testing.T) {
	b := startBroker(t, brokerConfig{})
	o := testOptions(t, b.url())
	o.Unpaced = false
	o.Speed = 300
	o.Duration = 5 * time.Minute

	// First run: the broker goes away half-way; the run is stopped while the
	// outage lasts, with its backlog on disk.
	s1, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s1.Run(ctx) }()
	waitFor(t, "first acknowledgements", func() bool { return s1.Status().Acked > 0 })
	b.close()
	firstRun := int64(4 * 6 * 300)
	waitFor(t, "the first run to generate everything", func() bool { return s1.Status().Generated == firstRun })
	cancel()
	require.NoError(t, <-done)
	st1 := s1.Status()
	require.Less(t, st1.Acked, firstRun)
	recs, readings := queuedRecords(t, o)
	require.Positive(t, recs)
	require.Equal(t, firstRun-st1.Acked, readings, "everything not acknowledged is on disk")

	// Second run: the simulator restarts during the outage, for the next
	// five minutes; then the broker returns.
	o2 := o
	o2.Start = o.Start.Add(o.Duration)
	s2, err := New(o2)
	require.NoError(t, err)
	go func() { done <- s2.Run(context.Background()) }()
	waitFor(t, "the second run to generate", func() bool { return s2.Status().Generated > 0 })
	require.GreaterOrEqual(t, s2.Status().Backlog, readings, "the backlog is resumed")
	b2 := startBroker(t, brokerConfig{addr: b.addr})
	require.NoError(t, <-done)

	st2 := s2.Status()
	require.Equal(t, firstRun, st2.Generated)
	require.Equal(t, readings+firstRun, st2.Acked, "the old backlog and the new data")
	want := expected(t, o, o.Start, o2.Start.Add(o2.Duration))
	got, _ := fromLedger(t, o.LedgerPath)
	requireSameSamples(t, want, got)
	require.Len(t, want, len(expected(t, o, o.Start, o.Start.Add(o.Duration)))*2)

	// The backlog went out first: the second broker's first message from
	// each gateway is from the first run.
	first := map[string]bool{}
	for _, m := range b2.messages() {
		if first[m.topic] {
			continue
		}
		first[m.topic] = true
		rc := decodeReceived(t, []message{m})
		for k := range rc.values {
			require.Less(t, k.ts, o2.Start.UnixMilli()+5000, "%s starts with its backlog", m.topic)
		}
	}
	require.Len(t, first, 4)
}

func TestFaultsFlapsDuplicatesMalformed(t *testing.T) {
	for _, f := range []wire.Format{wire.JSON, wire.LineProtocol, wire.Sparkplug} {
		t.Run(f.String(), func(t *testing.T) { testFaults(t, f) })
	}
}

func testFaults(t *testing.T, format wire.Format) {
	b := startBroker(t, brokerConfig{})
	b.refuse = func(topic string, p []byte) bool { return looksMalformed(t, topic, p) }
	o := testOptions(t, b.url())
	o.Format = format
	// Paced, so that a link that comes back has wall time to reconnect.
	o.Unpaced = false
	o.Speed = 300
	o.Duration = 10 * time.Minute
	o.Faults = Faults{FlapEvery: 2 * time.Minute, FlapDown: 30 * time.Second, DuplicateRate: 0.2, MalformedRate: 0.1}
	s := run(t, o)

	st := s.Status()
	readings := int64(4 * 6 * 600)
	require.Equal(t, readings, st.Acked)
	require.GreaterOrEqual(t, st.Flaps, int64(4*4), "every gateway's link flapped")
	// Nearly every flap ends in a reconnect; one that ends before the
	// previous reconnect completes (a slow machine) needs none.
	require.GreaterOrEqual(t, st.Reconnects, int64(4))

	want := expected(t, o, o.Start, o.Start.Add(o.Duration))
	got, sum := fromLedger(t, o.LedgerPath)
	requireSameSamples(t, want, got, "faults lose and double nothing")
	require.Equal(t, st.Duplicates, sum.Duplicates)
	require.Equal(t, st.Malformed, sum.Malformed)
	require.Positive(t, sum.Duplicates)
	require.Positive(t, sum.Malformed)

	rc := decodeReceived(t, b.messages())
	requireSameSamples(t, want, rc.values)
	doubled := 0
	for _, n := range rc.count {
		if n > 1 {
			doubled++
		}
	}
	require.Positive(t, doubled, "duplicates reached the broker")
	require.GreaterOrEqual(t, int64(rc.malformed), sum.Malformed)
	require.Equal(t, rc.malformed, b.refusals(), "the broker refused every malformed payload")
	// The gateway counts the refusals it hears. The count is not exact: one
	// sent as a link flaps or as the run ends is missed, and the errors
	// topic is QoS 1, so one may be heard twice after a reconnect.
	require.Positive(t, s.Status().Refused)
}

func TestFullQueueDropsOldest(t *testing.T) {
	// Nothing listens here: the uplink never comes up.
	b := startBroker(t, brokerConfig{})
	addr := b.url()
	b.close()
	o := testOptions(t, addr)
	o.Provinces = []string{"hue"}
	o.GatewaysPerProvince = 1
	o.QueueBytes = 64 << 10
	o.QueueSegmentBytes = 8 << 10
	o.Duration = time.Hour
	o.DrainTimeout = 50 * time.Millisecond
	s := run(t, o)

	st := s.Status()
	require.Equal(t, int64(6*3600), st.Generated)
	require.Zero(t, st.Acked)
	require.Positive(t, st.Dropped)
	require.Equal(t, st.Generated, st.Backlog+st.Dropped, "every reading is queued or counted as dropped")

	// What is left is the newest data, in order, up to the last batch.
	q, err := queue.Open(queue.Options{Dir: filepath.Join(o.QueueDir, "hu-gw-001"), MaxBytes: o.QueueBytes, Logger: quiet})
	require.NoError(t, err)
	defer q.Close()
	var seqs []uint64
	var buf []byte
	for {
		_, _, rec, ok, err := q.Next(buf)
		require.NoError(t, err)
		if !ok {
			break
		}
		seqs = append(seqs, readSeq(t, rec))
	}
	require.Equal(t, st.BacklogBatches, int64(len(seqs)))
	for i := 1; i < len(seqs); i++ {
		require.Equal(t, seqs[i-1]+1, seqs[i])
	}
	sa, err := openSeq(filepath.Join(o.QueueDir, "hu-gw-001", "seq"))
	require.NoError(t, err)
	require.Equal(t, sa.next-1, seqs[len(seqs)-1], "the newest batch is kept")
}

func TestUsernamePasswordTemplates(t *testing.T) {
	hook := &passwordHook{}
	b := startBroker(t, brokerConfig{auth: hook})
	o := testOptions(t, b.url())
	o.Duration = time.Minute
	o.Username, o.Password = "{gateway}", "pw-{gateway}"
	s := run(t, o)
	require.Equal(t, int64(4*6*60), s.Status().Acked)
	require.Zero(t, hook.rejected)

	// A wrong password never gets in; the gateway keeps its data queued.
	o = testOptions(t, b.url())
	o.Duration = time.Minute
	o.Username, o.Password = "{gateway}", "wrong"
	o.DrainTimeout = 200 * time.Millisecond
	s = run(t, o)
	st := s.Status()
	require.Zero(t, st.Acked)
	require.Equal(t, st.Generated, st.Backlog)
	require.Positive(t, hook.rejected)
}

func TestLedgerAndQueueSurviveTheirFiles(t *testing.T) {
	// Run twice on the same ledger and queue directory: sequence numbers
	// continue, the ledger keeps both runs.
	b := startBroker(t, brokerConfig{})
	o := testOptions(t, b.url())
	o.Duration = time.Minute
	run(t, o)
	o.Start = o.Start.Add(time.Minute)
	run(t, o)
	seqs := map[string][]uint64{}
	_, err := ledger.Read(o.LedgerPath, func(e *ledger.Entry) error {
		seqs[e.Gateway] = append(seqs[e.Gateway], e.Seq)
		return nil
	})
	require.NoError(t, err)
	for gw, s := range seqs {
		for i := range s {
			require.Equal(t, uint64(i+1), s[i], "%s numbers its batches without gaps or repeats", gw)
		}
	}
	_, err = os.Stat(filepath.Join(o.QueueDir, "hn-gw-001", "seq"))
	require.NoError(t, err)
}

func TestFlapTogetherDropsEveryLinkAtOnce(t *testing.T) {
	o := testOptions(t, "tcp://127.0.0.1:1")
	o.Faults = Faults{FlapEvery: 2 * time.Minute, FlapDown: 30 * time.Second}
	downs := func(o Options) map[int64]int {
		s, err := New(o)
		require.NoError(t, err)
		out := map[int64]int{} // instant the link goes down -> gateways
		for _, g := range s.gateways {
			fl := newFlapper(g, o.Faults)
			for ts := o.Start.UnixMilli(); ts < o.Start.Add(10*time.Minute).UnixMilli(); ts += 1000 {
				if fl.downAt(ts) && !fl.downAt(ts-1000) {
					out[ts]++
				}
			}
		}
		return out
	}
	apart := downs(o)
	require.Greater(t, len(apart), 5, "each gateway drops at its own phase")
	o.Faults.FlapTogether = true
	together := downs(o)
	require.Len(t, together, 5, "one drop every 2 minutes")
	for ts, n := range together {
		require.Equal(t, 4, n, "every gateway drops at %v", time.UnixMilli(ts).UTC())
	}
}
