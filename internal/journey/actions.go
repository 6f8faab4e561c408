package journey

import (
	"context"
	"database/sql"
	"time"
	"unicode/utf8"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Actor is who acts on a journey through the API: "account/id".
type Actor = string

// maxNote bounds comments and reasons.
const maxNote = 2000

func checkText(field, s string, required bool) error {
	switch {
	case required && s == "":
		return errs.Invalidf(field, "is required")
	case utf8.RuneCountInString(s) > maxNote:
		return errs.Invalidf(field, "is longer than %d characters", maxNote)
	case !utf8.ValidString(s):
		return errs.Invalidf(field, "is not valid UTF-8")
	}
	return nil
}

// Check is called by an action in its transaction with the journey as it
// was before the action: it decides whether the caller may act on it and
// records the access (in tx); an error aborts the action and changes
// nothing. A nil Check allows every action.
type Check func(tx *sql.Tx, j *Journey) error

// action runs fn on the journey in a transaction, after check, then
// settles and stores it.
func (s *Service) action(ctx context.Context, orgID, id string, check Check, fn func(t *tx, p *pending) error) error {
	return s.inTx(ctx, orgID, func(t *tx) error {
		p, err := t.journey(id)
		if err != nil {
			return err
		}
		if check != nil {
			snapshot := *p.j
			if err := check(t.tx, &snapshot); err != nil {
				return err
			}
		}
		return fn(t, p)
	}, nil)
}

// Acknowledge records that a clinician reviewed the journey's result (for a
// critical result: acknowledged it): the review clock stops and pending
// escalations are cancelled. Acknowledging twice changes nothing; a
// journey without a result yet is an errs.Conflict.
func (s *Service) Acknowledge(ctx context.Context, orgID, id string, by Actor, note string, check Check) error {
	if err := checkText("note", note, false); err != nil {
		return err
	}
	return s.action(ctx, orgID, id, check, func(t *tx, p *pending) error {
		j := p.j
		switch {
		case j.ResultAt == nil:
			return errs.Conflictf("journey %s has no result to acknowledge yet", id)
		case j.ReviewedAt != nil:
			return nil
		}
		j.ReviewedAt, j.ReviewedBy = ptr(t.now), by
		if j.FinalAt == nil {
			p.record(t.now, KindEvent, j.Stage, j.Stage, "api:acknowledge", by, joinNote("preliminary result reviewed", note))
			return nil
		}
		p.move(t.now, Reviewed, false, "api:acknowledge", by, note)
		return nil
	})
}

// Comment adds a comment to the journey.
func (s *Service) Comment(ctx context.Context, orgID, id string, by Actor, text string, check Check) error {
	if err := checkText("text", text, true); err != nil {
		return err
	}
	return s.action(ctx, orgID, id, check, func(t *tx, p *pending) error {
		p.record(t.now, KindComment, p.j.Stage, p.j.Stage, "api:comment", by, text)
		return nil
	})
}

// Release releases the journey's final result to the patient now, ending
// any hold. A result released already stays as it is; one not final yet is
// an errs.Conflict.
func (s *Service) Release(ctx context.Context, orgID, id string, by Actor, check Check) error {
	return s.action(ctx, orgID, id, check, func(t *tx, p *pending) error {
		j := p.j
		switch {
		case j.ReleasedAt != nil:
			return nil
		case j.Stage.Terminal() || j.FinalAt == nil:
			return errs.Conflictf("journey %s has no final result to release", id)
		}
		note := "released by the care team"
		if j.HoldUntil != nil && j.HoldUntil.After(t.now) {
			note += "; hold ended early: " + j.HoldReason
			j.HoldUntil = ptr(t.now)
		}
		j.ReleasedAt = ptr(t.now)
		p.move(t.now, Released, false, "api:release", by, note)
		t.notices = append(t.notices, releaseNotice(t.orgID, j, t.now))
		return nil
	})
}

// MaxHold is the longest hold on a release.
const MaxHold = 90 * 24 * time.Hour

// Hold keeps the journey's result from the patient until until, for the
// reason given (for example sensitive pathology until discussed); the
// result is released when the hold expires. A released result cannot be
// held: errs.Conflict.
func (s *Service) Hold(ctx context.Context, orgID, id string, by Actor, reason string, until time.Time, check Check) error {
	if err := checkText("reason", reason, true); err != nil {
		return err
	}
	now := s.clock()
	if !until.After(now) || until.Sub(now) > MaxHold {
		return errs.Invalidf("until", "must be in the future and at most %d days ahead", int(MaxHold.Hours()/24))
	}
	return s.action(ctx, orgID, id, check, func(t *tx, p *pending) error {
		j := p.j
		if j.ReleasedAt != nil {
			return errs.Conflictf("journey %s was released already", id)
		}
		if j.Stage.Terminal() {
			return errs.Conflictf("journey %s is %s", id, j.Stage)
		}
		u := until.UTC().Truncate(time.Millisecond)
		j.HoldReason, j.HoldUntil, j.HoldBy = reason, &u, by
		p.record(t.now, KindHold, j.Stage, j.Stage, "api:hold", by, "held until "+u.Format(time.RFC3339)+": "+reason)
		return nil
	})
}

// Portal events, by the patient or a caregiver.

// Viewed records that the patient opened the released result.
func (s *Service) Viewed(ctx context.Context, orgID, id string, by Actor, check Check) error {
	return s.portal(ctx, orgID, id, by, check, "api:viewed", Viewed, func(j *Journey, at time.Time) bool {
		if j.ViewedAt != nil {
			return false
		}
		j.ViewedAt = ptr(at)
		return true
	})
}

// Acknowledged records that the patient acknowledged the released result.
func (s *Service) Acknowledged(ctx context.Context, orgID, id string, by Actor, check Check) error {
	return s.portal(ctx, orgID, id, by, check, "api:acknowledged", Acknowledged, func(j *Journey, at time.Time) bool {
		if j.AckedAt != nil {
			return false
		}
		if j.ViewedAt == nil {
			j.ViewedAt = ptr(at)
		}
		j.AckedAt = ptr(at)
		return true
	})
}

// Booked records that the patient booked the recommended follow-up; a
// journey without one is an errs.Conflict.
func (s *Service) Booked(ctx context.Context, orgID, id string, by Actor, check Check) error {
	return s.portal(ctx, orgID, id, by, check, "api:booked", FollowupBooked, func(j *Journey, at time.Time) bool {
		if j.BookedAt != nil {
			return false
		}
		j.BookedAt = ptr(at)
		return true
	})
}

// portal applies a patient's event to a released result; set marks it and
// reports whether it is new (a repeated event changes nothing).
func (s *Service) portal(ctx context.Context, orgID, id string, by Actor, check Check, cause string, to Stage, set func(*Journey, time.Time) bool) error {
	return s.action(ctx, orgID, id, check, func(t *tx, p *pending) error {
		j := p.j
		switch {
		case j.ReleasedAt == nil:
			return errs.Conflictf("journey %s has no released result yet", id)
		case to == FollowupBooked && j.FollowupAt == nil:
			return errs.Conflictf("journey %s has no follow-up to book", id)
		}
		if set(j, t.now) {
			p.move(t.now, to, false, cause, by, "")
		}
		return nil
	})
}
