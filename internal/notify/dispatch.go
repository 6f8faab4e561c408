package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/db"
)

// claimed is a message a dispatcher holds the lease of.
type claimed struct {
	id, orgID, eventID, recipient, kind, channel string
	address, lang, subject, body, fallback       string
	attempts                                     int // including this one
	created                                      time.Time
}

// outcome is what handing a message to its provider gave.
type outcome struct {
	m        *claimed
	provider string
	ref      string
	err      error
	at       time.Time
}

// dispatch claims due messages and sends them, at most InFlight at once,
// until ctx ends; then it waits for the sends under way and records them.
func (s *Service) dispatch(ctx context.Context) {
	results := make(chan outcome, s.cfg.InFlight)
	slots := make(chan struct{}, s.cfg.InFlight)
	var sends sync.WaitGroup
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		s.recordLoop(results)
	}()
	defer func() {
		sends.Wait()
		close(results)
		<-recorded
	}()
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for ctx.Err() == nil {
		free := s.cfg.InFlight - len(slots)
		n := 0
		if free > 0 {
			ms, err := s.claim(ctx, min(free, s.cfg.Batch))
			if err != nil && ctx.Err() == nil {
				s.log.Error("notify: claim due messages", "err", err)
			}
			n = len(ms)
			for _, m := range ms {
				slots <- struct{}{}
				sends.Add(1)
				go func() {
					defer sends.Done()
					results <- s.send(m)
					<-slots
				}()
			}
		}
		if n > 0 && n == min(free, s.cfg.Batch) {
			continue // there may be more due at once
		}
		select {
		case <-ctx.Done():
		case <-s.sendWake:
		case <-tick.C:
		}
	}
}

// send hands one message to its organisation's provider of its channel.
// It is given half the lease, so that no other dispatcher takes the
// message over while it may still go out.
func (s *Service) send(m *claimed) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Lease/2)
	defer cancel()
	snd, provider, err := s.prov.Sender(ctx, m.orgID, m.channel)
	if err != nil {
		return outcome{m: m, err: err, at: s.clock()}
	}
	out := Outgoing{ID: m.id, OrgID: m.orgID, Kind: m.kind, To: m.address, Subject: m.subject, Body: m.body}
	if s.cfg.ReceiptsURL != "" {
		out.Receipts = s.cfg.ReceiptsURL + "/notify/receipts/" + provider + "/" + m.orgID + "?m=" + m.id
	}
	if m.channel == Email {
		out.Unsubscribe = s.links.Unsubscribe(m.id, s.now())
	}
	ref, err := snd.Send(ctx, out)
	return outcome{m: m, provider: provider, ref: ref, err: err, at: s.clock()}
}

// recordLoop records outcomes in batches: all that arrived while the last
// batch was being written go into the next transaction.
func (s *Service) recordLoop(results <-chan outcome) {
	batch := make([]outcome, 0, s.cfg.Batch)
	for o := range results {
		batch = append(batch[:0], o)
	drain:
		for len(batch) < s.cfg.Batch {
			select {
			case o, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		// Recording must survive shutdown: the sends happened.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.record(ctx, batch)
		cancel()
		if err != nil {
			// The messages stay sending; when their lease ends they are
			// sent again under the same id (providers drop the repeat).
			s.log.Error("notify: record outcomes", "messages", len(batch), "err", err)
			continue
		}
		s.stats.recorded(batch)
	}
}

// claim takes the lease of up to n due messages, turns held messages that
// are due into digests, and returns the messages to send.
func (s *Service) claim(ctx context.Context, n int) ([]*claimed, error) {
	now := s.clock()
	var out []*claimed
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		q := `SELECT id, org_id, event_id, recipient, kind, channel, address, lang, subject, body, state, fallback, attempts, created_at
FROM notify_messages WHERE due_at <= $1 ORDER BY due_at LIMIT $2`
		if s.db.Dialect == db.Postgres {
			q += " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, q, ms(now), n)
		if err != nil {
			return err
		}
		var held, inDoubt []*claimed
		for rows.Next() {
			m := &claimed{}
			var state string
			var created int64
			if err := rows.Scan(&m.id, &m.orgID, &m.eventID, &m.recipient, &m.kind, &m.channel, &m.address, &m.lang,
				&m.subject, &m.body, &state, &m.fallback, &m.attempts, &created); err != nil {
				rows.Close()
				return err
			}
			m.created = fromMS(created)
			switch state {
			case Held:
				held = append(held, m)
				continue
			case Sending:
				inDoubt = append(inDoubt, m)
			}
			m.attempts++
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) > 0 {
			b := binds{d: s.db.Dialect}
			q := "UPDATE notify_messages SET state = 'sending', attempts = attempts + 1, due_at = " + b.add(ms(now.Add(s.cfg.Lease))) +
				", lease_owner = " + b.add(s.node) + ", updated_at = " + b.add(ms(now)) + " WHERE id IN ("
			for i, m := range out {
				if i > 0 {
					q += ", "
				}
				q += b.add(m.id)
			}
			if _, err := tx.ExecContext(ctx, q+")", b.args...); err != nil {
				return err
			}
		}
		// A message in doubt: its sender stopped (a crash, a lost node)
		// before recording the outcome, so it may or may not have gone
		// out. It is sent again under the same id, which providers use to
		// drop a repeat (see the package documentation).
		var st statuses
		for _, m := range inDoubt {
			st.add(m.orgID, m.id, now, Sending, "in doubt: the previous sender stopped before recording the outcome; sending again under the same id")
		}
		if err := st.write(ctx, tx, s.db.Dialect); err != nil {
			return err
		}
		return s.digest(ctx, tx, held, now)
	})
	if err != nil {
		return nil, fmt.Errorf("notify: claim: %w", err)
	}
	return out, nil
}

// digest sends held messages that are due as one message per recipient
// and channel, and marks them digested.
func (s *Service) digest(ctx context.Context, tx *sql.Tx, held []*claimed, now time.Time) error {
	groups := map[string][]*claimed{}
	var order []string
	for _, m := range held {
		k := m.orgID + "\x00" + m.recipient + "\x00" + m.channel
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	for _, k := range order {
		g := groups[k]
		first := g[0]
		items := make([]string, len(g))
		for i, m := range g {
			items[i] = m.subject
		}
		org, err := s.dir.OrgName(ctx, first.orgID)
		if err != nil {
			return fmt.Errorf("digest for %s: %w", first.recipient, err)
		}
		d := &message{id: newID(), orgID: first.orgID, eventID: "digest:" + first.id, recipient: first.recipient,
			kind: string(templates.Digest), channel: first.channel, address: first.address, lang: first.lang,
			state: Queued, due: &now, created: now, note: fmt.Sprintf("digest of %d held messages", len(g))}
		r, err := s.texts(ctx, first.orgID).Render(templates.Key{Kind: templates.Digest, Channel: first.channel, Lang: first.lang, Level: "simple"},
			templates.Data{Org: org, Link: s.links.Open(d.id, now), Count: len(g), Items: items, Prefs: s.links.base + "/account/notifications"})
		if err != nil {
			return fmt.Errorf("digest for %s: %w", first.recipient, err)
		}
		d.subject, d.body = r.Subject, r.Body
		stored, err := s.insertMessages(ctx, tx, []*message{d})
		if err != nil {
			return err
		}
		var st statuses
		if stored[d.id] {
			st.add(d.orgID, d.id, now, Queued, d.note)
		}
		for _, m := range g {
			if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = 'digested', due_at = NULL, digest_id = $2, updated_at = $3 WHERE id = $1",
				m.id, d.id, ms(now)); err != nil {
				return fmt.Errorf("mark message %s digested: %w", m.id, err)
			}
			st.add(m.orgID, m.id, now, Digested, "sent in digest "+d.id)
		}
		if err := st.write(ctx, tx, s.db.Dialect); err != nil {
			return err
		}
	}
	return nil
}

// record writes the outcomes of sends in one transaction: the messages
// sent in a few statements for the whole batch, the others one by one.
func (s *Service) record(ctx context.Context, batch []outcome) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var sent []outcome
		var st statuses
		for _, o := range batch {
			if o.err == nil {
				sent = append(sent, o)
				continue
			}
			if err := s.recordFailure(ctx, tx, o, &st); err != nil {
				return err
			}
		}
		if err := s.recordSent(ctx, tx, sent, &st); err != nil {
			return err
		}
		return st.write(ctx, tx, s.db.Dialect)
	})
}

// recordSent marks messages sent, unless another dispatcher took them
// over (its record counts), and skips their fallbacks.
func (s *Service) recordSent(ctx context.Context, tx *sql.Tx, sent []outcome, st *statuses) error {
	const perStatement = 200
	for start := 0; start < len(sent); start += perStatement {
		chunk := sent[start:min(start+perStatement, len(sent))]
		var b strings.Builder
		b.WriteString("WITH v(id, at, provider, ref) AS (VALUES ")
		bs := binds{d: s.db.Dialect}
		byID := make(map[string]outcome, len(chunk))
		var withFallback []any
		for i, o := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(CAST(%s AS TEXT), CAST(%s AS BIGINT), CAST(%s AS TEXT), CAST(%s AS TEXT))",
				bs.add(o.m.id), bs.add(ms(o.at)), bs.add(o.provider), bs.add(o.ref))
			byID[o.m.id] = o
		}
		b.WriteString(`) UPDATE notify_messages SET state = CASE WHEN notify_messages.state = 'sending' THEN 'sent' ELSE notify_messages.state END,
due_at = NULL, sent_at = COALESCE(notify_messages.sent_at, v.at), provider = v.provider,
provider_ref = CASE WHEN notify_messages.provider_ref = '' THEN v.ref ELSE notify_messages.provider_ref END, last_error = '', updated_at = v.at
FROM v WHERE notify_messages.id = v.id AND notify_messages.lease_owner = ` + bs.add(s.node) + " RETURNING notify_messages.id")
		rows, err := tx.QueryContext(ctx, b.String(), bs.args...)
		if err != nil {
			return fmt.Errorf("record %d messages sent: %w", len(chunk), err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("record messages sent: %w", err)
			}
			o := byID[id]
			detail := "handed to " + o.provider
			if o.ref != "" {
				detail += " as " + o.ref
			}
			st.add(o.m.orgID, id, o.at, Sent, detail)
			if o.m.fallback != "" {
				withFallback = append(withFallback, o.m.eventID)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("record messages sent: %w", err)
		}
		if len(withFallback) > 0 {
			fb := binds{d: s.db.Dialect}
			if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = 'skipped' WHERE state = 'standby' AND event_id IN ("+
				fb.list(withFallback...)+")", fb.args...); err != nil {
				return fmt.Errorf("skip fallbacks: %w", err)
			}
		}
	}
	return nil
}

// recordFailure records a failed attempt: a retry after backoff, or the
// end of the message on its channel and the wake of its fallback.
func (s *Service) recordFailure(ctx context.Context, tx *sql.Tx, o outcome, st *statuses) error {
	m := o.m
	var perm *PermanentError
	permanent := errors.As(o.err, &perm)
	if !permanent && m.attempts < s.cfg.MaxAttempts {
		next := o.at.Add(s.backoff(m.attempts, o.err))
		res, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = 'queued', due_at = $2, last_error = $3, updated_at = $4 WHERE id = $1 AND lease_owner = $5 AND state = 'sending'",
			m.id, ms(next), errText(o.err), ms(o.at), s.node)
		if err != nil {
			return fmt.Errorf("record message %s for retry: %w", m.id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			st.add(m.orgID, m.id, o.at, Queued, fmt.Sprintf("attempt %d failed (%s); next attempt at %s", m.attempts, errText(o.err), next.Format(time.RFC3339)))
		}
		return nil
	}
	state, why := Failed, "failed"
	if permanent && perm.Bounced {
		state, why = Bounced, "bounced"
	} else if !permanent {
		why = fmt.Sprintf("failed %d times", m.attempts)
	}
	res, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = $2, due_at = NULL, last_error = $3, updated_at = $4 WHERE id = $1 AND lease_owner = $5 AND state = 'sending'",
		m.id, state, errText(o.err), ms(o.at), s.node)
	if err != nil {
		return fmt.Errorf("record message %s failed: %w", m.id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	st.add(m.orgID, m.id, o.at, state, why+": "+errText(o.err))
	if state == Bounced {
		if err := suppressTx(ctx, tx, s.db.Dialect, m.orgID, m.channel, m.address, "bounced: "+errText(o.err), o.at); err != nil {
			return err
		}
	}
	return s.fallBack(ctx, tx, m.orgID, m.eventID, m.channel, m.fallback, o.at, st)
}

// fallBack queues the next fallback of a message that failed on channel:
// one waiting, or one skipped because the message had seemed sent (a
// provider's receipt said later that it failed).
func (s *Service) fallBack(ctx context.Context, tx *sql.Tx, orgID, eventID, channel, fallback string, at time.Time, st *statuses) error {
	for _, next := range strings.Split(fallback, ",") {
		if next == "" {
			continue
		}
		var id string
		err := tx.QueryRowContext(ctx, "UPDATE notify_messages SET state = 'queued', due_at = $3, updated_at = $3 WHERE event_id = $1 AND channel = $2 AND state IN ('standby', 'skipped') RETURNING id",
			eventID, next, ms(at)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue // suppressed or gone: try the one after
		}
		if err != nil {
			return fmt.Errorf("queue the %s fallback of event %s: %w", next, eventID, err)
		}
		st.add(orgID, id, at, Queued, "fallback: the "+channel+" message failed")
		signal(s.sendWake)
		return nil
	}
	return nil
}

// backoff returns the delay before attempt n+1: RetryBase doubled per
// attempt up to RetryMax, plus up to a quarter of random jitter so that
// messages failed together do not return together; never sooner than a
// provider's Retry-After.
func (s *Service) backoff(n int, err error) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	d += time.Duration(rand.Int64N(int64(d)/4 + 1))
	var ra *RetryError
	if errors.As(err, &ra) && ra.After > d {
		d = ra.After
	}
	return d
}

// errText is an error as stored for staff: one line, bounded.
func errText(err error) string {
	t := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(t) > 500 {
		t = t[:500] + "…"
	}
	return t
}
