package fhir

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sync/semaphore"

	"github.com/careloop/careloop/internal/platform/errs"
)

// OperatorAccess admits the operator running careloop's command-line
// tools, who holds the database itself. Never serve HTTP with it: it
// authenticates nobody.
type OperatorAccess struct{}

// Authenticate refuses every HTTP request.
func (OperatorAccess) Authenticate(r *http.Request) (*Principal, error) {
	return nil, errs.E(errs.Unauthorized, "operator access is for command-line tools only")
}

// Allow admits every interaction.
func (OperatorAccess) Allow(context.Context, *Principal, Interaction, string) error { return nil }

// Visible shows everything.
func (OperatorAccess) Visible(context.Context, *Principal, *Stored) bool { return true }

// ImportResult tells what one file contributed.
type ImportResult struct {
	Path      string
	Resources int  // stored by this run
	Skipped   bool // imported completely by an earlier run
	Resumed   bool // an earlier run stored part of it
}

// ndjsonChunk is the number of NDJSON lines stored per transaction.
const ndjsonChunk = 500

// ImportFiles lists the .json and .ndjson files of paths (files, or
// folders walked recursively), sorted, with their total size.
func ImportFiles(paths []string) ([]string, int64, error) {
	var files []string
	var size int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if path != p && !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".ndjson") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, path)
			size += info.Size()
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("import: %w", err)
		}
	}
	sort.Strings(files)
	return files, size, nil
}

// Import stores the resources of one file for the organisation; see
// ImportAll.
func (a *API) Import(ctx context.Context, orgID, path string, progress func(bytes int64)) (*ImportResult, error) {
	var res *ImportResult
	err := a.ImportAll(ctx, orgID, []string{path}, progress, func(r *ImportResult) { res = r })
	return res, err
}

// importSizes bounds the import's work in memory. They are variables for
// the tests alone.
var importSizes = struct {
	// group is about how many resources of consecutive Bundle files are
	// stored in one database transaction. Each commit writes every page it
	// dirtied, and the pages of the search indexes are dirtied again by
	// every transaction: fewer, larger transactions write each page fewer
	// times.
	group int
	// aheadResources and aheadFiles bound what is read and prepared ahead
	// of the group being gathered and stored: about one group, so that the
	// next one is prepared while one is written. With a few files ahead the
	// writer waited for most of the next group after every commit.
	aheadResources int64
	aheadFiles     int
}{group: 2000, aheadResources: 2000, aheadFiles: 64}

// importFile is one file read and, for a Bundle or single resource,
// planned: its resources rewritten, validated and indexed.
type importFile struct {
	path   string
	raw    []byte
	key    string // SHA-256 of raw, hex
	done   int64  // lines (NDJSON) already stored by an earlier run; -1 for none
	res    *ImportResult
	ndjson bool
	plan   *txPlan
	err    error
	weight int64 // what the file counts against importSizes.aheadResources
}

// aheadWeight is what f counts against importSizes.aheadResources: its
// planned resources, at least 1 and at most the whole allowance.
func aheadWeight(f *importFile) int64 {
	n := int64(1)
	if f.plan != nil {
		n = max(n, int64(len(f.plan.entries)))
	}
	return min(n, importSizes.aheadResources)
}

// ImportAll stores the resources of files, in order, for the organisation.
// A file is a Bundle (transaction and batch as such; collection, searchset
// and others entry by entry, each resource with an id updated, one without
// created), a single resource, or NDJSON with one resource per line. Every
// transaction also records which files (or NDJSON lines) it stored, so an
// interrupted import run again continues where it stopped and a file
// imported completely is skipped. The import stops at the first file that
// fails, after storing the files before it. progress, if not nil, is told
// the bytes handled; each, if not nil, is told each file's result.
//
// Files are read, checked, validated and indexed ahead, on other cores,
// while earlier ones are written; consecutive Bundle files share a database
// transaction up to about importSizes.group resources.
func (a *API) ImportAll(ctx context.Context, orgID string, paths []string, progress func(bytes int64), each func(*ImportResult)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *importFile, importSizes.aheadFiles)
	// A file counts against ahead from when it is read until this loop
	// takes it: were it counted until stored, a group still short of its
	// size could hold the whole allowance, and the reader would wait for
	// room that only the next file could make.
	ahead := semaphore.NewWeighted(importSizes.aheadResources)
	go func() {
		defer close(ready)
		for _, path := range paths {
			f := a.readImport(ctx, orgID, path)
			f.weight = aheadWeight(f)
			if ahead.Acquire(ctx, f.weight) != nil {
				return
			}
			select {
			case ready <- f:
			case <-ctx.Done():
				return
			}
			if f.err != nil {
				return
			}
		}
	}()
	report := func(f *importFile) {
		if progress != nil {
			progress(int64(len(f.raw)))
		}
		if each != nil {
			each(f.res)
		}
	}
	p := &Principal{OrgID: orgID, Subject: "operator", Kind: "operator"}
	var group []*importFile
	resources := 0
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		err := a.storeImports(ctx, orgID, p, group)
		if err != nil && len(group) > 1 {
			// Store them one by one, to keep the good files and name the bad one.
			for _, f := range group {
				if err = a.storeImports(ctx, orgID, p, []*importFile{f}); err != nil {
					return err
				}
				report(f)
			}
			group, resources = group[:0], 0
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range group {
			report(f)
		}
		group, resources = group[:0], 0
		return nil
	}
	for f := range ready {
		ahead.Release(f.weight)
		switch {
		case f.err != nil:
			if err := flush(); err != nil {
				return err
			}
			return f.err
		case f.res.Skipped:
			if err := flush(); err != nil {
				return err
			}
			report(f)
		case f.ndjson:
			if err := flush(); err != nil {
				return err
			}
			if err := a.importNDJSON(ctx, p, f, progress); err != nil {
				return err
			}
			if each != nil {
				each(f.res)
			}
		default:
			group = append(group, f)
			resources += len(f.plan.entries)
			if resources >= importSizes.group {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return ctx.Err()
}

// readImport reads a file, looks up what earlier runs stored of it and
// plans a Bundle's or resource's transaction.
func (a *API) readImport(ctx context.Context, orgID, path string) *importFile {
	f := &importFile{path: path, res: &ImportResult{Path: path}}
	var err error
	if f.raw, err = os.ReadFile(path); err != nil {
		f.err = fmt.Errorf("import %s: %w", path, err)
		return f
	}
	sum := sha256.Sum256(f.raw)
	f.key = hex.EncodeToString(sum[:])
	var completed sql.NullTime
	err = a.db.Read.QueryRowContext(ctx, "SELECT done, completed_at FROM fhir_imports WHERE org_id = $1 AND sha256 = $2", orgID, f.key).Scan(&f.done, &completed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		f.done = -1
	case err != nil:
		f.err = fmt.Errorf("import %s: %w", path, err)
		return f
	case completed.Valid:
		f.res.Skipped = true
		return f
	default:
		f.res.Resumed = true
	}
	trimmed := bytes.TrimSpace(f.raw)
	if strings.HasSuffix(path, ".ndjson") || isNDJSON(trimmed) {
		f.ndjson = true
		return f
	}
	entries, err := entriesOf(trimmed)
	if err == nil {
		f.plan, err = a.planTransaction(entries, false)
	}
	if err != nil {
		f.err = fmt.Errorf("import %s: %w", path, err)
	}
	return f
}

// storeImports stores planned files in one transaction, recording each as
// complete.
func (a *API) storeImports(ctx context.Context, orgID string, p *Principal, files []*importFile) error {
	var current *importFile
	n := 0
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, f := range files {
			current = f
			results, err := a.transactionTx(ctx, tx, p, f.plan)
			if err != nil {
				return err
			}
			f.res.Resources = len(results)
			n += len(results)
			if err := a.recordImport(ctx, tx, orgID, f, int64(len(results)), true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", current.path, err)
	}
	a.store.wrote(ctx, n)
	return nil
}

// recordImport records in tx how much of f is stored: done lines or
// entries, and whether it is complete.
func (a *API) recordImport(ctx context.Context, tx *sql.Tx, orgID string, f *importFile, done int64, complete bool) error {
	var at any
	if complete {
		at = a.store.now()
	}
	q := `INSERT INTO fhir_imports (org_id, sha256, path, done, completed_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id, sha256) DO UPDATE SET done = excluded.done, completed_at = excluded.completed_at, path = excluded.path`
	if _, err := tx.ExecContext(ctx, q, orgID, f.key, f.path, done, at); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	return nil
}

// isNDJSON reports whether b, trimmed, holds more than one line and its
// first line is a JSON value of its own; a single JSON document, however
// it is indented, is not NDJSON. Only the first line is parsed.
func isNDJSON(b []byte) bool {
	first, rest, ok := bytes.Cut(b, []byte("\n"))
	return ok && len(bytes.TrimSpace(rest)) > 0 && json.Valid(first)
}

// entriesOf turns a JSON document into transaction entries.
func entriesOf(raw []byte) ([]entryIn, error) {
	b, err := decodeBundle(raw)
	if err != nil {
		if _, _, herr := head(raw); herr == nil {
			// A resource whose entry member is not a Bundle's.
			if e, err := entryFor(raw); err == nil {
				return []entryIn{e}, nil
			}
		}
		return nil, errs.Invalidf("", "not JSON: %v", err)
	}
	if b.ResourceType != "Bundle" {
		e, err := entryFor(raw)
		if err != nil {
			return nil, err
		}
		return []entryIn{e}, nil
	}
	if b.Type == "transaction" || b.Type == "batch" {
		for i, e := range b.Entry {
			if e.Request == nil {
				return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request", i), "entry %d of a %s has no request", i, b.Type)
			}
		}
		return b.Entry, nil
	}
	out := make([]entryIn, 0, len(b.Entry))
	for i, e := range b.Entry {
		en, err := entryFor(e.Resource)
		if err != nil {
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d]", i), "entry %d: %s", i, errs.MessageOf(err))
		}
		en.FullURL = e.FullURL
		out = append(out, en)
	}
	return out, nil
}

// entryFor makes an entry that updates a resource with an id and creates
// one without.
func entryFor(raw []byte) (entryIn, error) {
	typ, id, err := head(raw)
	if err != nil {
		return entryIn{}, err
	}
	if typ == "" {
		return entryIn{}, errs.Invalidf("resourceType", "a resource without resourceType")
	}
	e := entryIn{Resource: raw}
	e.Request = &entryRequest{Method: "POST", URL: typ}
	if id != "" {
		e.Request.Method, e.Request.URL = "PUT", typ+"/"+id
	}
	return e, nil
}

// importNDJSON stores an NDJSON file in transactions of ndjsonChunk lines,
// each recording the lines stored, from where an earlier run stopped.
func (a *API) importNDJSON(ctx context.Context, p *Principal, f *importFile, progress func(int64)) error {
	raw, skip, res := f.raw, max(f.done, 0), f.res
	record := func(tx *sql.Tx, n int64, complete bool) error {
		return a.recordImport(ctx, tx, p.OrgID, f, n, complete)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var line int64
	var chunk []entryIn
	var chunkBytes int64
	flush := func(last bool) error {
		if len(chunk) == 0 && !last {
			return nil
		}
		var plan *txPlan
		if len(chunk) > 0 {
			var err error
			if plan, err = a.planTransaction(chunk, false); err != nil {
				return fmt.Errorf("import %s: lines up to %d: %w", res.Path, line, err)
			}
		}
		err := a.db.InTx(ctx, func(tx *sql.Tx) error {
			if plan != nil {
				if _, err := a.transactionTx(ctx, tx, p, plan); err != nil {
					return err
				}
			}
			return record(tx, line, last)
		})
		if err != nil {
			return fmt.Errorf("import %s: lines up to %d: %w", res.Path, line, err)
		}
		res.Resources += len(chunk)
		a.store.wrote(ctx, len(chunk))
		if progress != nil {
			progress(chunkBytes)
		}
		chunk, chunkBytes = chunk[:0], 0
		return nil
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		chunkBytes += int64(len(sc.Bytes()) + 1)
		if line <= skip || len(b) == 0 {
			continue
		}
		e, err := entryFor(append([]byte(nil), b...))
		if err != nil {
			return fmt.Errorf("import %s: line %d: %s", res.Path, line, errs.MessageOf(err))
		}
		chunk = append(chunk, e)
		if len(chunk) == ndjsonChunk {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("import %s: %w", res.Path, err)
	}
	return flush(true)
}
