package journey

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Measurements are an organisation's journeys over a time window: the time
// spent in each stage, the funnel from release to follow-up done, and the
// deadlines breached.
type Measurements struct {
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Stages   []StageStats `json:"stages"`
	Funnel   Funnel       `json:"funnel"`
	Breaches Breaches     `json:"breaches"`
}

// StageStats is the time journeys spent in a stage, over the stays that
// ended (the journey moved on) within the window.
type StageStats struct {
	Stage     Stage   `json:"stage"`
	Count     int     `json:"count"`
	MedianSec float64 `json:"median_seconds"`
	P90Sec    float64 `json:"p90_seconds"`
}

// Funnel follows the results released within the window: how many the
// patients viewed, how many needed a follow-up, how many of those were
// booked and done. The rates are fractions of the step before (viewed of
// released, booked of recommended, done of booked); 0 when the step before
// counts none.
type Funnel struct {
	Released    int     `json:"released"`
	Viewed      int     `json:"viewed"`
	Recommended int     `json:"followup_recommended"`
	Booked      int     `json:"followup_booked"`
	Done        int     `json:"followup_done"`
	ViewedRate  float64 `json:"viewed_rate"`
	BookedRate  float64 `json:"booked_rate"`
	DoneRate    float64 `json:"done_rate"`
}

// Breaches are the deadlines that passed before their step within the
// window: their count by kind (the Breach* kinds) and the list, oldest
// first, at most MaxBreachList (Truncated says when there were more).
type Breaches struct {
	Count     map[string]int `json:"count"`
	List      []Breach       `json:"list"`
	Truncated bool           `json:"truncated"`
}

// Breach is one deadline breached: the journey, when and what.
type Breach struct {
	JourneyID string    `json:"journey"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
}

// MaxBreachList bounds the list of breaches in Measurements.
const MaxBreachList = 500

// MaxMeasureWindow is the longest window Measure accepts.
const MaxMeasureWindow = 366 * 24 * time.Hour

// Measure returns the organisation's measurements over [from, to): the
// median and 90th percentile (nearest rank) of the time spent in each
// stage, from the stored transitions, for the stays that ended within the
// window; the funnel of the results released within it; the deadlines
// breached within it. A window that is empty, reversed or longer than
// MaxMeasureWindow is an errs.Invalid.
func (s *Service) Measure(ctx context.Context, orgID string, from, to time.Time) (*Measurements, error) {
	switch {
	case !from.Before(to):
		return nil, errs.Invalidf("from", "must be before to")
	case to.Sub(from) > MaxMeasureWindow:
		return nil, errs.Invalidf("from", "the window may be at most 366 days")
	}
	m := &Measurements{From: from.UTC(), To: to.UTC(), Stages: []StageStats{}, Breaches: Breaches{Count: map[string]int{}, List: []Breach{}}}
	if err := s.measureStages(ctx, orgID, from, to, m); err != nil {
		return nil, err
	}
	f := &m.Funnel
	err := s.db.Read.QueryRowContext(ctx, `SELECT count(*), count(viewed_at), count(followup_at), count(booked_at), count(followup_done_at)
		FROM journeys WHERE org_id = $1 AND released_at >= $2 AND released_at < $3 AND merged_into = ''`, orgID, ms(from), ms(to)).
		Scan(&f.Released, &f.Viewed, &f.Recommended, &f.Booked, &f.Done)
	if err != nil {
		return nil, fmt.Errorf("journey: funnel: %w", err)
	}
	f.ViewedRate, f.BookedRate, f.DoneRate = rate(f.Viewed, f.Released), rate(f.Booked, f.Recommended), rate(f.Done, f.Booked)
	if err := s.measureBreaches(ctx, orgID, from, to, m); err != nil {
		return nil, err
	}
	return m, nil
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// measureStages reads the changes of stage of the journeys that changed
// stage within the window, and times each stay that ended within it.
func (s *Service) measureStages(ctx context.Context, orgID string, from, to time.Time, m *Measurements) error {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT journey_id, at, to_stage FROM journey_events
		WHERE org_id = $1 AND from_stage <> to_stage AND journey_id IN (
			SELECT journey_id FROM journey_events WHERE org_id = $1 AND at >= $2 AND at < $3 AND from_stage <> to_stage)
		ORDER BY journey_id, seq`, orgID, ms(from), ms(to))
	if err != nil {
		return fmt.Errorf("journey: stage times: %w", err)
	}
	defer rows.Close()
	stays := map[Stage][]time.Duration{}
	var lastJourney string
	var entered Stage
	var enteredAt time.Time
	for rows.Next() {
		var id string
		var at int64
		var stage Stage
		if err := rows.Scan(&id, &at, &stage); err != nil {
			return fmt.Errorf("journey: stage times: %w", err)
		}
		t := fromMS(at)
		if id == lastJourney && !t.Before(from) && t.Before(to) {
			stays[entered] = append(stays[entered], max(t.Sub(enteredAt), 0))
		}
		lastJourney, entered, enteredAt = id, stage, t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journey: stage times: %w", err)
	}
	for stage, ds := range stays {
		slices.Sort(ds)
		m.Stages = append(m.Stages, StageStats{Stage: stage, Count: len(ds), MedianSec: quantile(ds, 0.5).Seconds(), P90Sec: quantile(ds, 0.9).Seconds()})
	}
	slices.SortFunc(m.Stages, func(a, b StageStats) int { return stageRank[a.Stage] - stageRank[b.Stage] })
	return nil
}

// breachKind names the deadline an event says was breached, "" for other
// events.
func breachKind(kind, cause string) string {
	switch {
	case kind == KindEscalation && cause == "deadline:covering-"+StepAcknowledge:
		return BreachCoveringAcknowledge
	case kind == KindEscalation:
		return BreachAcknowledge
	case kind == KindReminder:
		return BreachReview
	case kind == KindOutreach:
		return "outreach-" + strings.TrimPrefix(cause, "deadline:outreach-")
	}
	return ""
}

// measureBreaches counts and lists the escalations, overdue reviews and
// outreach of the window.
func (s *Service) measureBreaches(ctx context.Context, orgID string, from, to time.Time, m *Measurements) error {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT journey_id, at, kind, cause FROM journey_events
		WHERE org_id = $1 AND at >= $2 AND at < $3 AND kind IN ($4, $5, $6) ORDER BY at, journey_id, seq`,
		orgID, ms(from), ms(to), KindEscalation, KindReminder, KindOutreach)
	if err != nil {
		return fmt.Errorf("journey: deadline breaches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b Breach
		var at int64
		var kind, cause string
		if err := rows.Scan(&b.JourneyID, &at, &kind, &cause); err != nil {
			return fmt.Errorf("journey: deadline breaches: %w", err)
		}
		b.At, b.Kind = fromMS(at), breachKind(kind, cause)
		m.Breaches.Count[b.Kind]++
		if len(m.Breaches.List) < MaxBreachList {
			m.Breaches.List = append(m.Breaches.List, b)
		} else {
			m.Breaches.Truncated = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journey: deadline breaches: %w", err)
	}
	return nil
}
