package forward

import (
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// extLabel is a label added on the way, kept as bytes for encoding.
type extLabel struct{ name, value []byte }

func newExtLabels(ls labels.Labels) []extLabel {
	var out []extLabel
	ls.Range(func(l labels.Label) {
		out = append(out, extLabel{[]byte(l.Name), []byte(l.Value)})
	})
	return out
}

// selected reports whether the sample's series matches one of the
// destination's selectors. Selectors see the series as stored, before any
// label is added.
func (d *destination) selected(rec *record, s *sample) bool {
	if len(d.selectors) == 0 {
		return true
	}
	for _, sel := range d.selectors {
		ok := true
		for _, m := range sel {
			if !m.Matches(labelValue(rec, s, m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// labelValue returns the value of the sample's label name, or "". The
// string aliases the record body, to spare an allocation per sample: it is
// only compared by the matcher, never kept.
func labelValue(rec *record, s *sample, name string) string {
	for i := 0; i < len(s.labels); i += 2 {
		if string(rec.symbols[s.labels[i]]) == name {
			v := rec.symbols[s.labels[i+1]]
			return unsafe.String(unsafe.SliceData(v), len(v))
		}
	}
	return ""
}

// appendLabels appends the sample's labels merged with the destination's
// added labels, as encoded protobuf Label fields in name order, and returns
// the extended slice. An added label never replaces one the series has:
// province and gateway stay what the authenticating node set.
func (d *destination) appendLabels(dst []byte, rec *record, s *sample) []byte {
	ext := d.external
	for i := 0; i < len(s.labels); i += 2 {
		name := rec.symbols[s.labels[i]]
		for len(ext) > 0 && string(ext[0].name) <= string(name) {
			if string(ext[0].name) != string(name) {
				dst = appendLabel(dst, ext[0].name, ext[0].value)
			}
			ext = ext[1:]
		}
		dst = appendLabel(dst, name, rec.symbols[s.labels[i+1]])
	}
	for _, e := range ext {
		dst = appendLabel(dst, e.name, e.value)
	}
	return dst
}
