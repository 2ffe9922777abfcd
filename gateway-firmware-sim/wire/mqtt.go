package wire

// AppendPublishQoS0 appends an MQTT 3.1.1 PUBLISH packet at QoS 0 (no
// DUP, no RETAIN, no packet identifier) carrying payload on topic. The
// simulator speaks MQTT 3.1.1 only; an MQTT 5 PUBLISH would also carry a
// property length. A remaining length past the protocol's 268 435 455
// bytes is the caller's error: the simulator's messages are far smaller.
func AppendPublishQoS0(dst []byte, topic string, payload []byte) []byte {
	rem := 2 + len(topic) + len(payload)
	dst = append(dst, 0x30)
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
	dst = append(dst, topic...)
	return append(dst, payload...)
}
