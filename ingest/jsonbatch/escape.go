package jsonbatch

import (
	"bytes"
	"strconv"
	"unicode/utf16"
)

// appendUnescaped decodes the escapes of a raw JSON string as fastjson
// does: the JSON escapes, \u with UTF-16 surrogate pairs, and anything
// else (an unknown or short escape) kept as written.
func appendUnescaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		n := bytes.IndexByte(raw, '\\')
		if n < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:n]...)
		raw = raw[n+1:]
		if len(raw) == 0 {
			return append(dst, '\\')
		}
		c := raw[0]
		raw = raw[1:]
		switch c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			dst, raw = appendUnicodeEscape(dst, raw)
		default:
			dst = append(dst, '\\', c)
		}
	}
	return dst
}

// appendUnicodeEscape decodes the XXXX (and a following \uXXXX low
// surrogate) after a \u.
func appendUnicodeEscape(dst, raw []byte) ([]byte, []byte) {
	if len(raw) < 4 {
		return append(dst, `\u`...), raw
	}
	x, err := strconv.ParseUint(string(raw[:4]), 16, 16)
	if err != nil {
		return append(dst, `\u`...), raw
	}
	hex := raw[:4]
	raw = raw[4:]
	if !utf16.IsSurrogate(rune(x)) {
		return append(dst, string(rune(x))...), raw
	}
	if len(raw) < 6 || raw[0] != '\\' || raw[1] != 'u' {
		return append(append(dst, `\u`...), hex...), raw
	}
	x1, err := strconv.ParseUint(string(raw[2:6]), 16, 16)
	if err != nil {
		return append(append(dst, `\u`...), hex...), raw
	}
	return append(dst, string(utf16.DecodeRune(rune(x), rune(x1)))...), raw[6:]
}
