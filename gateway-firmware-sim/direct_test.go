package gwsim

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// trickle is a net.Conn whose reads return at most n bytes of data.
type trickle struct {
	net.Conn
	data []byte
	n    int
}

func (t *trickle) Read(b []byte) (int, error) {
	if len(t.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(b), t.n, len(t.data))
	copy(b, t.data[:k])
	t.data = t.data[k:]
	return k, nil
}

func puback(id uint16) []byte { return []byte{0x40, 2, byte(id >> 8), byte(id)} }

// ackConn takes the PUBACKs of the sender's publishes out of the stream and
// hands every other byte to paho unchanged, however the stream is cut into
// reads: paho's own PUBACKs (low identifiers, or ones the sender does not
// have pending), a PUBLISH from the broker and a SUBACK pass.
func TestAckConnTakesOnlyTheSendersAcks(t *testing.T) {
	fromBroker := wire.AppendPublishQoS0(nil, "gateway/errors", bytes.Repeat([]byte("e"), 300))
	suback := []byte{0x90, 3, 0, 1, 1}
	var stream, want []byte
	stream = append(stream, puback(0x8000)...)
	stream = append(stream, fromBroker...)
	want = append(want, fromBroker...)
	stream = append(stream, puback(0x8001)...)
	stream = append(stream, puback(3)...) // paho's
	want = append(want, puback(3)...)
	stream = append(stream, suback...)
	want = append(want, suback...)
	stream = append(stream, puback(0x9000)...) // not pending: paho's business
	want = append(want, puback(0x9000)...)
	stream = append(stream, puback(0x8002)...)

	for _, n := range []int{1, 2, 3, 5, 7, 64, 4096} {
		done := make(chan *flight, 8)
		o := newAckOrder(done, make(chan struct{}))
		f1, f2 := &flight{seq: 1, qos: 1}, &flight{seq: 2, qos: 1}
		for i, f := range []*flight{f1, f1, f2} {
			id, ok := o.reserve(f, i != 0)
			require.True(t, ok)
			require.Equal(t, uint16(0x8000+i), id)
		}
		var p atomic.Pointer[ackOrder]
		p.Store(o)
		a := &ackConn{Conn: &trickle{data: bytes.Clone(stream), n: n}, order: &p,
			kill: func() { t.Fatal("connection dropped") }}
		got, err := io.ReadAll(a)
		require.NoError(t, err)
		require.Equal(t, want, got, "reads of %d bytes", n)
		require.Equal(t, []*flight{f1, f2}, []*flight{<-done, <-done})

		// paho reads what passed as the packets they are.
		r := bytes.NewReader(got)
		for _, typ := range []string{"PUBLISH", "PUBACK", "SUBACK", "PUBACK"} {
			cp, err := packets.ReadPacket(r)
			require.NoError(t, err)
			require.Contains(t, cp.String(), typ)
		}
	}
}

// Flights complete in the order they were sent: a QoS 0 flight written
// behind pending QoS 1 flights waits for them, a flight of several
// messages completes with its last, and an acknowledgement that skips a
// pending publish drops the connection.
func TestAckOrderCompletesInWindowOrder(t *testing.T) {
	done := make(chan *flight, 8)
	o := newAckOrder(done, make(chan struct{}))
	a, b, c, d := &flight{seq: 1, qos: 1}, &flight{seq: 2}, &flight{seq: 3, qos: 1}, &flight{seq: 4}
	idA1, _ := o.reserve(a, false)
	idA2, _ := o.reserve(a, true)
	o.written(b)
	idC, _ := o.reserve(c, true)
	o.written(d)
	next := func() *flight {
		select {
		case f := <-done:
			return f
		case <-time.After(10 * time.Millisecond):
			return nil
		}
	}
	require.Nil(t, next(), "nothing acknowledged yet")
	mine, err := o.ack(idA1)
	require.True(t, mine)
	require.NoError(t, err)
	require.Nil(t, next(), "a has a second message")
	_, err = o.ack(idA2)
	require.NoError(t, err)
	require.Same(t, a, next())
	require.Same(t, b, next(), "the QoS 0 flight behind a")
	require.Nil(t, next())
	_, err = o.ack(idC)
	require.NoError(t, err)
	require.Same(t, c, next())
	require.Same(t, d, next())

	e := &flight{seq: 5}
	o.written(e)
	require.Same(t, e, next(), "nothing pending: at once")

	f, g := &flight{qos: 1}, &flight{qos: 1}
	o.reserve(f, true)
	idG, _ := o.reserve(g, true)
	mine, err = o.ack(idG)
	require.True(t, mine)
	require.ErrorIs(t, err, errAckOutOfOrder)
}
