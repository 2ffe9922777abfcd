package deps

import (
	_ "github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	_ "github.com/apache/arrow-go/v18/parquet"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/influxdata/line-protocol/v2/lineprotocol"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/prometheus/prometheus/promql"
	_ "github.com/stretchr/testify/require"
	_ "github.com/valyala/fastjson"
	_ "go.uber.org/goleak"
	_ "golang.org/x/crypto/bcrypt"
	_ "google.golang.org/protobuf/proto"
	_ "github.com/golang/snappy"
)
