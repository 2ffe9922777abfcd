package jsonbatch

// The parts of the scanner that index a reading: its members (device, ts,
// tags, fields) and the members of its tags and fields objects, with the
// comparisons against earlier readings that spare scanning what repeats.

// readingElem indexes one element of "readings".
func (s *scanner) readingElem(i, depth int) (int, error) {
	s.idx.items = append(s.idx.items, readingRef{})
	it := &s.idx.items[len(s.idx.items)-1]
	s.rPos = 0
	if i < len(s.b) && s.b[i] == '{' {
		it.self = ref{start: int32(i), kind: kObject}
		return s.object(i+1, depth+1, modeReading)
	}
	r, end, err := s.valueRef(i, depth)
	it.self = r
	return end, err
}

// readingMember indexes the first device, ts, tags and fields of the
// reading being scanned, counting the members of tags and fields.
func (s *scanner) readingMember(key ref, i, depth int) (int, error) {
	it := &s.idx.items[len(s.idx.items)-1]
	name := s.rName
	if name == nameUnknown {
		switch {
		case s.keyIs(key, "device"):
			name = nameDevice
		case s.keyIs(key, "ts"):
			name = nameTS
		case s.keyIs(key, "fields"):
			name = nameFields
		case s.keyIs(key, "tags"):
			name = nameTags
		default:
			name = nameOther
		}
	}
	if p := s.rPos; p < readingKeys {
		s.rKeys[p], s.rNames[p] = key, name
	}
	s.rPos++
	var dst *ref
	var count, at *int32
	switch {
	case name == nameDevice && it.device.kind == kNone:
		dst = &it.device
	case name == nameTS && it.ts.kind == kNone:
		dst = &it.ts
	case name == nameFields && it.fields.kind == kNone:
		dst, count, at = &it.fields, &it.nFields, &it.fieldsAt
	case name == nameTags && it.tags.kind == kNone:
		dst, count, at = &it.tags, &it.nTags, &it.tagsAt
	default:
		return s.value(i, depth)
	}
	if count != nil && i < len(s.b) && s.b[i] == '{' {
		*dst = ref{start: int32(i), kind: kObject}
		s.count, *at = 0, int32(len(s.idx.members))
		s.expAt, s.expN, s.lookBack = 0, 0, dst == &it.fields
		if n := len(s.idx.items); n > 1 {
			prev := &s.idx.items[n-2]
			if dst == &it.fields {
				s.expAt, s.expN = prev.fieldsAt, prev.nFields
			} else {
				s.expAt, s.expN = prev.tagsAt, prev.nTags
			}
		}
		end, err := s.members(i+1, depth+1)
		*count = s.count
		dst.end = int32(end)
		if dst == &it.fields {
			s.idx.values += int(s.count)
		}
		return end, err
	}
	r, end, err := s.valueRef(i, depth)
	*dst = r
	return end, err
}

// members scans the members of a reading's "tags" or "fields" object,
// whose '{' precedes i, nested depth deep, indexing each in index.members
// and counting them in s.count: a loop of its own, apart from object's,
// with the separators that gateways write without spaces tried first.
func (s *scanner) members(i, depth int) (int, error) {
	b := s.b
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return i, s.syntaxErr(i, "want '\"' to open an object key")
		}
		key, j, err := s.memberKey(i + 1)
		if err != nil {
			return j, err
		}
		if j < len(b) && b[j] == ':' {
			i = j + 1
		} else if i = skipSpace(b, j); i >= len(b) || b[i] != ':' {
			return i, s.syntaxErr(i, "want ':' after an object key")
		} else {
			i++
		}
		i = skipSpace(b, i)
		var v ref
		var f float64
		if i < len(b) && (b[i] == '-' || b[i]-'0' < 10) {
			v, f, i, err = s.shortNumber(i)
		} else {
			v, i, err = s.valueRef(i, depth)
		}
		if err != nil {
			return i, err
		}
		s.idx.members = append(s.idx.members, member{key: key, val: v, num: f, from: s.from})
		s.count++
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, s.syntaxErr(i, "unexpected end of object")
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, nil
		default:
			return i, s.syntaxErr(i, "want ',' or '}' after an object value")
		}
	}
}

// lookBackReadings bounds the search for an earlier reading of the same
// layout when the previous one has another: a gateway of several kinds of
// device interleaves their readings.
const lookBackReadings = 8

// memberKey scans a key of a reading's "tags" or "fields", trying the
// expected key first, and sets s.from.
func (s *scanner) memberKey(i int) (ref, int, error) {
	s.from = -1
	if s.count < s.expN {
		if at := s.expAt + s.count; s.expectedKey(i, at) {
			s.from = at
			n := s.idx.members[at].key.end - s.idx.members[at].key.start
			return ref{start: int32(i), end: int32(i) + n, kind: kString}, i + int(n) + 1, nil
		}
	}
	if s.count == 0 && s.lookBack {
		s.lookBack = false
		items := s.idx.items
		for j := len(items) - 3; j >= 0 && j >= len(items)-2-lookBackReadings; j-- {
			if it := &items[j]; it.nFields > 0 && s.expectedKey(i, it.fieldsAt) {
				s.expAt, s.expN = it.fieldsAt, it.nFields
				return s.memberKey(i)
			}
		}
	}
	return s.str(i)
}

// expectedKey tests whether the string whose opening quote precedes i is
// the key of members[at]: a gateway sends the same fields in the same order
// reading after reading, and one comparison of the whole key is cheaper
// than scanning it. An expected key has no backslash, so the quote after
// it closes the string.
func (s *scanner) expectedKey(i int, at int32) bool {
	want := s.idx.members[at].key
	if want.escaped() {
		return false
	}
	n := int(want.end - want.start)
	b := s.b
	return i+n < len(b) && b[i+n] == '"' && string(b[i:i+n]) == string(b[want.start:want.end])
}

// readingKey scans a key of a reading, first comparing it whole with the
// key in the same place of the previous reading, whose name it then has.
func (s *scanner) readingKey(i int) (ref, int, error) {
	s.rName = nameUnknown
	if p := s.rPos; p < readingKeys {
		if want := s.rKeys[p]; want.kind == kString && !want.escaped() {
			n := int(want.end - want.start)
			b := s.b
			if i+n < len(b) && b[i+n] == '"' && string(b[i:i+n]) == string(b[want.start:want.end]) {
				s.rName = s.rNames[p]
				return ref{start: int32(i), end: int32(i + n), kind: kString}, i + n + 1, nil
			}
		}
	}
	return s.str(i)
}
