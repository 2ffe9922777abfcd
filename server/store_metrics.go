package server

import "github.com/prometheus/client_golang/prometheus"

// storeCollector exports the store's layout and what its last start had to
// drop from a damaged write-ahead log. The replay figures are gauges: they
// describe the last start and are reset by the next.
type storeCollector struct{ s *Server }

var (
	descPartitions    = prometheus.NewDesc("quantrac_tsdb_partitions", "Daily partitions on disk.", nil, nil)
	descParts         = prometheus.NewDesc("quantrac_tsdb_parts", "Part files on disk.", nil, nil)
	descPartBytes     = prometheus.NewDesc("quantrac_tsdb_part_bytes", "Bytes of all part files.", nil, nil)
	descPartSamples   = prometheus.NewDesc("quantrac_tsdb_part_samples", "Samples in all part files.", nil, nil)
	descHeadSamples   = prometheus.NewDesc("quantrac_tsdb_head_samples", "Samples in the in-memory head, not yet in parts.", nil, nil)
	descHeadSeries    = prometheus.NewDesc("quantrac_tsdb_head_series", "Series with samples in the head.", nil, nil)
	descFlushes       = prometheus.NewDesc("quantrac_tsdb_head_flushes_total", "Head flushes into parts.", nil, nil)
	descMerges        = prometheus.NewDesc("quantrac_tsdb_merges_total", "Part merges completed.", nil, nil)
	descMergeErrors   = prometheus.NewDesc("quantrac_tsdb_merge_errors_total", "Part merges that failed.", nil, nil)
	descDropped       = prometheus.NewDesc("quantrac_tsdb_retention_partitions_dropped_total", "Partitions dropped by retention.", nil, nil)
	descBrokenParts   = prometheus.NewDesc("quantrac_tsdb_broken_parts", "Part files set aside at start because they did not open.", nil, nil)
	descBrokenSeries  = prometheus.NewDesc("quantrac_tsdb_broken_series_files", "Series files skipped at start because they were damaged.", nil, nil)
	descReplaySamples = prometheus.NewDesc("quantrac_tsdb_wal_replay_samples", "Samples the WAL replay at the last start put back into the head.", nil, nil)
	descReplayRecords = prometheus.NewDesc("quantrac_tsdb_wal_replay_dropped_records", "Damaged WAL stretches, and records that did not decode, the last start skipped.", nil, nil)
	descReplaySkipped = prometheus.NewDesc("quantrac_tsdb_wal_replay_skipped_bytes", "Bytes of damaged WAL the last start skipped between intact records.", nil, nil)
	descReplayBytes   = prometheus.NewDesc("quantrac_tsdb_wal_replay_truncated_bytes", "Bytes the last start cut from torn WAL segment tails.", nil, nil)
	descHeadFullWaits = prometheus.NewDesc("quantrac_tsdb_head_full_waits_total", "Times commits waited for a flush because the head held twice its budget.", nil, nil)
	descHeadFullSecs  = prometheus.NewDesc("quantrac_tsdb_head_full_wait_seconds_total", "Time commits waited for a flush because the head was full.", nil, nil)
	descReplayOrphans = prometheus.NewDesc("quantrac_tsdb_wal_replay_orphan_samples", "Samples the last start dropped because their series definition was damaged.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitions, descParts, descPartBytes, descPartSamples,
		descHeadSamples, descHeadSeries, descFlushes, descMerges, descMergeErrors, descDropped,
		descBrokenParts, descBrokenSeries, descReplaySamples, descReplayRecords, descReplaySkipped, descReplayBytes, descReplayOrphans,
		descHeadFullWaits, descHeadFullSecs} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.db.Stats()
	for _, m := range []struct {
		d *prometheus.Desc
		t prometheus.ValueType
		v int64
	}{
		{descPartitions, prometheus.GaugeValue, int64(st.Partitions)},
		{descParts, prometheus.GaugeValue, int64(st.Parts)},
		{descPartBytes, prometheus.GaugeValue, st.PartBytes},
		{descPartSamples, prometheus.GaugeValue, st.PartSamples},
		{descHeadSamples, prometheus.GaugeValue, st.HeadSamples},
		{descHeadSeries, prometheus.GaugeValue, st.HeadSeries},
		{descFlushes, prometheus.CounterValue, st.Flushes},
		{descMerges, prometheus.CounterValue, st.Merges},
		{descMergeErrors, prometheus.CounterValue, st.MergeErrors},
		{descDropped, prometheus.CounterValue, st.PartitionsDropped},
		{descBrokenParts, prometheus.GaugeValue, st.BrokenParts},
		{descBrokenSeries, prometheus.GaugeValue, st.BrokenSeriesFiles},
		{descReplaySamples, prometheus.GaugeValue, st.ReplaySamples},
		{descReplayRecords, prometheus.GaugeValue, st.ReplayDroppedRecords},
		{descReplaySkipped, prometheus.GaugeValue, st.ReplaySkippedBytes},
		{descReplayBytes, prometheus.GaugeValue, st.ReplayTruncatedBytes},
		{descReplayOrphans, prometheus.GaugeValue, st.ReplayOrphanSamples},
		{descHeadFullWaits, prometheus.CounterValue, st.HeadFullWaits},
	} {
		ch <- prometheus.MustNewConstMetric(m.d, m.t, float64(m.v))
	}
	ch <- prometheus.MustNewConstMetric(descHeadFullSecs, prometheus.CounterValue, st.HeadFullWaitSeconds)
}
