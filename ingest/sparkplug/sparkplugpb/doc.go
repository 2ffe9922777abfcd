// Package sparkplugpb holds the Go types generated from sparkplug_b.proto, the
// Sparkplug B payload schema. They are for building payloads (the gateway
// simulator, tests, tools); the ingest hot path does not use them and walks
// the wire format itself (package sparkplug) so that it does not allocate.
//
// The generated file is committed. To regenerate it, protoc (Debian package
// protobuf-compiler) and protoc-gen-go at the version pinned in go.mod must
// be on PATH; from the module root:
//
//	GOBIN=$(mktemp -d) go install google.golang.org/protobuf/cmd/protoc-gen-go
//	PATH=$GOBIN:$PATH go generate ./ingest/sparkplug/sparkplugpb
package sparkplugpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative sparkplug_b.proto
