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
	"time"

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
	Skipped   bool // imported completely by an earlier run, or earlier in this one
	Resumed   bool // an earlier run stored part of it
}

// ndjsonChunk is the number of NDJSON lines stored per transaction.
const ndjsonChunk = 500

// ImportFiles lists the .json and .ndjson files of paths (files, or
// folders walked recursively), sorted, with their total size. A path named
// in paths is listed whatever its name. Symbolic links to files and to
// folders are followed; a file or folder reached more than once (through a
// link, or a link to a folder above it) is listed or walked once, under the
// first path that reached it. A link that leads nowhere is an error.
func ImportFiles(paths []string) ([]string, int64, error) {
	l := importLister{seen: map[string]bool{}}
	for _, p := range paths {
		if err := l.addLink(p, true); err != nil {
			return nil, 0, fmt.Errorf("files to import: %w", err)
		}
	}
	sort.Strings(l.files)
	return l.files, l.size, nil
}

// importLister gathers ImportFiles's list.
type importLister struct {
	files []string
	size  int64
	seen  map[string]bool // the real paths of the files and folders met
}

// isImportFile reports whether a file found in a folder is imported.
func isImportFile(name string) bool {
	return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson")
}

// addLink lists path, which may be or pass through a symbolic link: the
// file if it is an import file (any file if named, that is given by the
// caller), or the import files under the folder. Its real path is resolved
// here, once; what lies under it is resolved only where it is a link.
func (l *importLister) addLink(path string, named bool) error {
	info, err := os.Stat(path) // through links
	if err != nil {
		if target, lerr := os.Readlink(path); lerr == nil && errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is a link to %s, which does not exist", path, target)
		}
		return err
	}
	if !info.IsDir() && !named && !isImportFile(path) {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	return l.add(path, real, info)
}

// add lists the file or folder at path, whose real path is real, once.
func (l *importLister) add(path, real string, info fs.FileInfo) error {
	if l.seen[real] {
		return nil
	}
	l.seen[real] = true
	if !info.IsDir() {
		l.files = append(l.files, path)
		l.size += info.Size()
		return nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			err = l.addLink(child, false)
		} else if e.IsDir() || isImportFile(e.Name()) {
			// Not a link: its real path is its folder's and its name.
			var info fs.FileInfo
			if info, err = e.Info(); err == nil {
				err = l.add(child, filepath.Join(real, e.Name()), info)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
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
	// times (at half a million resources, 16,000 a transaction wrote half
	// the bytes of 2,000). Files are written as they come, so the group is
	// not held in memory.
	group int
	// aheadResources and aheadFiles bound what is read and prepared ahead
	// of the file being written, so that the writer never waits for the
	// preparation, which runs on the other cores.
	aheadResources int64
	aheadFiles     int
}{group: 16000, aheadResources: 2000, aheadFiles: 64}

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
	size   int64 // bytes of the file
}

// planned reports whether f is a Bundle or resource ready to be written:
// read and planned without error, and not skipped.
func (f *importFile) planned() bool {
	return f.err == nil && !f.res.Skipped && !f.ndjson
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
// the bytes handled; each, if not nil, is told each file's result. Both
// hear of a file once it is committed.
//
// Files are read, checked, validated and indexed ahead, on other cores,
// while earlier ones are written. Consecutive Bundle files are written into
// one open database transaction, each as soon as it is ready, until about
// importSizes.group resources are in it; see storeGroup.
func (a *API) ImportAll(ctx context.Context, orgID string, paths []string, progress func(bytes int64), each func(*ImportResult)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *importFile, importSizes.aheadFiles)
	// A file counts against ahead from when it is read until the writer
	// takes it: were it counted until committed, an open transaction still
	// short of its size could hold the whole allowance, and the reader would
	// wait for room that only the next file could make.
	ahead := semaphore.NewWeighted(importSizes.aheadResources)
	go func() {
		defer close(ready)
		// A file seen before in this run is skipped, as one stored by an
		// earlier run is: the first may not be committed yet.
		seen := map[string]bool{}
		for _, path := range paths {
			f := a.readImport(ctx, orgID, path)
			if f.err == nil && !f.res.Skipped {
				if seen[f.key] {
					f.res.Skipped, f.raw, f.plan = true, nil, nil
				}
				seen[f.key] = true
			}
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
	q := &importQueue{ready: ready, ahead: ahead}
	report := func(f *importFile) {
		if progress != nil {
			progress(f.size)
		}
		if each != nil {
			each(f.res)
		}
	}
	p := &Principal{OrgID: orgID, Subject: "operator", Kind: "operator"}
	f := q.next()
	for f != nil {
		switch {
		case f.err != nil:
			return f.err
		case f.res.Skipped:
			report(f)
			f = q.next()
		case f.ndjson:
			if err := a.importNDJSON(ctx, p, f, progress); err != nil {
				return err
			}
			if each != nil {
				each(f.res)
			}
			f = q.next()
		default:
			var err error
			if f, err = a.storeGroup(ctx, p, f, q, report); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// importQueue hands the writer the files read and prepared ahead.
type importQueue struct {
	ready chan *importFile
	ahead *semaphore.Weighted
}

// next waits for the next file; nil means there are no more.
func (q *importQueue) next() *importFile {
	return q.take(<-q.ready)
}

// within returns the next file if it is ready within d (nil if there are
// no more); ok is false if it is not.
func (q *importQueue) within(d time.Duration) (f *importFile, ok bool) {
	select {
	case f := <-q.ready:
		return q.take(f), true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-q.ready:
		return q.take(f), true
	case <-t.C:
		return nil, false
	}
}

// take frees the room f held among the files prepared ahead.
func (q *importQueue) take(f *importFile) *importFile {
	if f != nil {
		q.ahead.Release(f.weight)
	}
	return f
}

// importIdleCommit is how long an open import transaction waits for the
// next file to be prepared before it commits what it holds: the transaction
// holds SQLite's one writer, which a server on the same database waits for.
const importIdleCommit = 200 * time.Millisecond

// storeGroup opens a database transaction and writes into it first and the
// Bundle files that follow it, taken from q as they are ready, until about
// importSizes.group resources are in it, the next file is not ready within
// importIdleCommit, or a file of another kind comes. It returns the file
// that follows those committed (nil at the end). A file's prepared
// resources are dropped once written, so a transaction may hold many more
// resources than memory could: each commit writes every page it dirtied
// once, however many resources dirtied it, and at a million resources the
// search indexes' pages are dirtied all over by every transaction.
//
// A file that fails rolls the transaction back. The files before it are
// then read again and committed without it (see storeAgain), and its error
// is returned. (A savepoint per file would keep them, but costs SQLite a
// copy of every page each file changes first.)
func (a *API) storeGroup(ctx context.Context, p *Principal, first *importFile, q *importQueue, report func(*importFile)) (rest *importFile, err error) {
	var written []*importFile
	var failed error
	n, more := 0, false
	// The statements get a context that is never cancelled: with one that
	// can be, the SQLite driver starts a goroutine to watch it for every
	// statement, tens of thousands a second here. Cancellation is noticed
	// between files instead.
	wctx := context.WithoutCancel(ctx)
	err = a.db.InTx(wctx, func(tx *sql.Tx) error {
		f := first
		for {
			if f == nil || !f.planned() {
				rest = f
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if failed = a.storeImport(wctx, tx, p, f); failed != nil {
				return failed
			}
			written = append(written, f)
			n += f.res.Resources
			if n >= importSizes.group {
				more = true
				return nil
			}
			var ready bool
			if f, ready = q.within(importIdleCommit); !ready {
				more = true
				return nil
			}
		}
	})
	if failed != nil {
		if err := a.storeAgain(ctx, p, written, report); err != nil {
			return nil, err
		}
		return nil, failed
	}
	if err != nil {
		return nil, fmt.Errorf("import: %d files from %s: %w", len(written), first.path, err)
	}
	a.store.wrote(ctx, n)
	for _, f := range written {
		report(f)
	}
	if more {
		rest = q.next()
	}
	return rest, nil
}

// storeImport writes one planned file in tx, recording it as complete, and
// drops what was prepared of it.
func (a *API) storeImport(ctx context.Context, tx *sql.Tx, p *Principal, f *importFile) error {
	results, err := a.transactionTx(ctx, tx, p, f.plan)
	if err == nil {
		err = a.recordImport(ctx, tx, p.OrgID, f, int64(len(results)), true)
	}
	if err != nil {
		return fmt.Errorf("import %s: %w", f.path, err)
	}
	f.res.Resources = len(results)
	f.raw, f.plan = nil, nil
	return nil
}

// storeAgain reads, prepares and writes again, one by one in one
// transaction, the files of a transaction that was rolled back because of
// a later file.
func (a *API) storeAgain(ctx context.Context, p *Principal, files []*importFile, report func(*importFile)) error {
	if len(files) == 0 {
		return nil
	}
	again := make([]*importFile, 0, len(files))
	n := 0
	wctx := context.WithoutCancel(ctx) // as in storeGroup
	err := a.db.InTx(wctx, func(tx *sql.Tx) error {
		for _, old := range files {
			f := a.readImport(ctx, p.OrgID, old.path)
			switch {
			case f.err != nil:
				return f.err
			case !f.planned():
				continue // changed on disk since; a later run handles it
			}
			if err := a.storeImport(wctx, tx, p, f); err != nil {
				return err
			}
			again = append(again, f)
			n += f.res.Resources
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.store.wrote(ctx, n)
	for _, f := range again {
		report(f)
	}
	return nil
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
	f.size = int64(len(f.raw))
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
