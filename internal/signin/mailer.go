package signin

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/careloop/careloop/internal/platform/mail"
)

// Mailer sends the account emails, and runs the work behind answers that
// must not depend on whether an account exists, in the background: the
// request that caused them answers at once, whatever happens next, and a
// failure is logged, never shown.
type Mailer struct {
	Sender mail.Sender
	Log    *slog.Logger
	// Timeout bounds one background task; zero means two minutes.
	Timeout time.Duration

	wg sync.WaitGroup
}

// Go runs fn in the background with a context of its own (the request's
// ends with its answer) and logs its error under the task's name.
func (m *Mailer) Go(task string, fn func(ctx context.Context) error) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		timeout := m.Timeout
		if timeout == 0 {
			timeout = 2 * time.Minute
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := fn(ctx); err != nil && m.Log != nil {
			m.Log.Warn("account email task failed", "task", task, "err", err)
		}
	}()
}

// Send sends msg in the background. A failure is logged with the
// subject and the recipient's domain, never the body (it holds links).
func (m *Mailer) Send(msg mail.Message) {
	m.Go("send email", func(ctx context.Context) error { return m.sendNow(ctx, msg) })
}

func (m *Mailer) sendNow(ctx context.Context, msg mail.Message) error {
	if err := m.Sender.Send(ctx, msg); err != nil {
		_, domain, _ := strings.Cut(msg.To, "@")
		return fmt.Errorf("%q to a person at %s: %w", msg.Subject, domain, err)
	}
	return nil
}

// Wait waits for the background tasks started so far: before the process
// exits, and in tests.
func (m *Mailer) Wait() { m.wg.Wait() }
