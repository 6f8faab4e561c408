package journey

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Get returns a journey of the organisation with its events, or
// errs.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id string) (*Journey, []Transition, error) {
	j, err := scanJourney(s.db.Read.QueryRowContext(ctx, "SELECT "+journeyColumns+" FROM journeys WHERE org_id = $1 AND id = $2", orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errs.NotFoundf("journey %s is not known", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journey: read %s: %w", id, err)
	}
	evs, err := s.st.events(ctx, s.db.Read, orgID, []string{id})
	if err != nil {
		return nil, nil, err
	}
	return j, evs[id], nil
}

// Queues of the inbox.
const (
	QueueReview           = "review"            // results not reviewed yet (the default)
	QueueOverdueReview    = "overdue-review"    // results whose review or acknowledgement is overdue
	QueueEscalated        = "escalated"         // critical results escalated past the ordering clinician
	QueueUnviewed         = "unviewed"          // released results the patient has not viewed
	QueueFollowupUnbooked = "followup-unbooked" // follow-ups recommended and not booked
	QueueOpen             = "open"              // every open journey
	QueueOutreach         = "outreach"          // patients a care coordinator should reach (see Outreach)
)

var queueWhere = map[string]string{
	QueueReview:           "result_at IS NOT NULL AND reviewed_at IS NULL",
	QueueOverdueReview:    "result_at IS NOT NULL AND reviewed_at IS NULL AND due_at IS NOT NULL AND due_at <= ?",
	QueueEscalated:        "reviewed_at IS NULL AND due_step = 'acknowledge' AND escalation > 0",
	QueueUnviewed:         "released_at IS NOT NULL AND viewed_at IS NULL",
	QueueFollowupUnbooked: "followup_at IS NOT NULL AND booked_at IS NULL",
	QueueOpen:             "1 = 1",
	QueueOutreach: "EXISTS (SELECT 1 FROM journey_outreach o WHERE o.org_id = journeys.org_id AND o.journey_id = journeys.id AND o.state = '" +
		OutreachOpen + "')",
}

// InboxQuery selects a page of the inbox.
type InboxQuery struct {
	Queue string // one of the Queue names; "" is QueueReview
	// Patients limits the inbox to these patients' journeys when Limited.
	Patients []string
	Limited  bool
	Cursor   string // from the previous page's next cursor
	Count    int    // page size, 1 to 200 (default 50)
}

// Inbox returns open journeys of the queue, the most urgent first:
// critical, then abnormal, then the rest, each by the time left before its
// deadline (journeys without a deadline last); and the cursor of the next
// page, "" after the last.
func (s *Service) Inbox(ctx context.Context, orgID string, q InboxQuery) ([]Journey, string, error) {
	if q.Queue == "" {
		q.Queue = QueueReview
	}
	cond, ok := queueWhere[q.Queue]
	if !ok {
		return nil, "", errs.Invalidf("queue", "%q is not a queue: review, overdue-review, escalated, unviewed, followup-unbooked, outreach or open", q.Queue)
	}
	count, err := pageSize(q.Count)
	if err != nil {
		return nil, "", err
	}
	args := []any{orgID}
	if strings.Contains(cond, "?") {
		args = append(args, ms(s.clock()))
		cond = strings.Replace(cond, "?", "$2", 1)
	}
	where := []string{"org_id = $1", "closed_at IS NULL", cond}
	if q.Limited {
		if len(q.Patients) == 0 {
			return nil, "", nil
		}
		ph := make([]string, len(q.Patients))
		for i, p := range q.Patients {
			args = append(args, p)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		where = append(where, "patient_id IN ("+strings.Join(ph, ", ")+")")
	}
	if q.Cursor != "" {
		u, d, id, err := parseCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		n := len(args)
		args = append(args, u, d, id)
		where = append(where, fmt.Sprintf("(urgency > $%d OR urgency = $%d AND (due_sort > $%d OR due_sort = $%d AND id > $%d))", n+1, n+1, n+2, n+2, n+3))
	}
	rows, err := s.db.Read.QueryContext(ctx, "SELECT "+journeyColumns+" FROM journeys WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY urgency, due_sort, id LIMIT %d", count+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("journey: inbox: %w", err)
	}
	out, err := scanAll(rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > count {
		out = out[:count]
		last := out[count-1]
		due := int64(noDeadline)
		if last.DueAt != nil {
			due = ms(*last.DueAt)
		}
		next = makeCursor(int64(last.Flag.urgency()), due, last.ID)
	}
	return out, next, nil
}

// OfPatients returns the journeys of the patients, newest first, with
// their events, and the cursor of the next page. Journeys merged into
// another are left out.
func (s *Service) OfPatients(ctx context.Context, orgID string, patients []string, cursor string, count int) ([]Journey, map[string][]Transition, string, error) {
	n, err := pageSize(count)
	if err != nil {
		return nil, nil, "", err
	}
	if len(patients) == 0 {
		return nil, nil, "", nil
	}
	args := []any{orgID}
	ph := make([]string, len(patients))
	for i, p := range patients {
		args = append(args, p)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	where := "org_id = $1 AND merged_into = '' AND patient_id IN (" + strings.Join(ph, ", ") + ")"
	if cursor != "" {
		opened, _, id, err := parseCursor(cursor)
		if err != nil {
			return nil, nil, "", err
		}
		args = append(args, opened, id)
		where += fmt.Sprintf(" AND (opened_at < $%d OR opened_at = $%d AND id > $%d)", len(args)-1, len(args)-1, len(args))
	}
	rows, err := s.db.Read.QueryContext(ctx, "SELECT "+journeyColumns+" FROM journeys WHERE "+where+
		fmt.Sprintf(" ORDER BY opened_at DESC, id LIMIT %d", n+1), args...)
	if err != nil {
		return nil, nil, "", fmt.Errorf("journey: journeys of patients: %w", err)
	}
	out, err := scanAll(rows)
	if err != nil {
		return nil, nil, "", err
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = makeCursor(ms(last.OpenedAt), 0, last.ID)
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	evs, err := s.st.events(ctx, s.db.Read, orgID, ids)
	if err != nil {
		return nil, nil, "", err
	}
	return out, evs, next, nil
}

func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return 50, nil
	case n < 1 || n > 200:
		return 0, errs.Invalidf("count", "must be between 1 and 200")
	}
	return n, nil
}

func scanAll(rows *sql.Rows) ([]Journey, error) {
	defer rows.Close()
	var out []Journey
	for rows.Next() {
		j, err := scanJourney(rows)
		if err != nil {
			return nil, fmt.Errorf("journey: read journeys: %w", err)
		}
		out = append(out, *j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey: read journeys: %w", err)
	}
	return out, nil
}

// makeCursor encodes a position: two numbers and a journey id.
func makeCursor(a, b int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(a, 10) + "." + strconv.FormatInt(b, 10) + "." + id))
}

func parseCursor(c string) (a, b int64, id string, err error) {
	bad := errs.Invalidf("cursor", "is not a cursor of this list")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, "", bad
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 {
		return 0, 0, "", bad
	}
	if a, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return 0, 0, "", bad
	}
	if b, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return 0, 0, "", bad
	}
	return a, b, parts[2], nil
}

// ByAnchor returns the journey following a resource ("ServiceRequest/id",
// "DiagnosticReport/id", "Observation/id") with its events, or
// errs.NotFound.
func (s *Service) ByAnchor(ctx context.Context, orgID, anchor string) (*Journey, []Transition, error) {
	var id string
	err := s.db.Read.QueryRowContext(ctx, "SELECT id FROM journeys WHERE org_id = $1 AND anchor = $2", orgID, anchor).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errs.NotFoundf("no journey follows %s", anchor)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journey: journey of %s: %w", anchor, err)
	}
	return s.Get(ctx, orgID, id)
}

// Sharing is what of a patient's record has been shared with them and
// what is held back: the anchor and the report ("Type/id") of each
// journey, by whether it was released to the patient.
type Sharing struct {
	// Shared holds those of every journey released to the patient.
	Shared map[string]bool
	// Held holds those of every journey not released yet, but those
	// merged into another (whose release decides).
	Held map[string]bool
}

// Sharing returns what of a patient's record has been shared with them,
// in one indexed read, for pages that must show a patient only their
// shared results (trends, downloads).
func (s *Service) Sharing(ctx context.Context, orgID, patientID string) (Sharing, error) {
	out := Sharing{Shared: map[string]bool{}, Held: map[string]bool{}}
	rows, err := s.db.Read.QueryContext(ctx, "SELECT anchor, report_ref, released_at IS NOT NULL, merged_into FROM journeys WHERE org_id = $1 AND patient_id = $2",
		orgID, patientID)
	if err != nil {
		return out, fmt.Errorf("journey: shared results of %s: %w", patientID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var anchor, report, merged string
		var released bool
		if err := rows.Scan(&anchor, &report, &released, &merged); err != nil {
			return out, fmt.Errorf("journey: shared results of %s: %w", patientID, err)
		}
		into := out.Shared
		if !released {
			if merged != "" {
				continue
			}
			into = out.Held
		}
		into[anchor] = true
		if report != "" {
			into[report] = true
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("journey: shared results of %s: %w", patientID, err)
	}
	return out, nil
}
