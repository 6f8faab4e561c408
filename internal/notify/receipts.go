package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/careloop/careloop/internal/notify/sms"
	"github.com/careloop/careloop/internal/platform/errs"
)

// rank orders the states a message moves through after it is handed to
// a provider; a receipt never moves a message back.
var rank = map[string]int{Queued: 0, Sending: 1, Sent: 2, Delivered: 3, Opened: 4}

// ApplyReceipt records a provider's report on a message of the
// organisation, found by careloop's id (messageID) or else by the
// provider's (ref). A report that would move the message back (sent after
// delivered) is ignored; failed or bounced after sent ends the message on
// its channel and wakes its fallback.
func (s *Service) ApplyReceipt(ctx context.Context, orgID, provider string, rc sms.Receipt) error {
	now := s.clock()
	at := rc.At
	if at.IsZero() || at.After(now) {
		at = now
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		q := "SELECT id, state, event_id, channel, fallback, address FROM notify_messages WHERE org_id = $1 AND id = $2"
		key := rc.MessageID
		if key == "" {
			q = "SELECT id, state, event_id, channel, fallback, address FROM notify_messages WHERE org_id = $1 AND provider_ref = $2 AND provider = $3"
			key = rc.ProviderRef
		}
		args := []any{orgID, key}
		if rc.MessageID == "" {
			args = append(args, provider)
		}
		var id, state, eventID, channel, fallback, address string
		err := tx.QueryRowContext(ctx, q, args...).Scan(&id, &state, &eventID, &channel, &fallback, &address)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("No message matches this receipt.")
		}
		if err != nil {
			return err
		}
		detail := "reported by " + provider
		if rc.ErrorCode != "" {
			detail += " (error " + rc.ErrorCode + ")"
		}
		switch rc.Status {
		case Failed, Bounced:
			if state != Sending && state != Sent && state != Delivered {
				return nil
			}
			if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = $2, due_at = NULL, last_error = $3, updated_at = $4 WHERE id = $1",
				id, rc.Status, detail, ms(now)); err != nil {
				return err
			}
			st := statuses{{orgID, id, at, rc.Status, detail}}
			if rc.Status == Bounced {
				if err := suppressTx(ctx, tx, s.db.Dialect, orgID, channel, address, "bounced: "+detail, now); err != nil {
					return err
				}
			}
			if err := s.fallBack(ctx, tx, orgID, eventID, channel, fallback, now, &st); err != nil {
				return err
			}
			return st.write(ctx, tx, s.db.Dialect)
		case Delivered:
			if r, ok := rank[state]; !ok || r >= rank[Delivered] {
				return nil
			}
			if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = 'delivered', delivered_at = $2, updated_at = $3 WHERE id = $1",
				id, ms(at), ms(now)); err != nil {
				return err
			}
			return s.addStatus(ctx, tx, orgID, id, at, Delivered, detail)
		}
		return nil // queued and sent add nothing to what careloop knows
	})
	if err != nil && errs.CodeOf(err) == errs.Internal {
		return fmt.Errorf("notify: receipt from %s: %w", provider, err)
	}
	return err
}

// Inbound acts on a text message a person sent to the organisation's
// number: STOP suppresses their number, START lifts that.
func (s *Service) Inbound(ctx context.Context, orgID string, in sms.Inbound) error {
	from, err := sms.NormalizePhone(in.From)
	if err != nil {
		return errs.Invalidf("from", "The sender's number is not a phone number.")
	}
	switch in.Keyword {
	case sms.Stop:
		return s.Suppress(ctx, orgID, SMS, from, "the person replied STOP")
	case sms.Start:
		err := s.Unsuppress(ctx, orgID, SMS, from)
		if errs.CodeOf(err) == errs.NotFound {
			return nil
		}
		return err
	}
	return nil
}

// OpenLink records that the link of a message was followed and returns
// where it leads: the item of the message, or the message itself in the
// inbox. An expired link returns ErrLinkExpired, any other bad link
// ErrLinkInvalid.
func (s *Service) OpenLink(ctx context.Context, token string) (string, error) {
	now := s.clock()
	id, err := s.links.verify(token, purposeOpen, now)
	if err != nil {
		return "", err
	}
	var orgID, target, state, eventID, inbox string
	var opened sql.NullInt64
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT m.org_id, COALESCE(e.target, ''), m.state, m.event_id, m.opened_at FROM notify_messages m
LEFT JOIN notify_events e ON e.id = m.event_id WHERE m.id = $1`, id).Scan(&orgID, &target, &state, &eventID, &opened)
		if err != nil {
			return err
		}
		if target == "" {
			// The message in the inbox: its in-app copy (a digest has none).
			err := tx.QueryRowContext(ctx, "SELECT id FROM notify_messages WHERE event_id = $1 AND channel = 'inapp'", eventID).Scan(&inbox)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if opened.Valid {
			return nil
		}
		next := state
		if r, ok := rank[state]; ok && r < rank[Opened] {
			next = Opened
		}
		if _, err := tx.ExecContext(ctx, "UPDATE notify_messages SET state = $2, opened_at = $3, updated_at = $3 WHERE id = $1", id, next, ms(now)); err != nil {
			return err
		}
		return s.addStatus(ctx, tx, orgID, id, now, Opened, "the link was followed")
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrLinkInvalid
	}
	if err != nil {
		return "", fmt.Errorf("notify: open link of %s: %w", id, err)
	}
	switch {
	case target != "":
		return target, nil
	case inbox != "":
		return "/account/messages/" + inbox, nil
	}
	return "/account/messages", nil
}

// UnsubscribeLink stops messages to the address of the message whose
// unsubscribe link was followed (its channel only), and returns the
// address's channel.
func (s *Service) UnsubscribeLink(ctx context.Context, token string) (channel string, err error) {
	id, err := s.links.verify(token, purposeUnsubscribe, s.clock())
	if err != nil && !errors.Is(err, ErrLinkExpired) {
		// An unsubscribe link keeps working after it expires: stopping
		// mail must always be possible.
		return "", err
	}
	var orgID, address string
	err = s.db.Read.QueryRowContext(ctx, "SELECT org_id, channel, address FROM notify_messages WHERE id = $1", id).Scan(&orgID, &channel, &address)
	if errors.Is(err, sql.ErrNoRows) || address == "" {
		return "", ErrLinkInvalid
	}
	if err != nil {
		return "", fmt.Errorf("notify: unsubscribe: %w", err)
	}
	return channel, s.Suppress(ctx, orgID, channel, address, "unsubscribed by the link in a message at "+time.Now().UTC().Format(time.DateOnly))
}
