package pipeline

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The series prediction (each entry's successor) is a hint: whatever order
// a gateway's readings come in, reordered, shortened, with new devices or
// interleaved with another gateway's, every sample must land in the series
// its own labels name. Each value encodes its device and field, so a sample
// in the wrong series shows.
func TestEverySampleReachesItsSeriesWhateverTheOrder(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	fields := []string{"a", "b", "c"}
	rng := rand.New(rand.NewPCG(1, 2))

	message := func(devices []int) []byte {
		var b strings.Builder
		b.WriteString(`{"readings":[`)
		for i, d := range devices {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"device":"d%d","ts":%d,"tags":{"site":"s%d"},"fields":{`, d, ts, d%3)
			for j, f := range fields {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"%s":%d`, f, d*10+j)
			}
			b.WriteString("}}")
		}
		b.WriteString("]}")
		return []byte(b.String())
	}
	orders := [][]int{
		{0, 1, 2, 3, 4, 5},
		{0, 1, 2, 3, 4, 5}, // the prediction holds
		{5, 4, 3, 2, 1, 0}, // reversed
		{2, 3, 4},          // a middle part
		{0, 1, 7, 2, 3, 8}, // new devices between known ones
		{0, 1, 2, 3, 4, 5},
	}
	for range 20 {
		o := rng.Perm(9)[:1+rng.IntN(9)]
		orders = append(orders, o)
	}
	for i, order := range orders {
		gw := "hn-gw-001"
		if i%4 == 3 {
			gw = "hn-gw-002" // another gateway, same devices, other series
		}
		st.samples.Reset()
		res, err := p.Ingest(&Message{Identity: Identity{"ha-noi", gw}, Format: FormatJSON, Payload: message(order)}, false)
		require.NoError(t, err)
		require.Equal(t, len(order)*len(fields), res.Accepted, "message %d", i)
		for k, ref := range st.samples.Refs {
			l := st.lset(ref)
			v := int(st.samples.Vals[k])
			d, j := v/10, v%10
			want := fmt.Sprintf(`{__name__=%q, device="d%d", gateway=%q, province="ha-noi", site="s%d"}`, fields[j], d, gw, d%3)
			require.Equal(t, want, l.String(), "message %d, sample %d", i, k)
		}
	}
	require.Len(t, st.series, 2*9*len(fields))
}

// Messages of one gateway may be ingested at once (its MQTT connection and
// the HTTP API, say): the predictions and the order warm hands from one
// message to the next are shared, and every sample must still reach the
// series its labels name. Run with -race, this also checks that the order
// passes between messages without a data race.
func TestOneGatewaysMessagesAtOnce(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	const workers, rounds, devices = 4, 50, 12
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				var b strings.Builder
				b.WriteString(`{"readings":[`)
				for i, d := range rng.Perm(devices)[:1+rng.IntN(devices)] {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"device":"d%d","ts":%d,"fields":{"a":%d,"b":%d}}`, d, ts, d*10, d*10+1)
				}
				b.WriteString("]}")
				_, err := p.Ingest(&Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
					Payload: []byte(b.String())}, false)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	require.NotEmpty(t, st.samples.Refs)
	for k, ref := range st.samples.Refs {
		v := int(st.samples.Vals[k])
		want := fmt.Sprintf(`{__name__=%q, device="d%d", gateway="hn-gw-001", province="ha-noi"}`, []string{"a", "b"}[v%10], v/10)
		require.Equal(t, want, st.lset(ref).String(), "sample %d", k)
	}
	require.Len(t, st.series, 2*devices)
}
