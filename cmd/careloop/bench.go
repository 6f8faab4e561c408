package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/loadgen"
	"github.com/careloop/careloop/internal/platform/config"
)

const benchUsage = `Usage: careloop bench http|ingest|search [flags]

Measures a careloop running on this machine. Only loopback addresses are
accepted.

  http     sends GET (or other) requests to one URL: requests per second and
           latency percentiles
  ingest   posts FHIR transaction Bundles from a folder to /fhir until a
           number of resources is stored: resources per second
  search   searches the Observations of the server's patients by patient,
           code and date: requests per second and latency percentiles

Run 'careloop bench NAME -h' for the flags of each.
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return &config.UsageError{Msg: "careloop bench: name what to measure: careloop bench http --url http://127.0.0.1:8080/healthz"}
	}
	switch args[0] {
	case "http":
		return benchHTTP(ctx, args[1:], stdout)
	case "ingest":
		return benchIngest(ctx, args[1:], stdout)
	case "search":
		return benchSearch(ctx, args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, benchUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, benchUsage)
	return &config.UsageError{Msg: fmt.Sprintf("careloop bench: unknown benchmark %q (http, ingest or search)", args[0])}
}

// benchFlags are the flags every benchmark has.
type benchFlags struct {
	fs    *flag.FlagSet
	conc  *int
	token *string
}

func newBenchFlags(name string, concurrency int) *benchFlags {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &benchFlags{fs: fs,
		conc:  fs.Int("concurrency", concurrency, "requests in flight at once"),
		token: fs.String("token", "", "bearer token to send (an API key, for /fhir)"),
	}
}

// parse parses args; -h prints the flags to stdout.
func (b *benchFlags) parse(args []string, stdout io.Writer, usage string) error {
	if err := b.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			b.fs.SetOutput(stdout)
			b.fs.PrintDefaults()
			return flag.ErrHelp
		}
		return &config.UsageError{Msg: fmt.Sprintf("careloop %s: %v (see 'careloop %s -h')", b.fs.Name(), err, b.fs.Name())}
	}
	if b.fs.NArg() > 0 {
		return &config.UsageError{Msg: fmt.Sprintf("careloop %s: unexpected argument %q", b.fs.Name(), b.fs.Arg(0))}
	}
	return nil
}

func (b *benchFlags) header() http.Header {
	h := http.Header{"Accept": {"application/fhir+json"}}
	if *b.token != "" {
		h.Set("Authorization", "Bearer "+*b.token)
	}
	return h
}

func benchHTTP(ctx context.Context, args []string, stdout io.Writer) error {
	b := newBenchFlags("http", 64)
	u := b.fs.String("url", "http://127.0.0.1:8080/healthz", "URL to load (loopback only)")
	dur := b.fs.Duration("duration", 10*time.Second, "how long to measure")
	warm := b.fs.Duration("warmup", time.Second, "how long to send before measuring")
	maxReq := b.fs.Int("requests", 0, "stop after this many requests (0: no limit)")
	rate := b.fs.Float64("rate", 0, "send this many requests per second, each timed from when it was due if no connection was free then (0: as fast as the connections allow)")
	if err := b.parse(args, stdout, "Usage: careloop bench http [flags]\n\nSends requests to one URL and reports requests per second and latency.\n\nFlags:\n"); err != nil {
		return err
	}
	res, err := loadgen.Run(ctx, loadgen.Options{URL: *u, Concurrency: *b.conc, Duration: *dur, Warmup: *warm, MaxRequests: *maxReq, Header: b.header(), Rate: *rate})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.String())
	return nil
}

const ingestUsage = `Usage: careloop bench ingest --from FOLDER [flags]

Posts the FHIR transaction Bundles in FOLDER (*.json, for example Synthea's
output) to BASE/fhir, in turn and again from the first, until at least
--resources resources are stored, with Prefer: return=minimal. Reports
resources stored per second and the latency of each Bundle. Every Bundle
posted creates new resources: run it against a database you can throw away.

Flags:
`

func benchIngest(ctx context.Context, args []string, stdout io.Writer) error {
	b := newBenchFlags("ingest", 4)
	base := b.fs.String("url", "http://127.0.0.1:8080", "base URL of careloop (loopback only)")
	from := b.fs.String("from", "", "folder of transaction Bundle files (required)")
	total := b.fs.Int("resources", 100000, "resources to store")
	if err := b.parse(args, stdout, ingestUsage); err != nil {
		return err
	}
	if *from == "" {
		return &config.UsageError{Msg: "careloop bench ingest: --from FOLDER is required (a folder of transaction Bundle .json files)"}
	}
	if *total <= 0 {
		return &config.UsageError{Msg: "careloop bench ingest: --resources must be positive"}
	}
	bundles, sizes, err := readBundles(*from)
	if err != nil {
		return err
	}
	target := strings.TrimSuffix(*base, "/") + "/fhir"
	rot := make([]loadgen.Target, len(bundles))
	for i, body := range bundles {
		rot[i] = loadgen.Target{URL: target, Body: body}
	}
	// Enough requests, taking the Bundles in turn, to reach total.
	requests, sum := 0, 0
	for sum < *total {
		sum += sizes[requests%len(sizes)]
		requests++
	}
	h := b.header()
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Prefer", "return=minimal")
	fmt.Fprintf(stdout, "Posting %d Bundles (%d resources, from %d files) to %s with %d in flight…\n", requests, sum, len(bundles), target, *b.conc)
	res, err := loadgen.Run(ctx, loadgen.Options{Rotate: rot, Method: http.MethodPost, Header: h, Concurrency: *b.conc,
		MaxRequests: requests, Duration: loadgen.MaxDuration, Weigh: func(i int) int64 { return int64(sizes[i]) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d resources stored in %s: %.0f resources/s\n", res.Units, res.Elapsed.Round(time.Millisecond), res.UnitsPerSecond)
	fmt.Fprint(stdout, res.String())
	if res.Non2xx > 0 || res.Errors > 0 {
		return fmt.Errorf("bench ingest: %d Bundles failed and %d got no answer; see the server's log", res.Non2xx, res.Errors)
	}
	return nil
}

// readBundles reads the transaction Bundles of a folder, sorted by name,
// and counts their entries.
func readBundles(dir string) ([][]byte, []int, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(paths)
	var bundles [][]byte
	var sizes []int
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("bench ingest: %w", err)
		}
		var b struct {
			ResourceType, Type string
			Entry              []json.RawMessage
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction" {
			return nil, nil, fmt.Errorf("bench ingest: %s is not a transaction Bundle", p)
		}
		if len(b.Entry) == 0 {
			continue
		}
		bundles = append(bundles, raw)
		sizes = append(sizes, len(b.Entry))
	}
	if len(bundles) == 0 {
		return nil, nil, fmt.Errorf("bench ingest: no transaction Bundles (*.json) in %s", dir)
	}
	return bundles, sizes, nil
}

const searchUsage = `Usage: careloop bench search [flags]

Finds up to --patients patients on the server, then searches
Observation?patient=ID&code=http://loinc.org|CODE&date=geDATE for each
patient and each of --codes in turn, and reports requests per second and
latency percentiles.

Flags:
`

func benchSearch(ctx context.Context, args []string, stdout io.Writer) error {
	b := newBenchFlags("search", 2)
	base := b.fs.String("url", "http://127.0.0.1:8080", "base URL of careloop (loopback only)")
	patients := b.fs.Int("patients", 500, "how many of the server's patients to search for")
	codes := b.fs.String("codes", "8867-4,29463-7,8302-2,55284-4,39156-5,2339-0,4548-4,2093-3", "LOINC codes to search for, comma separated")
	since := b.fs.String("date", "2015-01-01", "date=ge… of the search")
	dur := b.fs.Duration("duration", 20*time.Second, "how long to measure")
	warm := b.fs.Duration("warmup", 2*time.Second, "how long to send before measuring")
	if err := b.parse(args, stdout, searchUsage); err != nil {
		return err
	}
	fhirBase := strings.TrimSuffix(*base, "/") + "/fhir"
	if _, err := loadgen.CheckTarget(fhirBase); err != nil {
		return &config.UsageError{Msg: "careloop bench search: " + err.Error()}
	}
	ids, err := patientIDs(ctx, fhirBase, b.header(), *patients)
	if err != nil {
		return err
	}
	var rot []loadgen.Target
	for _, code := range strings.Split(*codes, ",") {
		for _, id := range ids {
			q := url.Values{"patient": {id}, "code": {"http://loinc.org|" + strings.TrimSpace(code)}, "date": {"ge" + *since}}
			rot = append(rot, loadgen.Target{URL: fhirBase + "/Observation?" + q.Encode()})
		}
	}
	fmt.Fprintf(stdout, "Searching the Observations of %d patients for %d codes (%d distinct searches) with %d in flight…\n",
		len(ids), len(strings.Split(*codes, ",")), len(rot), *b.conc)
	res, err := loadgen.Run(ctx, loadgen.Options{Rotate: rot, Header: b.header(), Concurrency: *b.conc, Duration: *dur, Warmup: *warm})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.String())
	return nil
}

// patientIDs pages through Patient?_elements=id for up to n ids.
func patientIDs(ctx context.Context, fhirBase string, h http.Header, n int) ([]string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	next := fhirBase + "/Patient?_count=1000&_elements=id"
	var ids []string
	for next != "" && len(ids) < n {
		if _, err := loadgen.CheckTarget(next); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		req.Header = h.Clone()
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("bench search: %w", err)
		}
		var page struct {
			Entry []struct {
				Resource struct{ ID string } `json:"resource"`
			} `json:"entry"`
			Link []struct{ Relation, URL string } `json:"link"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			return nil, fmt.Errorf("bench search: listing patients answered %s (is --token right?)", resp.Status)
		}
		for _, e := range page.Entry {
			ids = append(ids, e.Resource.ID)
		}
		next = ""
		for _, l := range page.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("bench search: the server has no patients; load some first (careloop bench ingest or careloop import)")
	}
	return ids[:min(len(ids), n)], nil
}
