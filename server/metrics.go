package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/tsdb"
)

// collector exports the node's own counters. The libraries keep typed
// atomics; this reads them at scrape time, so nothing on the hot path touches
// a Prometheus metric.
type collector struct{ s *Server }

var (
	descClients    = prometheus.NewDesc("quantrac_mqtt_clients_connected", "MQTT clients connected now.", nil, nil)
	descMessages   = prometheus.NewDesc("quantrac_mqtt_messages_received_total", "Publishes received on data topics.", nil, nil)
	descBytes      = prometheus.NewDesc("quantrac_mqtt_payload_bytes_received_total", "Payload bytes received on data topics.", nil, nil)
	descStoreFail  = prometheus.NewDesc("quantrac_mqtt_publish_store_failures_total", "Publishes not acknowledged because the store could not take them.", nil, nil)
	descConnsOpen  = prometheus.NewDesc("quantrac_mqtt_connections_open", "MQTT connections open now, admitted or not yet.", nil, nil)
	descGwConf     = prometheus.NewDesc("quantrac_mqtt_gateways_configured", "Gateways in the loaded gateways file.", nil, nil)
	descGwConn     = prometheus.NewDesc("quantrac_mqtt_gateways_connected", "Authenticated gateways connected now, by province.", []string{"province"}, nil)
	descRefusals   = prometheus.NewDesc("quantrac_mqtt_refusals_total", "Connections, publishes and subscriptions the broker refused, by reason.", []string{"reason"}, nil)
	descThrottled  = prometheus.NewDesc("quantrac_mqtt_publishes_throttled_total", "Publishes the rate limit delayed (MQTT 3.1.1 and QoS 0).", nil, nil)
	descRebirths   = prometheus.NewDesc("quantrac_sparkplug_rebirth_requests_total", "Sparkplug rebirth commands (NCMD) sent to gateways.", nil, nil)
	descGwReloads  = prometheus.NewDesc("quantrac_mqtt_gateway_reloads_total", "Successful reloads of the gateways file.", nil, nil)
	descAccepted   = prometheus.NewDesc("quantrac_ingest_readings_accepted_total", "Samples accepted, by gateway.", []string{"province", "gateway"}, nil)
	descRejected   = prometheus.NewDesc("quantrac_ingest_readings_rejected_total", "Readings or whole messages refused, by gateway and reason.", []string{"province", "gateway", "reason"}, nil)
	descRefusedMsg = prometheus.NewDesc("quantrac_ingest_messages_refused_total", "Messages refused whole, by gateway.", []string{"province", "gateway"}, nil)
	descIngestMsgs = prometheus.NewDesc("quantrac_ingest_messages_total", "Messages decoded, by gateway.", []string{"province", "gateway"}, nil)
	descSeries     = prometheus.NewDesc("quantrac_tsdb_series", "Series in the store.", nil, nil)
	descSamples    = prometheus.NewDesc("quantrac_tsdb_samples_appended_total", "Samples committed to the store since start.", nil, nil)
	descCommits    = prometheus.NewDesc("quantrac_tsdb_commit_groups_total", "Commit groups written to the WAL.", nil, nil)
	descWALBytes   = prometheus.NewDesc("quantrac_tsdb_wal_bytes_written_total", "Bytes of records written to the WAL.", nil, nil)
	descFsync      = prometheus.NewDesc("quantrac_tsdb_wal_fsync_duration_seconds", "WAL fsync latency.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descMessages, descBytes, descStoreFail,
		descConnsOpen, descGwConf, descGwConn, descRefusals, descThrottled, descRebirths, descGwReloads,
		descAccepted, descRejected, descRefusedMsg, descIngestMsgs,
		descSeries, descSamples, descCommits, descWALBytes, descFsync} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	b := c.s.broker.Stats()
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(b.ClientsConnected))
	ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(b.Messages))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(b.Bytes))
	ch <- prometheus.MustNewConstMetric(descStoreFail, prometheus.CounterValue, float64(b.StoreFailures))
	ch <- prometheus.MustNewConstMetric(descConnsOpen, prometheus.GaugeValue, float64(b.ConnectionsOpen))
	ch <- prometheus.MustNewConstMetric(descGwConf, prometheus.GaugeValue, float64(b.GatewaysConfigured))
	for prov, n := range b.GatewaysConnected {
		ch <- prometheus.MustNewConstMetric(descGwConn, prometheus.GaugeValue, float64(n), prov)
	}
	for _, r := range b.Refusals {
		ch <- prometheus.MustNewConstMetric(descRefusals, prometheus.CounterValue, float64(r.Count), r.Reason)
	}
	ch <- prometheus.MustNewConstMetric(descThrottled, prometheus.CounterValue, float64(b.Throttled))
	ch <- prometheus.MustNewConstMetric(descRebirths, prometheus.CounterValue, float64(b.RebirthRequests))
	ch <- prometheus.MustNewConstMetric(descGwReloads, prometheus.CounterValue, float64(b.Reloads))

	for _, g := range c.s.pipeline.Gateways() {
		ch <- prometheus.MustNewConstMetric(descIngestMsgs, prometheus.CounterValue, float64(g.Messages.Load()), g.Province, g.Gateway)
		ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(g.Readings.Load()), g.Province, g.Gateway)
		ch <- prometheus.MustNewConstMetric(descRefusedMsg, prometheus.CounterValue, float64(g.RefusedMessages.Load()), g.Province, g.Gateway)
		for r := range g.Rejected {
			if n := g.Rejected[r].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(n), g.Province, g.Gateway, ingest.Reason(r).String())
			}
		}
	}

	st := c.s.db.Stats()
	ch <- prometheus.MustNewConstMetric(descSeries, prometheus.GaugeValue, float64(st.Series))
	ch <- prometheus.MustNewConstMetric(descSamples, prometheus.CounterValue, float64(st.SamplesAppended))
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(st.Commits))
	ch <- prometheus.MustNewConstMetric(descWALBytes, prometheus.CounterValue, float64(st.WALBytes))
	buckets := make(map[float64]uint64, len(tsdb.FsyncBuckets))
	for i, ub := range tsdb.FsyncBuckets {
		buckets[ub] = st.WALFsyncBuckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descFsync, uint64(st.WALFsyncs), st.WALFsyncSum, buckets)
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(storeCollector{s})
	reg.MustRegister(collector{s}, forwardCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "quantrac_build_info", Help: "Build version, as a label.",
			ConstLabels: prometheus.Labels{"version": s.opts.Version},
		}, func() float64 { return 1 }),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
