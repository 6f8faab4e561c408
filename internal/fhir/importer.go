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
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// Import stores the resources of one file for the organisation: a Bundle
// (transaction and batch as such; collection, searchset and others entry by
// entry, each resource with an id updated, one without created), a single
// resource, or NDJSON with one resource per line. Each transaction also
// records progress, so an interrupted import run again continues where it
// stopped and a file imported completely is skipped. progress, if not nil,
// is told the bytes handled.
func (a *API) Import(ctx context.Context, orgID, path string, progress func(bytes int64)) (*ImportResult, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	sum := sha256.Sum256(raw)
	key := hex.EncodeToString(sum[:])
	p := &Principal{OrgID: orgID, Subject: "operator", Kind: "operator"}
	res := &ImportResult{Path: path}

	var done int64
	var completed sql.NullTime
	err = a.db.Read.QueryRowContext(ctx, "SELECT done, completed_at FROM fhir_imports WHERE org_id = $1 AND sha256 = $2", orgID, key).Scan(&done, &completed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		done = -1
	case err != nil:
		return nil, fmt.Errorf("import %s: %w", path, err)
	case completed.Valid:
		res.Skipped = true
		if progress != nil {
			progress(int64(len(raw)))
		}
		return res, nil
	default:
		res.Resumed = true
	}
	record := func(tx *sql.Tx, n int64, complete bool) error {
		var at any
		if complete {
			at = a.store.now()
		}
		q := `INSERT INTO fhir_imports (org_id, sha256, path, done, completed_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (org_id, sha256) DO UPDATE SET done = excluded.done, completed_at = excluded.completed_at, path = excluded.path`
		_, err := tx.ExecContext(ctx, q, orgID, key, path, n, at)
		return err
	}

	trimmed := bytes.TrimSpace(raw)
	if strings.HasSuffix(path, ".ndjson") || (len(trimmed) > 0 && bytes.Count(trimmed, []byte("\n")) > 0 && !looksLikeOneObject(trimmed)) {
		return res, a.importNDJSON(ctx, p, raw, max(done, 0), record, res, progress)
	}
	entries, err := entriesOf(trimmed)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	err = a.db.InTx(ctx, func(tx *sql.Tx) error {
		results, err := a.transactionTx(ctx, tx, p, entries, false)
		if err != nil {
			return err
		}
		res.Resources = len(results)
		return record(tx, int64(len(results)), true)
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	a.store.wrote(ctx, res.Resources)
	if progress != nil {
		progress(int64(len(raw)))
	}
	return res, nil
}

// looksLikeOneObject reports whether b is a single JSON value (a Bundle or
// a resource, however it is indented).
func looksLikeOneObject(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// entriesOf turns a JSON document into transaction entries.
func entriesOf(raw []byte) ([]entryIn, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, errs.Invalidf("", "not JSON: %v", err)
	}
	if head.ResourceType != "Bundle" {
		e, err := entryFor(raw)
		if err != nil {
			return nil, err
		}
		return []entryIn{e}, nil
	}
	var b bundleIn
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, errs.Invalidf("", "not a Bundle: %v", err)
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
	e.Request = &struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
		IfMatch     string `json:"ifMatch"`
	}{Method: "POST", URL: typ}
	if id != "" {
		e.Request.Method, e.Request.URL = "PUT", typ+"/"+id
	}
	return e, nil
}

func (a *API) importNDJSON(ctx context.Context, p *Principal, raw []byte, skip int64, record func(*sql.Tx, int64, bool) error, res *ImportResult, progress func(int64)) error {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var line int64
	var chunk []entryIn
	var chunkBytes int64
	flush := func(last bool) error {
		if len(chunk) == 0 && !last {
			return nil
		}
		err := a.db.InTx(ctx, func(tx *sql.Tx) error {
			if len(chunk) > 0 {
				if _, err := a.transactionTx(ctx, tx, p, chunk, false); err != nil {
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
