package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/quantrac/quantrac/broker/gateways"
	"github.com/quantrac/quantrac/ingest/pipeline"
)

// gatewayRec is one gateway of the loaded file with its runtime state. A
// reload keeps the record, and so its rate limiter and verified-password
// cache, of every gateway whose entry did not change.
type gatewayRec struct {
	entry    gateways.Entry
	identity pipeline.Identity
	// read are the filters bounding what the gateway may subscribe to.
	read    []string
	limiter *rateLimiter
	// verified is the HMAC, under the broker's per-process key, of the
	// last password bcrypt accepted for this entry: a gateway that
	// reconnects with it skips bcrypt.
	verified atomic.Pointer[[sha256.Size]byte]
}

// gatewayTable is an immutable snapshot of the gateways file.
type gatewayTable struct {
	byID map[string]*gatewayRec
	byCN map[string]*gatewayRec
}

func emptyTable() *gatewayTable {
	return &gatewayTable{byID: map[string]*gatewayRec{}, byCN: map[string]*gatewayRec{}}
}

// reloadResult says what a reload changed.
type reloadResult struct {
	added, removed, changed, unchanged int
}

// buildTable makes a table of entries, reusing old's record of every entry
// that did not change.
func (b *Broker) buildTable(entries []gateways.Entry, old *gatewayTable) (*gatewayTable, reloadResult) {
	t := emptyTable()
	var res reloadResult
	for _, e := range entries {
		rec := old.byID[e.ID]
		switch {
		case rec != nil && rec.entry == e:
			res.unchanged++
		default:
			if rec != nil {
				res.changed++
			} else {
				res.added++
			}
			id := pipeline.Identity{Province: e.Province, Gateway: e.ID}
			rec = &gatewayRec{entry: e, identity: id, read: readPatterns(id),
				limiter: newRateLimiter(b.opts.RateLimit, b.opts.RateBurst)}
		}
		t.byID[e.ID] = rec
		if e.CertCN != "" {
			t.byCN[e.CertCN] = rec
		}
	}
	for id := range old.byID {
		if _, ok := t.byID[id]; !ok {
			res.removed++
		}
	}
	return t, res
}

// loadGateways reads the gateways file and makes it current. On error the
// table in use stays.
func (b *Broker) loadGateways() (reloadResult, error) {
	if b.opts.GatewaysFile == "" {
		return reloadResult{}, nil
	}
	entries, err := gateways.Read(b.opts.GatewaysFile)
	if err != nil {
		return reloadResult{}, err
	}
	t, res := b.buildTable(entries, b.gateways.Load())
	b.gateways.Store(t)
	return res, nil
}

// checkPassword reports whether password is rec's. busy is set when no
// bcrypt slot came free within the connect timeout.
func (b *Broker) checkPassword(rec *gatewayRec, password []byte) (ok, busy bool) {
	mac := hmac.New(sha256.New, b.authKey[:])
	mac.Write([]byte(rec.entry.PasswordHash))
	mac.Write(password)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	if v := rec.verified.Load(); v != nil && hmac.Equal(v[:], sum[:]) {
		return true, false
	}
	timer := time.NewTimer(b.opts.ConnectTimeout)
	defer timer.Stop()
	select {
	case b.authSlots <- struct{}{}:
	case <-timer.C:
		return false, true
	case <-b.done:
		return false, true
	}
	ok = gateways.CheckPassword(rec.entry.PasswordHash, password)
	<-b.authSlots
	if ok {
		rec.verified.Store(&sum)
	}
	return ok, false
}

// session is what the broker knows of an admitted client.
type session struct {
	// rec is the authenticated gateway, nil for an anonymous client.
	rec *gatewayRec
	// identity is rec's, copied for the hot path.
	identity pipeline.Identity
	// limiter is the gateway's, or the anonymous client's own.
	limiter *rateLimiter
	// msg is OnPublish's message to the pipeline, reused: mochi calls
	// OnPublish on the client's own read goroutine, one publish at a time,
	// and the pipeline keeps nothing of a message once Ingest returns.
	msg pipeline.Message
}

func (b *Broker) session(cl *mqtt.Client) *session {
	if v, ok := b.sessions.Load(cl); ok {
		return v.(*session)
	}
	return nil
}

// readRights returns the filters cl may read, or nil with all set when it
// may read anything. A client that is not connected (a persistent session
// receiving while its gateway is away) is judged by its client id, which
// for a gateway is its gateway id.
func (b *Broker) readRights(cl *mqtt.Client) (patterns []string, all bool) {
	if s := b.session(cl); s != nil {
		if s.rec == nil {
			return nil, true
		}
		return s.rec.read, false
	}
	if rec := b.gateways.Load().byID[cl.ID]; rec != nil {
		return rec.read, false
	}
	return nil, b.opts.AllowAnonymous
}

// disconnectStale ends the connections of gateways that the table no
// longer holds as they were (removed, or changed in any way): they must
// authenticate again. Everyone else stays connected.
func (b *Broker) disconnectStale(t *gatewayTable) int {
	n := 0
	b.sessions.Range(func(k, v any) bool {
		cl, s := k.(*mqtt.Client), v.(*session)
		if s.rec != nil && t.byID[s.rec.entry.ID] != s.rec && !cl.Closed() {
			b.disconnect(cl, fmt.Errorf("gateway %s removed or changed by reload", s.rec.entry.ID))
			n++
		}
		return true
	})
	return n
}
