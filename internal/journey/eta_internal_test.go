package journey

import (
	"testing"
	"time"
)

// TestETASentence says estimates the way a parcel's delivery is said.
func TestETASentence(t *testing.T) {
	// Monday 23 November 2026, 09:00 UTC.
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		median time.Duration
		p80At  time.Time
		basis  string
		loc    *time.Location
		want   string
	}{
		{"later today", 3 * time.Hour, now.Add(6 * time.Hour), BasisHistory, time.UTC, "usually ready within 3 hours; 8 in 10 by 15:00 today"},
		{"tomorrow", 20*time.Hour + time.Minute, now.Add(24 * time.Hour), BasisHistory, time.UTC, "usually ready within 21 hours; 8 in 10 by tomorrow"},
		{"this week", 36 * time.Hour, now.Add(72 * time.Hour), BasisHistory, time.UTC, "usually ready within 2 days; 8 in 10 by Thursday"},
		{"default", 24 * time.Hour, now.Add(48 * time.Hour), BasisDefault, time.UTC, "estimate: no history yet; usually ready within 1 day; 8 in 10 by Wednesday"},
		{"beyond the week", 5 * 24 * time.Hour, now.Add(10 * 24 * time.Hour), BasisDefault, time.UTC, "estimate: no history yet; usually ready within 5 days; 8 in 10 by 3 December"},
		{"next year", 20 * 24 * time.Hour, now.Add(40 * 24 * time.Hour), BasisHistory, time.UTC, "usually ready within 20 days; 8 in 10 by 2 January 2027"},
		{"late", time.Hour, now.Add(-2 * time.Hour), BasisHistory, time.UTC, "usually ready within 1 hour; taking longer than most: 8 in 10 were ready by 07:00 today"},
		// 23:30 UTC on Monday is already Tuesday in Paris.
		{"in the policy's zone", 10 * time.Hour, time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC), BasisHistory, paris, "usually ready within 10 hours; 8 in 10 by tomorrow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := etaSentence(now, tc.median, tc.p80At, tc.basis, tc.loc); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestQuantileNearestRank: the smallest value with at least q of the
// values at or below it.
func TestQuantileNearestRank(t *testing.T) {
	vs := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.8, 80}, {0.9, 90}, {1, 100}, {0.01, 10}} {
		if got := quantile(vs, tc.q); got != tc.want {
			t.Errorf("quantile %v = %d, want %d", tc.q, got, tc.want)
		}
	}
	if got := quantile([]int64{}, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %d", got)
	}
	if got := quantile([]int64{7}, 0.9); got != 7 {
		t.Errorf("quantile of one = %d", got)
	}
}
