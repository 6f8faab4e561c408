package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear: values below 2^(subBits+1) ns are counted
// exactly; above, each power of two is split into 2^subBits equal buckets.
// With subBits = 7 a bucket is at most 1/128 of its lower bound wide, and a
// quantile reported at the bucket's midpoint is within 0.4% of the true
// value. Values are capped at 2^(maxBit+1) ns (about 36 minutes).
const (
	subBits    = 7
	subCount   = 1 << subBits // buckets per power of two
	linearMax  = 2 * subCount // values below this are exact
	maxBit     = 40           // highest bit position tracked
	numBuckets = linearMax + (maxBit-subBits)*subCount
	maxValue   = uint64(1)<<(maxBit+1) - 1
)

// histogram counts latencies. It is not safe for concurrent use: each worker
// owns one, and they are merged after the run.
type histogram struct {
	counts []uint64
	n      uint64
	max    uint64
	min    uint64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, numBuckets), min: math.MaxUint64}
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	if v > maxValue {
		v = maxValue
	}
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
	if v < h.min {
		h.min = v
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
	h.min = min(h.min, o.min)
}

// bucketOf returns the index of the bucket holding v (v <= maxValue).
func bucketOf(v uint64) int {
	if v < linearMax {
		return int(v)
	}
	top := bits.Len64(v) - 1 // position of the highest set bit, >= subBits+1
	shift := top - subBits
	return linearMax + (top-subBits-1)*subCount + int(v>>shift) - subCount
}

// bucketMid returns the midpoint of bucket i, the value reported for it.
func bucketMid(i int) uint64 {
	if i < linearMax {
		return uint64(i)
	}
	j := i - linearMax
	top := j/subCount + subBits + 1
	shift := top - subBits
	low := uint64(j%subCount+subCount) << shift
	return low + (uint64(1)<<shift)/2
}

// quantile returns the value at quantile q (0 < q <= 1): the smallest
// recorded value such that a fraction q of the values are at or below it,
// to the histogram's precision, and never outside the recorded range.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			v := bucketMid(i)
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
