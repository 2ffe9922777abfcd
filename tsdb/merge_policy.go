package tsdb

import "time"

// Merge policy. Flushes add small parts to a partition; merges combine
// neighbouring parts (neighbours in sequence order, so that "newer part
// wins" stays true of the result) into larger ones, which compress better
// and cost queries fewer lookups.
const (
	// maxMergeWidth is the most parts one merge reads.
	maxMergeWidth = 8
	// minMergeWidth is the fewest parts a merge of a partition still being
	// written takes: waiting for a few parts makes each merge worth its I/O.
	minMergeWidth = 4
	// minMergeGain is the least output/largest-input size ratio of a merge of
	// a partition still being written: the parts merged are of about the
	// same size, as in a tiered merge, so a sample is rewritten about
	// log_4 of the number of flushes times. With 1.5, a large part was
	// merged again with every few small ones, and each sample of a day of
	// 3000 flushes was rewritten 8 times instead of 4
	// (TestMergePolicyRewritesEachSampleFewTimes); the price is up to a
	// dozen parts in a partition being written instead of four or five.
	minMergeGain = 4
	// coldAfter is how long after its day ended a partition is merged down
	// to one part: late data can still arrive, but rarely.
	coldAfter = time.Hour
)

// mergeCandidate is a run of neighbouring parts of one partition.
type mergeCandidate struct {
	day   int64
	parts []*partRef
	score float64
	cold  bool // the partition's day is over: encode in full
}

// pickMerge returns the best merge among all partitions, or false. Parts
// already being merged are not candidates. Called with the state lock held.
func (db *DB) pickMergeLocked(now time.Time) (mergeCandidate, bool) {
	var best mergeCandidate
	found := false
	for day, ps := range db.state.partitions {
		c, ok := pickInPartition(day, ps, isCold(day, now))
		if ok && (!found || c.score > best.score) {
			best, found = c, true
		}
	}
	return best, found
}

func isCold(day int64, now time.Time) bool {
	_, hi := partitionBounds(day)
	return now.UnixMilli() > hi+coldAfter.Milliseconds()
}

// pickInPartition chooses a run of parts to merge in one partition. A cold
// partition with several parts is merged whole (up to maxMergeWidth parts
// at a time), and a draft part left alone in one is rewritten in full;
// otherwise the run with the best gain among those of at least
// minMergeWidth parts and minMergeGain.
func pickInPartition(day int64, ps []*partRef, cold bool) (mergeCandidate, bool) {
	var best mergeCandidate
	found := false
	for i := range ps {
		var sum, largest int64
		for w := 1; w <= maxMergeWidth && i+w <= len(ps); w++ {
			p := ps[i+w-1]
			if p.merging {
				break
			}
			sum += p.info.Size
			largest = max(largest, p.info.Size)
			// A draft alone in a cold partition is rewritten by itself.
			aloneDraft := cold && p.draft && len(ps) == 1
			if (w < 2 && !aloneDraft) || (!cold && w < minMergeWidth) {
				continue
			}
			gain := float64(sum) / float64(max(largest, 1))
			if !cold && gain < minMergeGain {
				continue
			}
			// Prefer merging more parts for less output: the gain per byte
			// written. Cold partitions always win over hot ones.
			score := gain
			if cold {
				score += 1000
			}
			if !found || score > best.score {
				best = mergeCandidate{day: day, parts: ps[i : i+w], score: score, cold: cold}
				found = true
			}
		}
	}
	return best, found
}
