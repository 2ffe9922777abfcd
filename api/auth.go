package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/quantrac/quantrac/access"
)

// errNoToken is the answer to a read without a usable token.
var errNoToken = errors.New("a read token is required: send Authorization: Bearer <token>")

// request is one authenticated read: its scope, the store as that scope sees
// it, and the audit record being filled.
type request struct {
	scope access.Scope
	q     storage.Queryable
	rec   access.AuditRecord
	start time.Time
}

// authorize returns the reader's request, or writes the refusal and returns
// false. Every read goes through here, so no endpoint can reach the store
// unrestricted.
func (a *API) authorize(w http.ResponseWriter, r *http.Request) (*request, bool) {
	req := &request{start: time.Now(), rec: access.AuditRecord{Endpoint: r.URL.Path, Remote: r.RemoteAddr}}
	var err error
	switch {
	case a.opts.Tokens != nil:
		bearer, ok := access.BearerToken(r.Header.Get("Authorization"))
		if !ok && a.opts.AllowAnonymous {
			req.scope = access.FullScope("anonymous")
			break
		}
		if !ok {
			err = errNoToken
			break
		}
		req.scope, err = a.opts.Tokens.Authenticate(bearer)
	case a.opts.AllowAnonymous:
		req.scope = access.FullScope("anonymous")
	default:
		err = errNoToken
	}
	if err != nil {
		req.rec.Status, req.rec.Error = access.AuditDenied, err.Error()
		a.audit(req)
		a.fail(w, errorUnauth, err)
		return nil, false
	}
	req.rec.Token = req.scope.Token()
	req.q = access.Restrict(a.opts.Queryable, req.scope)
	return req, true
}

// audit writes the request's record. The audit log is the data owners'
// account of who read what, so a failure to write it is logged loudly.
func (a *API) audit(req *request) {
	if a.opts.Audit == nil {
		return
	}
	req.rec.Duration = time.Since(req.start).Seconds()
	if req.rec.Status == "" {
		req.rec.Status = access.AuditOK
	}
	if err := a.opts.Audit.Log(req.rec); err != nil {
		a.log.Error("cannot write audit record", "endpoint", req.rec.Endpoint, "token", req.rec.Token, "err", err)
	}
}

// denied finishes a request that failed after authentication.
func (a *API) failed(w http.ResponseWriter, req *request, t errorType, err error) {
	req.rec.Status, req.rec.Error = access.AuditError, err.Error()
	if t == errorForbidden {
		req.rec.Status = access.AuditDenied
	}
	a.audit(req)
	a.fail(w, t, err)
}
