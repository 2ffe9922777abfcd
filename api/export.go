package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/storage"

	"github.com/quantrac/quantrac/export"
)

// export streams a selection as Parquet, Arrow IPC, CSV or JSON lines. The
// response is written as the series are read, in constant memory; an error
// after the first byte can only cut the stream short, which the client sees
// as a truncated file (and the audit record says so).
func (a *API) export(w http.ResponseWriter, r *http.Request) {
	req, ok := a.authorize(w, r)
	if !ok {
		return
	}
	if !req.scope.CanExport() {
		a.failed(w, req, errorForbidden, errors.New("this token may not export"))
		return
	}
	sel, err := parseSelection(r, true)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	formatName := r.Form.Get("format")
	if formatName == "" {
		formatName = "parquet"
	}
	format, err := export.ParseFormat(formatName)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	req.rec.Query, req.rec.Start, req.rec.End, req.rec.Format = sel.String(), sel.start, sel.end, format.String()
	if len(sel.matchers) != 1 {
		a.failed(w, req, errorBadData, errors.New("export takes exactly one match[] selector"))
		return
	}
	ms := sel.matchers[0]
	mint, maxt := sel.start.UnixMilli(), sel.end.UnixMilli()
	q, err := req.q.Querier(mint, maxt)
	if err != nil {
		a.failed(w, req, errorInternal, err)
		return
	}
	defer q.Close()
	cols, _, err := q.LabelNames(r.Context(), nil, ms...)
	if err != nil {
		a.failed(w, req, classify(err), err)
		return
	}
	cols = exportColumns(cols)
	if len(cols) == 0 {
		a.failed(w, req, errorNotFound, errors.New("the selection matches no series"))
		return
	}
	set := q.Select(r.Context(), true, &storage.SelectHints{Start: mint, End: maxt}, ms...)

	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="quantrac-export%s"`, format.Extension()))
	st, err := export.Export(r.Context(), w, set, export.Options{Format: format, Columns: cols})
	req.rec.Series, req.rec.Samples, req.rec.Bytes = st.Series, st.Rows, st.Bytes
	if err != nil {
		req.rec.Status, req.rec.Error = "error", err.Error()
		a.log.Warn("export cut short", "token", req.rec.Token, "err", err)
		a.audit(req)
		// The status line is long gone. Abort the connection instead of
		// ending the chunked stream cleanly, so the client sees an error,
		// not a shorter file that looks whole.
		panic(http.ErrAbortHandler)
	}
	a.audit(req)
}

// exportColumns puts the metric name first and the platform's labels next,
// so every export starts metric, province, gateway, device.
func exportColumns(names []string) []string {
	first := []string{model.MetricNameLabel, "province", "gateway", "device"}
	out := make([]string, 0, len(names))
	for _, f := range first {
		if slices.Contains(names, f) {
			out = append(out, f)
		}
	}
	for _, n := range names {
		if !slices.Contains(first, n) {
			out = append(out, n)
		}
	}
	return out
}
