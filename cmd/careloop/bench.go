package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/loadgen"
	"github.com/careloop/careloop/internal/platform/config"
)

const benchUsage = `Usage: careloop bench http [flags]

Sends HTTP requests to a careloop on this machine and reports requests per
second and latency percentiles. Only loopback addresses are accepted.

Flags:
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "http" {
		fmt.Fprint(stderr, benchUsage)
		return &config.UsageError{Msg: "careloop bench: name what to measure: careloop bench http --url http://127.0.0.1:8080/healthz"}
	}
	fs := flag.NewFlagSet("bench http", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "URL to load (loopback only)")
	conc := fs.Int("concurrency", 64, "requests in flight at once")
	dur := fs.Duration("duration", 10*time.Second, "how long to measure")
	warm := fs.Duration("warmup", time.Second, "how long to send before measuring")
	maxReq := fs.Int("requests", 0, "stop after this many requests (0: no limit)")
	token := fs.String("token", "", "bearer token to send (an API key, for /fhir)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, benchUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return flag.ErrHelp
		}
		return &config.UsageError{Msg: fmt.Sprintf("careloop bench http: %v (see 'careloop bench http -h')", err)}
	}
	header := http.Header{}
	if *token != "" {
		header.Set("Authorization", "Bearer "+*token)
	}
	res, err := loadgen.Run(ctx, loadgen.Options{URL: *url, Concurrency: *conc, Duration: *dur, Warmup: *warm, MaxRequests: *maxReq, Header: header})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.String())
	return nil
}
