package wire

// AppendPublishQoS0 appends an MQTT 3.1.1 PUBLISH packet at QoS 0 (no
// DUP, no RETAIN, no packet identifier) carrying payload on topic. The
// simulator speaks MQTT 3.1.1 only; an MQTT 5 PUBLISH would also carry a
// property length. A remaining length past the protocol's 268 435 455
// bytes is the caller's error: the simulator's messages are far smaller.
func AppendPublishQoS0(dst []byte, topic string, payload []byte) []byte {
	dst = appendPublishHeader(dst, 0x30, 2+len(topic)+len(payload), topic)
	return append(dst, payload...)
}

// AppendPublishQoS1 appends an MQTT 3.1.1 PUBLISH packet at QoS 1 with
// packet identifier id (not DUP, not RETAIN), as AppendPublishQoS0.
func AppendPublishQoS1(dst []byte, topic string, id uint16, payload []byte) []byte {
	dst = appendPublishHeader(dst, 0x32, 4+len(topic)+len(payload), topic)
	dst = append(dst, byte(id>>8), byte(id))
	return append(dst, payload...)
}

// FixedHeader decodes the fixed header at the start of b: the packet's
// remaining length and the header's own size. ok is false until the
// header is whole. A length of more than four bytes is malformed; it is
// reported as a header of five bytes and length 0, for the packet's reader
// to refuse.
func FixedHeader(b []byte) (rem, hdr int, ok bool) {
	mult := 1
	for i := 1; i < len(b) && i <= 4; i++ {
		rem += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return rem, i + 1, true
		}
		mult <<= 7
	}
	if len(b) > 4 {
		return 0, min(len(b), 5), true
	}
	return 0, 0, false
}

// appendPublishHeader appends the fixed header and the topic name.
func appendPublishHeader(dst []byte, first byte, rem int, topic string) []byte {
	dst = append(dst, first)
	for {
		b := byte(rem & 0x7f)
		rem >>= 7
		if rem > 0 {
			dst = append(dst, b|0x80)
			continue
		}
		dst = append(dst, b)
		break
	}
	dst = append(dst, byte(len(topic)>>8), byte(len(topic)))
	return append(dst, topic...)
}
