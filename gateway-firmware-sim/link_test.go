package gwsim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// linkPair returns a coalescing link and the broker's end of its TCP
// connection, on loopback.
func linkPair(t *testing.T, timeout time.Duration) (*linkConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	l := newLinkConn(raw, timeout)
	t.Cleanup(func() { l.cut(); peer.Close() })
	return l, peer
}

// TestLinkDeliversEveryWriteInOrder: writes of every size, coalesced or
// not, reach the other end whole and in order, and Close sends what is
// still pending before closing (a polite DISCONNECT must arrive).
func TestLinkDeliversEveryWriteInOrder(t *testing.T) {
	l, peer := linkPair(t, 5*time.Second)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	var want bytes.Buffer
	for i := range 5000 {
		n := 1 + i*37%300
		if i%1000 == 999 {
			n = 3 * coalesceLimit // larger than the pending buffer
		}
		p := bytes.Repeat([]byte{byte(i)}, n)
		want.Write(p)
		m, err := l.Write(p)
		require.NoError(t, err)
		require.Equal(t, n, m)
	}
	require.NoError(t, l.Close())
	select {
	case b := <-got:
		require.Equal(t, want.Len(), len(b))
		require.True(t, bytes.Equal(want.Bytes(), b), "the bytes differ")
	case <-time.After(30 * time.Second):
		t.Fatal("the peer did not see the connection closed")
	}
	_, err := l.Write([]byte("late"))
	require.Error(t, err)
}

// TestLinkCutDropsPending: a cut link is a lost radio: reads and writes
// report errLinkDown at once.
func TestLinkCutDropsPending(t *testing.T) {
	l, _ := linkPair(t, 5*time.Second)
	_, err := l.Write([]byte("x"))
	require.NoError(t, err)
	l.cut()
	_, err = l.Read(make([]byte, 1))
	require.ErrorIs(t, err, errLinkDown)
	waitFor(t, "the flusher to stop", func() bool {
		_, err = l.Write([]byte("y"))
		return err != nil
	})
	require.ErrorIs(t, err, errLinkDown)
}

// TestLinkWriteHonoursItsDeadline: against a broker that reads nothing,
// Write blocks once the pending buffer and the socket are full, and gives
// up at its deadline (or when the flush times out), so paho's write
// timeout still means what it says.
func TestLinkWriteHonoursItsDeadline(t *testing.T) {
	l, _ := linkPair(t, 300*time.Millisecond)
	chunk := make([]byte, 16<<10)
	var err error
	for i := 0; i < 1<<14 && err == nil; i++ { // at most 256 MiB
		require.NoError(t, l.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
		_, err = l.Write(chunk)
	}
	require.Error(t, err, "256 MiB written to a broker that reads nothing")
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "got %v", err)
}
