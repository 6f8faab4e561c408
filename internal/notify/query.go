package notify

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Message is a message as staff and the inbox see it.
type Message struct {
	ID          string     `json:"id"`
	EventID     string     `json:"event_id"`
	Kind        string     `json:"kind"`
	Channel     string     `json:"channel"`
	Recipient   string     `json:"recipient"`
	PatientID   string     `json:"patient_id,omitempty"`
	Address     string     `json:"address,omitempty"`
	Lang        string     `json:"lang"`
	Subject     string     `json:"subject"`
	Body        string     `json:"body"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	Provider    string     `json:"provider,omitempty"`
	ProviderRef string     `json:"provider_ref,omitempty"`
	DigestID    string     `json:"digest_id,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	OpenedAt    *time.Time `json:"opened_at,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	// Target is where the message's link leads.
	Target   string   `json:"target,omitempty"`
	Timeline []Status `json:"timeline,omitempty"`
}

// Status is one step of a message's timeline.
type Status struct {
	At     time.Time `json:"at"`
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
}

// Filter selects messages of an organisation, newest first.
type Filter struct {
	PatientID  string   // messages about this patient
	Recipients []string // messages to these people (any)
	States     []string // in these states (any)
	Channel    string
	// Patients, when Limited, bounds the patients whose messages the
	// reader may see.
	Patients []string
	Limited  bool
	Cursor   string // from the previous page
	Count    int    // default 50, at most 200
}

const messageColumns = `m.id, m.event_id, m.kind, m.channel, m.recipient, m.patient_id, m.address, m.lang, m.subject, m.body, m.state, m.attempts,
m.last_error, m.provider, m.provider_ref, m.digest_id, m.due_at, m.created_at, m.sent_at, m.delivered_at, m.opened_at, m.read_at, COALESCE(e.target, '')`

func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var due, sent, delivered, opened, read sql.NullInt64
	var created int64
	err := row.Scan(&m.ID, &m.EventID, &m.Kind, &m.Channel, &m.Recipient, &m.PatientID, &m.Address, &m.Lang, &m.Subject, &m.Body,
		&m.State, &m.Attempts, &m.LastError, &m.Provider, &m.ProviderRef, &m.DigestID, &due, &created, &sent, &delivered, &opened, &read, &m.Target)
	if err != nil {
		return m, err
	}
	m.CreatedAt = fromMS(created)
	for _, f := range []struct {
		v   sql.NullInt64
		dst **time.Time
	}{{due, &m.DueAt}, {sent, &m.SentAt}, {delivered, &m.DeliveredAt}, {opened, &m.OpenedAt}, {read, &m.ReadAt}} {
		if f.v.Valid {
			t := fromMS(f.v.Int64)
			*f.dst = &t
		}
	}
	return m, nil
}

// Messages returns a page of the organisation's messages that match f,
// newest first, and the cursor of the next page ("" at the end).
func (s *Service) Messages(ctx context.Context, orgID string, f Filter) ([]Message, string, error) {
	count := f.Count
	if count <= 0 {
		count = 50
	}
	count = min(count, 200)
	where := []string{"m.org_id = $1"}
	args := []any{orgID}
	add := func(cond string, vals ...any) {
		n := len(args)
		for i := range vals {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(n+i+1), 1)
		}
		where = append(where, cond)
		args = append(args, vals...)
	}
	in := func(col string, vals []string) {
		anys := make([]any, len(vals))
		for i, v := range vals {
			anys[i] = v
		}
		add(col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")", anys...)
	}
	if f.PatientID != "" {
		add("m.patient_id = ?", f.PatientID)
	}
	if len(f.Recipients) > 0 {
		in("m.recipient", f.Recipients)
	}
	if len(f.States) > 0 {
		in("m.state", f.States)
	}
	if f.Channel != "" {
		add("m.channel = ?", f.Channel)
	}
	if f.Limited {
		if len(f.Patients) == 0 {
			return nil, "", nil
		}
		in("m.patient_id", f.Patients)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		add("(m.created_at < ? OR (m.created_at = ? AND m.id < ?))", at, at, id)
	}
	q := "SELECT " + messageColumns + " FROM notify_messages m LEFT JOIN notify_events e ON e.id = m.event_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY m.created_at DESC, m.id DESC LIMIT " + strconv.Itoa(count+1)
	rows, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("notify: list messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, "", fmt.Errorf("notify: list messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("notify: list messages: %w", err)
	}
	next := ""
	if len(out) > count {
		out = out[:count]
		last := out[count-1]
		next = encodeCursor(ms(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "|" + id))
}

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		at, id, ok := strings.Cut(string(raw), "|")
		if n, err := strconv.ParseInt(at, 10, 64); ok && err == nil {
			return n, id, nil
		}
	}
	return 0, "", errs.Invalidf("cursor", "The cursor is not one this list gave.")
}

// Message returns one message of the organisation with its timeline.
func (s *Service) Message(ctx context.Context, orgID, id string) (Message, error) {
	row := s.db.Read.QueryRowContext(ctx, "SELECT "+messageColumns+" FROM notify_messages m LEFT JOIN notify_events e ON e.id = m.event_id WHERE m.org_id = $1 AND m.id = $2", orgID, id)
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return m, errs.NotFoundf("There is no message %s.", id)
	}
	if err != nil {
		return m, fmt.Errorf("notify: message %s: %w", id, err)
	}
	rows, err := s.db.Read.QueryContext(ctx, "SELECT at, state, detail FROM notify_status WHERE message_id = $1 ORDER BY seq", id)
	if err != nil {
		return m, fmt.Errorf("notify: timeline of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st Status
		var at int64
		if err := rows.Scan(&at, &st.State, &st.Detail); err != nil {
			return m, fmt.Errorf("notify: timeline of %s: %w", id, err)
		}
		st.At = fromMS(at)
		m.Timeline = append(m.Timeline, st)
	}
	return m, rows.Err()
}

// Retry sends a failed message again on its channel, now; by names who
// asked. A bounced message is not retried: its address refused it, and
// the person's address must be corrected (a new message then goes to it).
func (s *Service) Retry(ctx context.Context, orgID, id, by string) error {
	now := s.clock()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var state, channel string
		err := tx.QueryRowContext(ctx, "SELECT state, channel FROM notify_messages WHERE org_id = $1 AND id = $2", orgID, id).Scan(&state, &channel)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("There is no message %s.", id)
		}
		if err != nil {
			return err
		}
		switch {
		case state == Bounced:
			return errs.Conflictf("The address refused this message. Correct the person's address; later messages will go to the new one.")
		case state != Failed || channel == InApp:
			return errs.Conflictf("Only a failed email or text message can be sent again; this one is %s.", state)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = 'queued', due_at = $3, attempts = 0, updated_at = $3 WHERE org_id = $1 AND id = $2",
			orgID, id, ms(now)); err != nil {
			return err
		}
		return s.addStatus(ctx, tx, orgID, id, now, Queued, "sent again at the request of "+by)
	})
	if err != nil {
		if errs.CodeOf(err) != errs.Internal {
			return err
		}
		return fmt.Errorf("notify: retry %s: %w", id, err)
	}
	signal(s.sendWake)
	return nil
}

// MarkRead records that a recipient read an in-app message; recipients
// are the inboxes of the reader.
func (s *Service) MarkRead(ctx context.Context, orgID, id string, recipients []string) error {
	if len(recipients) == 0 {
		return errs.NotFoundf("There is no message %s.", id)
	}
	now := s.clock()
	b := binds{d: s.db.Dialect}
	q := "SELECT read_at FROM notify_messages WHERE org_id = " + b.add(orgID) + " AND id = " + b.add(id) +
		" AND channel = 'inapp' AND recipient IN (" + b.list(strs(recipients)...) + ")"
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var read sql.NullInt64
		err := tx.QueryRowContext(ctx, q, b.args...).Scan(&read)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("There is no message %s in your inbox.", id)
		}
		if err != nil {
			return fmt.Errorf("notify: mark %s read: %w", id, err)
		}
		if read.Valid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET read_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2", orgID, id, ms(now)); err != nil {
			return fmt.Errorf("notify: mark %s read: %w", id, err)
		}
		return s.addStatus(ctx, tx, orgID, id, now, "read", "")
	})
}

// Unread counts the unread in-app messages of recipients.
func (s *Service) Unread(ctx context.Context, orgID string, recipients []string) (int, error) {
	if len(recipients) == 0 {
		return 0, nil
	}
	b := binds{d: s.db.Dialect}
	q := "SELECT COUNT(*) FROM notify_messages WHERE org_id = " + b.add(orgID) + " AND channel = 'inapp' AND read_at IS NULL AND recipient IN (" +
		b.list(strs(recipients)...) + ")"
	var n int
	err := s.db.Read.QueryRowContext(ctx, q, b.args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("notify: count unread: %w", err)
	}
	return n, nil
}

// Suppression is an address careloop does not write to.
type Suppression struct {
	Channel string    `json:"channel"`
	Address string    `json:"address"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Suppressions lists the organisation's suppressed addresses, newest
// first (at most 500).
func (s *Service) Suppressions(ctx context.Context, orgID string) ([]Suppression, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT channel, address, reason, at FROM notify_suppressions WHERE org_id = $1 ORDER BY at DESC LIMIT 500", orgID)
	if err != nil {
		return nil, fmt.Errorf("notify: suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var x Suppression
		var at int64
		if err := rows.Scan(&x.Channel, &x.Address, &x.Reason, &at); err != nil {
			return nil, fmt.Errorf("notify: suppressions: %w", err)
		}
		x.At = fromMS(at)
		out = append(out, x)
	}
	return out, rows.Err()
}

// Suppress stops messages to an address (a person's request, an SMS STOP).
func (s *Service) Suppress(ctx context.Context, orgID, channel, address, reason string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		return suppressTx(ctx, tx, s.db.Dialect, orgID, channel, address, reason, s.clock())
	})
}

// Unsuppress lets messages go to an address again (an SMS START, or staff
// after the person asked).
func (s *Service) Unsuppress(ctx context.Context, orgID, channel, address string) error {
	res, err := s.db.Write.ExecContext(ctx, "DELETE FROM notify_suppressions WHERE org_id = $1 AND channel = $2 AND address = $3", orgID, channel, address)
	if err != nil {
		return fmt.Errorf("notify: lift suppression: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("That address is not suppressed.")
	}
	return nil
}

// Count is how many messages of a channel are in a state.
type Count struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	N       int    `json:"n"`
}

// Counts returns how many of the organisation's messages created since
// then are in each state, by channel.
func (s *Service) Counts(ctx context.Context, orgID string, since time.Time) ([]Count, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT channel, state, COUNT(*) FROM notify_messages WHERE org_id = $1 AND created_at >= $2
GROUP BY channel, state ORDER BY channel, state`, orgID, ms(since))
	if err != nil {
		return nil, fmt.Errorf("notify: count messages: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Channel, &c.State, &c.N); err != nil {
			return nil, fmt.Errorf("notify: count messages: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
