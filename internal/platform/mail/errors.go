package mail

import (
	"errors"
	"fmt"
	"net/textproto"
)

// ErrClosed is returned by Send on an SMTP sender after its Close.
var ErrClosed = errors.New("mail: the SMTP sender is closed")

// SMTPError is a reply of the SMTP server that refused a step of a
// delivery. Step names the command ("EHLO", "STARTTLS", "AUTH PLAIN",
// "MAIL FROM", "RCPT TO", "DATA", …); Code and Message are the server's
// reply. It unwraps to the *textproto.Error of the reply.
type SMTPError struct {
	Step    string
	Code    int
	Message string
}

// Error returns "mail: <step>: <code> <message>".
func (e *SMTPError) Error() string {
	return fmt.Sprintf("mail: %s: %d %s", e.Step, e.Code, e.Message)
}

// Unwrap returns the server's reply as a *textproto.Error.
func (e *SMTPError) Unwrap() error {
	return &textproto.Error{Code: e.Code, Msg: e.Message}
}

// stepError turns an error of one SMTP step into an *SMTPError when the
// server replied, or wraps it with the step's name otherwise (a network
// error, a timeout, a TLS failure).
func stepError(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &SMTPError{Step: step, Code: te.Code, Message: te.Msg}
	}
	return fmt.Errorf("mail: %s: %w", step, err)
}

// Permanent reports whether err means that the message can never be
// delivered as it is, so that sending it again is pointless: a 5xx reply
// to MAIL FROM, RCPT TO or DATA (the address or the message is refused),
// or a message Compose refuses (ErrInvalid). It reports false for 4xx
// replies, network errors, timeouts, TLS and AUTH failures, a closed
// sender, and for 530 to MAIL FROM (authentication required: careloop's
// configuration, not the message, is at fault): those may pass later.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalid) {
		return true
	}
	var se *SMTPError
	if !errors.As(err, &se) || se.Code < 500 || se.Code > 599 {
		return false
	}
	switch se.Step {
	case stepMail:
		return se.Code != 530
	case stepRcpt, stepData:
		return true
	}
	return false
}

// The steps of a delivery whose refusal concerns the message.
const (
	stepMail = "MAIL FROM"
	stepRcpt = "RCPT TO"
	stepData = "DATA"
)
