package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/db"
)

// unplanned returns up to a batch of events not yet planned, oldest first.
func (s *Service) unplanned(ctx context.Context) ([]storedEvent, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT org_id, id, idem_key, kind, recipient, patient_id, target, detail, about_at, created_at
FROM notify_events WHERE planned = 0 ORDER BY created_at LIMIT $1`, s.cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("notify: read new events: %w", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		var about sql.NullInt64
		var created int64
		if err := rows.Scan(&e.OrgID, &e.id, &e.Key, &e.Kind, &e.Recipient, &e.PatientID, &e.Target, &e.Detail, &about, &created); err != nil {
			return nil, fmt.Errorf("notify: read new events: %w", err)
		}
		if about.Valid {
			e.AboutAt = fromMS(about.Int64)
		}
		e.created = fromMS(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// messageColumnsInsert are the columns insertMessages writes.
const messageColumnsInsert = `id, org_id, event_id, recipient, patient_id, kind, channel, address, lang, subject, body, state, attempts, due_at,
lease_owner, fallback, provider, provider_ref, last_error, digest_id, created_at, updated_at, delivered_at`

// insertMessages stores the messages, skipping those whose event has a
// message on the channel already (planned by another node), and returns
// the ids it stored. Rows go many to a statement.
func (s *Service) insertMessages(ctx context.Context, tx *sql.Tx, msgs []*message) (map[string]bool, error) {
	const perStatement = 100
	stored := map[string]bool{}
	for start := 0; start < len(msgs); start += perStatement {
		chunk := msgs[start:min(start+perStatement, len(msgs))]
		var b strings.Builder
		b.WriteString("INSERT INTO notify_messages (" + messageColumnsInsert + ") VALUES ")
		bs := binds{d: s.db.Dialect, args: make([]any, 0, len(chunk)*18)}
		for i, m := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			var due, delivered any
			if m.due != nil {
				due = ms(*m.due)
			}
			if m.state == Delivered {
				delivered = ms(m.created)
			}
			fmt.Fprintf(&b, "(%s, 0, %s, '', %s, '', '', %s, '', %s)",
				bs.list(m.id, m.orgID, m.eventID, m.recipient, m.patientID, m.kind, m.channel, m.address, m.lang, m.subject, m.body, m.state),
				bs.add(due), bs.add(m.fallback), bs.add(m.lastError), bs.list(ms(m.created), ms(m.created), delivered))
		}
		b.WriteString(" ON CONFLICT (event_id, channel) DO NOTHING RETURNING id")
		rows, err := tx.QueryContext(ctx, b.String(), bs.args...)
		if err != nil {
			return nil, fmt.Errorf("store messages: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store messages: %w", err)
			}
			stored[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store messages: %w", err)
		}
	}
	return stored, nil
}

// markPlanned marks events planned.
func (s *Service) markPlanned(ctx context.Context, tx *sql.Tx, evs []storedEvent) error {
	b := binds{d: s.db.Dialect}
	ids := make([]any, len(evs))
	for i, e := range evs {
		ids[i] = e.id
	}
	_, err := tx.ExecContext(ctx, "UPDATE notify_events SET planned = 1 WHERE id IN ("+b.list(ids...)+")", b.args...)
	if err != nil {
		return fmt.Errorf("mark events planned: %w", err)
	}
	return nil
}

// binds collects the arguments of a statement and writes their
// placeholders: "?" on SQLite, "$n" on PostgreSQL. (SQLite looks up the
// name of every numbered parameter by a linear search: with hundreds of
// them, "$n" costs more than the statement.)
type binds struct {
	d    db.Dialect
	args []any
}

// add appends v and returns its placeholder.
func (b *binds) add(v any) string {
	b.args = append(b.args, v)
	if b.d == db.SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(len(b.args))
}

// list appends vals and returns their placeholders, comma-separated.
func (b *binds) list(vals ...any) string {
	var sb strings.Builder
	for i, v := range vals {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.add(v))
	}
	return sb.String()
}

// strs returns vals as []any, for binds.list.
func strs(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// statusRow is one step of a message's timeline, to be stored.
type statusRow struct {
	orgID, messageID string
	at               time.Time
	state, detail    string
}

// statuses collects timeline steps to store together.
type statuses []statusRow

func (st *statuses) add(orgID, messageID string, at time.Time, state, detail string) {
	*st = append(*st, statusRow{orgID, messageID, at, state, detail})
}

// write appends the steps to their messages' timelines, many to a
// statement, each after the message's last step.
func (st statuses) write(ctx context.Context, tx *sql.Tx, d db.Dialect) error {
	const perStatement = 200
	for start := 0; start < len(st); start += perStatement {
		chunk := st[start:min(start+perStatement, len(st))]
		var b strings.Builder
		b.WriteString("WITH v(org_id, message_id, at, state, detail, k) AS (VALUES ")
		bs := binds{d: d, args: make([]any, 0, len(chunk)*5)}
		nth := map[string]int{} // k: the step's place among this statement's steps of its message
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			nth[r.messageID]++
			fmt.Fprintf(&b, "(CAST(%s AS TEXT), CAST(%s AS TEXT), CAST(%s AS BIGINT), CAST(%s AS TEXT), CAST(%s AS TEXT), %d)",
				bs.add(r.orgID), bs.add(r.messageID), bs.add(ms(r.at)), bs.add(r.state), bs.add(r.detail), nth[r.messageID])
		}
		b.WriteString(`) INSERT INTO notify_status (org_id, message_id, seq, at, state, detail)
SELECT v.org_id, v.message_id, COALESCE((SELECT MAX(s.seq) FROM notify_status s WHERE s.message_id = v.message_id), 0) + v.k,
v.at, v.state, v.detail FROM v`)
		if _, err := tx.ExecContext(ctx, b.String(), bs.args...); err != nil {
			return fmt.Errorf("record the status of %d messages: %w", len(chunk), err)
		}
	}
	return nil
}

// addStatus appends one step to a message's timeline.
func (s *Service) addStatus(ctx context.Context, tx *sql.Tx, orgID, messageID string, at time.Time, state, detail string) error {
	return statuses{{orgID, messageID, at, state, detail}}.write(ctx, tx, s.db.Dialect)
}

// Preferences returns the recipient's preferences as they set them (the
// zero value when they set none; Defaults says what applies then).
func (s *Service) Preferences(ctx context.Context, orgID, recipient string) (Preferences, error) {
	var raw string
	err := s.db.Read.QueryRowContext(ctx, "SELECT prefs FROM notify_preferences WHERE org_id = $1 AND recipient = $2", orgID, recipient).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Preferences{}, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("notify: preferences of %s: %w", recipient, err)
	}
	var p Preferences
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Preferences{}, fmt.Errorf("notify: preferences of %s: %w", recipient, err)
	}
	return p, nil
}

// SetPreferences checks and stores the recipient's preferences; by names
// who changed them.
func (s *Service) SetPreferences(ctx context.Context, orgID, recipient string, p Preferences, by string) error {
	if err := p.Check(); err != nil {
		return err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("notify: preferences: %w", err)
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO notify_preferences (org_id, recipient, prefs, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (org_id, recipient) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		orgID, recipient, string(raw), ms(s.clock()), by)
	if err != nil {
		return fmt.Errorf("notify: store preferences of %s: %w", recipient, err)
	}
	return nil
}

// suppressTx records that an address must not be written to again.
func suppressTx(ctx context.Context, tx *sql.Tx, d db.Dialect, orgID, channel, address, reason string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notify_suppressions (org_id, channel, address, reason, at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (org_id, channel, address) DO NOTHING`, orgID, channel, address, reason, ms(at))
	if err != nil {
		return fmt.Errorf("suppress %s address: %w", channel, err)
	}
	return nil
}

// orgTexts is an organisation's catalog of texts, reread after textsTTL
// so that other nodes' changes apply.
type orgTexts struct {
	catalog *templates.Catalog
	loaded  time.Time
}

const textsTTL = 30 * time.Second

// texts returns the organisation's catalog: careloop's texts with the
// organisation's own over them. A catalog that cannot be read falls back
// to careloop's texts (logged): a message is better than none.
func (s *Service) texts(ctx context.Context, orgID string) *templates.Catalog {
	now := s.now()
	if v, ok := s.textCache.Load(orgID); ok && now.Sub(v.(*orgTexts).loaded) < textsTTL {
		return v.(*orgTexts).catalog
	}
	own, err := s.OrgTemplates(ctx, orgID)
	c := s.catalog
	if err == nil && len(own) > 0 {
		c, err = s.catalog.With(own)
	}
	if err != nil {
		s.log.Error("notify: the organisation's texts cannot be used; careloop's defaults apply", "org", orgID, "err", err)
		c = s.catalog
	}
	s.textCache.Store(orgID, &orgTexts{catalog: c, loaded: now})
	return c
}

// OrgTemplates returns the organisation's own texts.
func (s *Service) OrgTemplates(ctx context.Context, orgID string) ([]templates.Template, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT kind, channel, lang, level, subject, body FROM notify_templates WHERE org_id = $1 ORDER BY kind, channel, lang, level", orgID)
	if err != nil {
		return nil, fmt.Errorf("notify: texts of %s: %w", orgID, err)
	}
	defer rows.Close()
	var out []templates.Template
	for rows.Next() {
		var t templates.Template
		if err := rows.Scan(&t.Kind, &t.Channel, &t.Lang, &t.Level, &t.Subject, &t.Body); err != nil {
			return nil, fmt.Errorf("notify: texts of %s: %w", orgID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
