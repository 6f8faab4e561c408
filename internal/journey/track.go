package journey

import (
	"database/sql"
	"errors"
	"fmt"
)

// snapshot is what track compares: the milestones a journey had when it
// was read (or last stored) in a transaction.
type snapshot struct {
	stored   bool // the journey was in the database before
	final    bool
	released bool
	viewed   bool
	followup bool
	booked   bool
	ended    bool
}

func snapshotOf(j *Journey, stored bool) snapshot {
	return snapshot{stored: stored, final: j.FinalAt != nil, released: j.ReleasedAt != nil, viewed: j.ViewedAt != nil,
		followup: j.FollowupAt != nil, booked: j.BookedAt != nil, ended: j.Stage.Terminal()}
}

// track runs, in the transaction that stores a journey, what follows from
// its change: the samples and pending rows of the expected times of
// arrival, the outreach clocks, and the counts for the metrics.
func (t *tx) track(p *pending) error {
	if err := t.count(p); err != nil {
		return err
	}
	if err := t.trackETA(p); err != nil {
		return err
	}
	if err := t.trackOutreach(p); err != nil {
		return err
	}
	p.was = snapshotOf(p.j, true)
	return nil
}

// Historical reports whether the journey's result arrived as imported
// history (older than Policy.HistoricalAfter when it arrived): released
// without a notice, and not news to the patient.
func (j *Journey) Historical() bool { return j.DueStep == stepHistory }

// historical reports whether the journey's result is imported history: its
// times are those of the import, not of care.
func (p *pending) historical() bool { return p.history || p.j.DueStep == stepHistory }

// count adds the journey's new transitions to the transaction's counts,
// with the time spent in each stage left (when metrics are kept).
func (t *tx) count(p *pending) error {
	var entered *Transition // the last change of stage before this one
	looked := false
	for i := range p.evs {
		ev := &p.evs[i]
		if ev.From == ev.To {
			continue
		}
		t.counts.transition(ev.To)
		if t.s.stats == nil || ev.From == "" {
			entered = ev
			continue
		}
		if entered == nil && !looked && p.was.stored {
			looked = true
			prev, err := t.lastChange(p.j.ID, ev.Seq)
			if err != nil {
				return err
			}
			entered = prev
		}
		if entered != nil && entered.To == ev.From {
			t.counts.stays = append(t.counts.stays, stay{stage: ev.From, d: max(ev.At.Sub(entered.At), 0)})
		}
		entered = ev
	}
	return nil
}

// lastChange returns the journey's last change of stage before event seq,
// or nil.
func (t *tx) lastChange(journeyID string, seq int) (*Transition, error) {
	var ev Transition
	var at int64
	err := t.tx.QueryRowContext(t.ctx, `SELECT seq, at, to_stage FROM journey_events
		WHERE org_id = $1 AND journey_id = $2 AND seq < $3 AND from_stage <> to_stage ORDER BY seq DESC LIMIT 1`,
		t.orgID, journeyID, seq).Scan(&ev.Seq, &at, &ev.To)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journey: last change of stage of %s: %w", journeyID, err)
	}
	ev.At = fromMS(at)
	return &ev, nil
}
