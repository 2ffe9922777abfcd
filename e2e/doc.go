// Package e2e holds end-to-end tests that run the quantrac binary as a
// separate process and talk to it only over its network interfaces: MQTT
// publishers on one side, the Prometheus HTTP API on the other. They check
// contracts no in-process test can, such as what survives kill -9.
package e2e
