package httpx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/careloop/careloop/internal/platform/errs"
)

// ReadyTimeout bounds one call of Options.ReadyCheck by GET /readyz.
const ReadyTimeout = 2 * time.Second

// RegisterHealth registers the operational endpoints on mux:
//
//   - GET /healthz answers 200 "ok" (text/plain) while the process can serve
//     HTTP. It checks nothing else, takes no locks and allocates nothing, so
//     orchestrators can probe it often.
//   - GET /readyz calls o.ReadyCheck with a 2 s timeout and answers 200
//     "ready", or 503 through WriteError with the check error's safe
//     message ("Readiness check timed out." on timeout).
//   - GET /metrics serves o.Gatherer (or o.Registry if it is a Gatherer) in
//     the Prometheus exposition format; it is not registered if there is
//     neither.
//
// The endpoints expose no health data, but /metrics reveals traffic
// figures: restrict it at the network edge in production. RegisterHealth
// panics, as ServeMux does, if mux already has these patterns.
func RegisterHealth(mux *http.ServeMux, o Options) {
	textPlain := one("text/plain; charset=utf-8")
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = textPlain
		_, _ = io.WriteString(w, "ok")
	})
	check := o.ReadyCheck
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			err := check(ctx)
			cancel()
			if err != nil {
				WriteError(w, r, notReady(err))
				return
			}
		}
		w.Header()["Content-Type"] = textPlain
		_, _ = io.WriteString(w, "ready")
	})
	g := o.Gatherer
	if g == nil {
		g, _ = o.Registry.(prometheus.Gatherer)
	}
	if g != nil {
		opts := promhttp.HandlerOpts{}
		if o.Logger != nil {
			opts.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelError)
		}
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, opts))
	}
}

// notReady turns a readiness-check failure into an errs.Unavailable error
// that keeps a safe message when the check gave one.
func notReady(err error) error {
	msg := "Not ready."
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		msg = "Readiness check timed out."
	case errs.CodeOf(err) != errs.Internal:
		msg = errs.MessageOf(err)
	}
	return errs.Wrap(err, errs.Unavailable, msg)
}
