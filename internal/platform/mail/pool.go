package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"time"
)

// errStale marks the failure of RSET on a connection taken from the pool:
// the server closed it while it was idle, before any of the message was
// sent, so another connection may carry the message.
var errStale = errors.New("the pooled connection is no longer usable")

// quitTimeout bounds the QUIT that closes a connection.
const quitTimeout = 5 * time.Second

// session is one open SMTP connection, past EHLO, STARTTLS and AUTH.
type session struct {
	conn net.Conn // the TCP connection under c, for deadlines
	c    *smtp.Client
	sent int // messages accepted on it

	// Guarded by SMTP.mu:
	idle  bool        // in SMTP.idle
	gen   int         // incremented each time it goes idle
	timer *time.Timer // closes it after IdleTimeout idle
}

// take returns an idle connection (reused) or a new one. Connections idle
// longer than IdleTimeout whose timer has not yet closed them are closed
// on the way.
func (s *SMTP) take(ctx context.Context) (sess *session, reused bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, ErrClosed
	}
	var expired []*session
	for len(s.idle) > 0 {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		last.idle = false
		if !last.timer.Stop() {
			expired = append(expired, last) // its timer fired: past IdleTimeout
			continue
		}
		sess = last
		break
	}
	s.mu.Unlock()
	for _, e := range expired {
		s.quitLater(e)
	}
	if sess != nil {
		return sess, true, nil
	}
	sess, err = s.dial(ctx)
	return sess, false, err
}

// put returns a connection that just delivered a message to the pool, or
// closes it with QUIT when it has carried MaxPerConn messages or the
// sender is closed.
func (s *SMTP) put(sess *session) {
	s.mu.Lock()
	if s.closed || sess.sent >= s.maxPerConn {
		s.mu.Unlock()
		s.quitLater(sess)
		return
	}
	sess.idle = true
	sess.gen++
	gen := sess.gen
	sess.timer = time.AfterFunc(s.idleTimeout, func() { s.expire(sess, gen) })
	s.idle = append(s.idle, sess)
	s.mu.Unlock()
}

// expire closes sess with QUIT if it is still idle since the moment gen
// was given to it.
func (s *SMTP) expire(sess *session, gen int) {
	s.mu.Lock()
	if !sess.idle || sess.gen != gen {
		s.mu.Unlock()
		return
	}
	sess.idle = false
	for i, x := range s.idle {
		if x == sess {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	_ = sess.quit()
}

// quitLater closes sess with QUIT without holding up the caller.
func (s *SMTP) quitLater(sess *session) {
	go func() { _ = sess.quit() }()
}

// dial opens a connection: connect, greeting, EHLO, STARTTLS as the mode
// requires, AUTH PLAIN when the URL has a user.
func (s *SMTP) dial(ctx context.Context) (*session, error) {
	dialer := &net.Dialer{}
	var conn net.Conn
	var err error
	if s.mode == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mail: connect to %s: %w", s.addr, err)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	sess, err := s.handshake(conn)
	if !stop() && err == nil {
		err = fmt.Errorf("mail: opening a connection to %s: %w", s.addr, context.Cause(ctx))
	}
	if err != nil {
		if sess != nil {
			_ = sess.c.Close()
		} else {
			_ = conn.Close()
		}
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	sess.conn = raw
	return sess, nil
}

// handshake speaks the start of an SMTP session on conn. It returns the
// session so far along with an error after the greeting, so that the
// caller can close it.
func (s *SMTP) handshake(conn net.Conn) (*session, error) {
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return nil, stepError("greeting of "+s.addr, err)
	}
	sess := &session{c: c}
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return sess, stepError("EHLO", err)
	}
	if s.mode == TLSRequired || s.mode == TLSOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return sess, stepError("STARTTLS", err)
			}
		} else if s.mode == TLSRequired {
			return sess, fmt.Errorf("mail: %s does not offer STARTTLS, which the SMTP URL requires (add ?tls=opportunistic to allow plain text)", s.addr)
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return sess, fmt.Errorf("mail: %s does not offer AUTH, but the SMTP URL has credentials", s.addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			var se *SMTPError
			if err := stepError("AUTH PLAIN", err); errors.As(err, &se) {
				return sess, err
			}
			return sess, fmt.Errorf("mail: AUTH PLAIN as %q: %w", s.user, err)
		}
	}
	return sess, nil
}

// deliver sends one message on sess: RSET first when the connection was
// used before (an error there is errStale), then MAIL, RCPT, DATA. Any
// error leaves sess unusable, and so does the end of the context during
// the transaction, even when the message went through (spent reports
// that). The context's deadline and cancellation apply.
func (sess *session) deliver(ctx context.Context, reused bool, from, to string, raw []byte) (spent bool, err error) {
	if d, ok := ctx.Deadline(); ok {
		_ = sess.conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = sess.conn.SetDeadline(time.Now()) })
	err = sess.transaction(reused, from, to, raw)
	if !stop() {
		if err != nil {
			return true, fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		sess.sent++
		return true, nil
	}
	if err != nil {
		return true, err
	}
	sess.sent++
	_ = sess.conn.SetDeadline(time.Time{})
	return false, nil
}

func (sess *session) transaction(reused bool, from, to string, raw []byte) error {
	if reused {
		if err := sess.c.Reset(); err != nil {
			return fmt.Errorf("mail: RSET: %w: %w", errStale, err)
		}
	}
	if err := sess.c.Mail(from); err != nil {
		return stepError(stepMail, err)
	}
	if err := sess.c.Rcpt(to); err != nil {
		return stepError(stepRcpt, err)
	}
	w, err := sess.c.Data()
	if err != nil {
		return stepError(stepData, err)
	}
	if _, err := w.Write(raw); err != nil {
		return stepError(stepData, err)
	}
	if err := w.Close(); err != nil {
		return stepError(stepData, err)
	}
	return nil
}

// quit closes sess politely: QUIT, then the connection.
func (sess *session) quit() error {
	_ = sess.conn.SetDeadline(time.Now().Add(quitTimeout))
	if err := sess.c.Quit(); err != nil {
		_ = sess.c.Close()
		return stepError("QUIT", err)
	}
	return nil
}

// discard closes sess without a word: its state is unknown.
func (sess *session) discard() { _ = sess.c.Close() }
