package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// forwardCollector exports the forwarding queue's gauges and counters, one
// series per destination. It exports nothing when the node does not forward.
type forwardCollector struct{ s *Server }

var (
	destLabel       = []string{"destination"}
	descFwQueueSmp  = prometheus.NewDesc("quantrac_forward_queue_samples", "Samples queued and not yet delivered, by destination.", destLabel, nil)
	descFwQueueB    = prometheus.NewDesc("quantrac_forward_queue_bytes", "Queue bytes not yet delivered, by destination.", destLabel, nil)
	descFwOldest    = prometheus.NewDesc("quantrac_forward_oldest_undelivered_seconds", "How long the oldest undelivered sample has been queued, by destination; 0 when none waits.", destLabel, nil)
	descFwSent      = prometheus.NewDesc("quantrac_forward_samples_sent_total", "Samples the receiver accepted, by destination.", destLabel, nil)
	descFwRetried   = prometheus.NewDesc("quantrac_forward_samples_retried_total", "Samples sent again after a retryable failure (429, 5xx, network), by destination.", destLabel, nil)
	descFwFailed    = prometheus.NewDesc("quantrac_forward_samples_failed_total", "Samples the receiver rejected (4xx other than 429) and that are not retried, by destination.", destLabel, nil)
	descFwDropped   = prometheus.NewDesc("quantrac_forward_samples_dropped_total", "Samples dropped undelivered because the destination's queue was full, by destination.", destLabel, nil)
	descFwFiltered  = prometheus.NewDesc("quantrac_forward_samples_filtered_total", "Samples the destination's match[] selectors did not pick, by destination.", destLabel, nil)
	descFwRequests  = prometheus.NewDesc("quantrac_forward_requests_total", "Remote-write requests sent, retries included, by destination.", destLabel, nil)
	descFwReqBytes  = prometheus.NewDesc("quantrac_forward_request_bytes_total", "Compressed bytes of those requests, by destination.", destLabel, nil)
	descFwShards    = prometheus.NewDesc("quantrac_forward_shards", "Parallel senders in use, by destination.", destLabel, nil)
	descFwLogBytes  = prometheus.NewDesc("quantrac_forward_log_bytes", "Bytes of the shared queue's segment files on disk.", nil, nil)
	descFwLogSegs   = prometheus.NewDesc("quantrac_forward_log_segments", "Segment files of the shared queue on disk.", nil, nil)
	descFwAppended  = prometheus.NewDesc("quantrac_forward_samples_queued_total", "Samples appended to the queue since it was created.", nil, nil)
	descFwCorrupted = prometheus.NewDesc("quantrac_forward_corrupt_records_total", "Damaged queue records skipped since start.", nil, nil)
)

func (c forwardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFwQueueSmp, descFwQueueB, descFwOldest, descFwSent, descFwRetried,
		descFwFailed, descFwDropped, descFwFiltered, descFwRequests, descFwReqBytes, descFwShards,
		descFwLogBytes, descFwLogSegs, descFwAppended, descFwCorrupted} {
		ch <- d
	}
}

func (c forwardCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.s.forward
	if f == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v int64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	for _, st := range f.Stats() {
		gauge(descFwQueueSmp, float64(st.QueueSamples), st.Name)
		gauge(descFwQueueB, float64(st.QueueBytes), st.Name)
		gauge(descFwOldest, st.OldestUndelivered.Seconds(), st.Name)
		gauge(descFwShards, float64(st.Shards), st.Name)
		counter(descFwSent, st.Sent, st.Name)
		counter(descFwRetried, st.Retried, st.Name)
		counter(descFwFailed, st.Failed, st.Name)
		counter(descFwDropped, st.Dropped, st.Name)
		counter(descFwFiltered, st.Filtered, st.Name)
		counter(descFwRequests, st.Requests, st.Name)
		counter(descFwReqBytes, st.RequestBytes, st.Name)
	}
	ls := f.LogStats()
	gauge(descFwLogBytes, float64(ls.Bytes))
	gauge(descFwLogSegs, float64(ls.Segments))
	counter(descFwAppended, int64(ls.Samples))
	counter(descFwCorrupted, ls.CorruptRecords)
}
