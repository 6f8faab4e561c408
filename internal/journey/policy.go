package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Policy is an organisation's rules for its journeys. An organisation
// without its own policy has DefaultPolicy.
type Policy struct {
	// CriticalAck is how soon the ordering clinician must acknowledge a
	// critical result before it escalates to the covering clinician.
	CriticalAck time.Duration `json:"critical_ack"`
	// CoveringAck is how long the covering clinician has before it
	// escalates to the care coordinator.
	CoveringAck time.Duration `json:"covering_ack"`
	// AbnormalReviewDays is how many business days (Monday to Friday, in
	// TimeZone) a clinician has to review an abnormal result.
	AbnormalReviewDays int `json:"abnormal_review_days"`
	// ReleaseDelay is how long after a final result it is released to the
	// patient; zero releases at once. A hold on a journey delays it further.
	ReleaseDelay time.Duration `json:"release_delay"`
	// HistoricalAfter: a result whose own time (issued, effective) lies
	// further in the past when it arrives is imported history: it is
	// recorded and released, but no review clock starts for it.
	HistoricalAfter time.Duration `json:"historical_after"`
	// TimeZone is the IANA zone of the business days.
	TimeZone string `json:"time_zone"`
	// CoveringClinician and CareCoordinator name whom escalations go to
	// ("Practitioner/id"); empty sends them to the role's queue.
	CoveringClinician string `json:"covering_clinician,omitempty"`
	CareCoordinator   string `json:"care_coordinator,omitempty"`
	// FollowupBookDays is how many days after a follow-up is recommended
	// it must be booked before a care coordinator is asked to reach out.
	FollowupBookDays int `json:"followup_book_days"`
	// UnviewedDays is how many days after its release a result must be
	// viewed by the patient before a care coordinator is asked to reach out.
	UnviewedDays int `json:"unviewed_days"`
	// Drill allows acknowledgement deadlines of seconds (at least one),
	// kept to the millisecond: for fire drills and crash tests on a test
	// organisation. It is never read from JSON; no API sets it.
	Drill bool `json:"-"`
}

// DefaultPolicy is the policy of an organisation that set none: critical
// results acknowledged within 30 minutes (then 30 more for the covering
// clinician), abnormal ones reviewed within 2 business days, results
// released at once, results older than 30 days on arrival taken as history,
// outreach for follow-ups not booked within 14 days and released results
// not viewed within 7.
func DefaultPolicy() Policy {
	return Policy{CriticalAck: 30 * time.Minute, CoveringAck: 30 * time.Minute, AbnormalReviewDays: 2,
		HistoricalAfter: 30 * 24 * time.Hour, TimeZone: "UTC", FollowupBookDays: 14, UnviewedDays: 7}
}

// Check returns an errs.Invalid naming the first field out of bounds.
func (p Policy) Check() error {
	least, leastText := time.Minute, "1 minute"
	if p.Drill {
		least, leastText = time.Second, "1 second"
	}
	switch {
	case p.CriticalAck < least || p.CriticalAck > 24*time.Hour:
		return errs.Invalidf("critical_ack", "must be between %s and 24 hours", leastText)
	case p.CoveringAck < least || p.CoveringAck > 24*time.Hour:
		return errs.Invalidf("covering_ack", "must be between %s and 24 hours", leastText)
	case p.AbnormalReviewDays < 1 || p.AbnormalReviewDays > 30:
		return errs.Invalidf("abnormal_review_days", "must be between 1 and 30")
	case p.ReleaseDelay < 0 || p.ReleaseDelay > 30*24*time.Hour:
		return errs.Invalidf("release_delay", "must be between 0 and 30 days")
	case p.HistoricalAfter < 24*time.Hour:
		return errs.Invalidf("historical_after", "must be at least a day")
	case p.FollowupBookDays < 1 || p.FollowupBookDays > 365:
		return errs.Invalidf("followup_book_days", "must be between 1 and 365")
	case p.UnviewedDays < 1 || p.UnviewedDays > 365:
		return errs.Invalidf("unviewed_days", "must be between 1 and 365")
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "" {
		return errs.Invalidf("time_zone", "%q is not an IANA time zone", p.TimeZone)
	}
	return nil
}

// location returns the policy's time zone, UTC when it cannot be loaded.
func (p Policy) location() *time.Location {
	if loc, err := time.LoadLocation(p.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// addBusinessDays returns t plus n business days (Monday to Friday) in loc,
// at the same time of day: Friday 10:00 plus 2 is Tuesday 10:00; from a
// weekend the count starts on Monday.
func addBusinessDays(t time.Time, n int, loc *time.Location) time.Time {
	d := t.In(loc)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return d.UTC()
}

// policyTx returns the organisation's policy, DefaultPolicy when it has
// none.
func policyTx(ctx context.Context, q queryer, orgID string) (Policy, error) {
	p := DefaultPolicy()
	var ack, cov, days, rel, hist, ackMS, covMS int64
	err := q.QueryRowContext(ctx, `SELECT critical_ack_minutes, covering_ack_minutes, abnormal_review_days,
		release_delay_minutes, historical_after_days, time_zone, covering_clinician, care_coordinator,
		followup_book_days, unviewed_days, critical_ack_ms, covering_ack_ms
		FROM journey_policies WHERE org_id = $1`, orgID).
		Scan(&ack, &cov, &days, &rel, &hist, &p.TimeZone, &p.CoveringClinician, &p.CareCoordinator,
			&p.FollowupBookDays, &p.UnviewedDays, &ackMS, &covMS)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("journey: policy of %s: %w", orgID, err)
	}
	p.CriticalAck, p.CoveringAck = time.Duration(ack)*time.Minute, time.Duration(cov)*time.Minute
	p.AbnormalReviewDays, p.ReleaseDelay = int(days), time.Duration(rel)*time.Minute
	p.HistoricalAfter = time.Duration(hist) * 24 * time.Hour
	if ackMS > 0 && covMS > 0 { // a drill's deadlines, to the millisecond
		p.CriticalAck, p.CoveringAck, p.Drill = time.Duration(ackMS)*time.Millisecond, time.Duration(covMS)*time.Millisecond, true
	}
	return p, nil
}

// SetPolicy stores the organisation's policy, after Check. Durations are
// kept to the minute (HistoricalAfter to the day), a drill's acknowledgement
// deadlines to the millisecond.
func (s *Service) SetPolicy(ctx context.Context, orgID string, p Policy) error {
	if err := p.Check(); err != nil {
		return err
	}
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO journey_policies (org_id, critical_ack_minutes, covering_ack_minutes,
		abnormal_review_days, release_delay_minutes, historical_after_days, time_zone, covering_clinician, care_coordinator, updated_at,
		followup_book_days, unviewed_days, critical_ack_ms, covering_ack_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (org_id) DO UPDATE SET critical_ack_minutes = excluded.critical_ack_minutes,
		covering_ack_minutes = excluded.covering_ack_minutes, abnormal_review_days = excluded.abnormal_review_days,
		release_delay_minutes = excluded.release_delay_minutes, historical_after_days = excluded.historical_after_days,
		time_zone = excluded.time_zone, covering_clinician = excluded.covering_clinician,
		care_coordinator = excluded.care_coordinator, updated_at = excluded.updated_at,
		followup_book_days = excluded.followup_book_days, unviewed_days = excluded.unviewed_days,
		critical_ack_ms = excluded.critical_ack_ms, covering_ack_ms = excluded.covering_ack_ms`,
		orgID, int64(p.CriticalAck/time.Minute), int64(p.CoveringAck/time.Minute), p.AbnormalReviewDays,
		int64(p.ReleaseDelay/time.Minute), max(int64(p.HistoricalAfter/(24*time.Hour)), 1), p.TimeZone,
		p.CoveringClinician, p.CareCoordinator, ms(s.now()), p.FollowupBookDays, p.UnviewedDays, drillMS(p, p.CriticalAck), drillMS(p, p.CoveringAck))
	if err != nil {
		return fmt.Errorf("journey: store policy of %s: %w", orgID, err)
	}
	return nil
}

// drillMS is a drill's deadline d in milliseconds, 0 outside drills.
func drillMS(p Policy, d time.Duration) int64 {
	if !p.Drill {
		return 0
	}
	return max(int64(d/time.Millisecond), 1)
}

// Policy returns the organisation's policy.
func (s *Service) Policy(ctx context.Context, orgID string) (Policy, error) {
	return policyTx(ctx, s.db.Read, orgID)
}
