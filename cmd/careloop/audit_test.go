package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tlog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/platform/db"
)

// recordAudit stores n entries in the database of data, as a server would.
func recordAudit(t *testing.T, data string, n int) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{SQLitePath: filepath.Join(data, "careloop.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l, err := audit.New(audit.Config{DB: d, Origin: "careloop/test.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range n {
		e := audit.Entry{OrgID: "org1", Type: audit.TypeRest, Subtype: []audit.Coding{audit.Interaction("read")},
			Action: audit.Read, Outcome: audit.Success, ID: fmt.Sprintf("cli-%02d", i),
			Agent:    audit.Agent{Subject: "Practitioner/1", Role: "nurse", PurposeOfUse: "TREAT"},
			Patients: []string{fmt.Sprintf("Patient/%d", i)}}
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditCommands(t *testing.T) {
	data := t.TempDir()
	pub := filepath.Join(t.TempDir(), "published")
	if code, _, stderr := runCmd(t, "migrate", "--data-dir", data); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	recordAudit(t, data, 10)

	// Before the first checkpoint the log needs a name.
	if code, _, stderr := runCmd(t, "audit", "key", "--data-dir", data); code != exitUsage || !strings.Contains(stderr, "--origin") {
		t.Fatalf("key without origin: %d %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "audit", "key", "--data-dir", data, "--origin", "careloop/test.example")
	if code != 0 || !strings.HasPrefix(out, "careloop/test.example+") {
		t.Fatalf("key: %d %q %s", code, out, stderr)
	}
	vkey := strings.TrimSpace(out)
	if _, err := note.NewVerifier(vkey); err != nil {
		t.Fatalf("key %q: %v", vkey, err)
	}
	code, out, stderr = runCmd(t, "audit", "checkpoint", "--data-dir", data, "--origin", "careloop/test.example", "--publish-dir", pub)
	if code != 0 || !strings.Contains(out, "Issued checkpoint of 10 entries.") {
		t.Fatalf("checkpoint: %d %s %s", code, out, stderr)
	}
	latest, err := os.ReadFile(filepath.Join(pub, "latest"))
	if err != nil || !strings.Contains(out, string(latest)) {
		t.Fatalf("published latest %q: %v", latest, err)
	}
	// The origin now comes from the stored checkpoints.
	if code, out, _ := runCmd(t, "audit", "key", "--data-dir", data); code != 0 || strings.TrimSpace(out) != vkey {
		t.Fatalf("key from the stored origin: %d %s", code, out)
	}

	code, out, stderr = runCmd(t, "audit", "verify", "--data-dir", data, "--published", pub)
	if code != 0 || !strings.Contains(out, "Verified 10 leaves") || !strings.Contains(out, "1 stored and 2 published checkpoints, signatures checked") || !strings.Contains(out, "no findings.") {
		t.Fatalf("verify: %d %s %s", code, out, stderr)
	}

	// The export verifies with the verifier key alone.
	code, out, stderr = runCmd(t, "audit", "export", "--data-dir", data, "--from", "2000-01-01")
	if code != 0 || !strings.Contains(stderr, "Exported 10 entries") {
		t.Fatalf("export: %d %s", code, stderr)
	}
	checkExport(t, out, vkey, 10)
	if code, _, stderr := runCmd(t, "audit", "export", "--data-dir", data, "--to", "yesterday"); code != exitUsage || !strings.Contains(stderr, "--to") {
		t.Fatalf("export with a bad time: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "audit", "export", "--data-dir", data, "--org", "nowhere"); code != exitError || !strings.Contains(stderr, `organisation "nowhere"`) {
		t.Fatalf("export of a missing organisation: %d %s", code, stderr)
	}

	// One byte changed in the database: verify names the entry and fails.
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{SQLitePath: filepath.Join(data, "careloop.db")})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	d.Read.QueryRow("SELECT body FROM audit_entry WHERE id = 'cli-03'").Scan(&body)
	body[bytes.Index(body, []byte("nurse"))] = 'N'
	if _, err := d.Write.Exec("UPDATE audit_entry SET body = $1 WHERE id = 'cli-03'", body); err != nil {
		t.Fatal(err)
	}
	d.Close()
	code, out, _ = runCmd(t, "audit", "verify", "--data-dir", data, "--published", pub)
	if code != exitError || !regexp.MustCompile(`(?m)^altered leaf 3 entry cli-03: `).MatchString(out) || !strings.Contains(out, "findings.") {
		t.Fatalf("verify after tampering: %d %s", code, out)
	}

	if code, _, stderr := runCmd(t, "audit", "shred"); code != exitUsage || !strings.Contains(stderr, `unknown action "shred"`) {
		t.Fatalf("unknown action: %d %s", code, stderr)
	}
}

// checkExport checks an export file as someone outside careloop would.
func checkExport(t *testing.T, ndjson, vkey string, want int) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(ndjson))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("empty export")
	}
	var hdr audit.ExportHeader
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)
	cp, _, _, err := tlog.ParseCheckpoint([]byte(hdr.Checkpoint), hdr.Origin, v)
	if err != nil {
		t.Fatalf("export checkpoint: %v", err)
	}
	n := 0
	for sc.Scan() {
		var line audit.ExportLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		leaf, _ := base64.StdEncoding.DecodeString(line.Leaf)
		var hashes [][]byte
		for _, h := range line.Inclusion {
			b, _ := base64.StdEncoding.DecodeString(h)
			hashes = append(hashes, b)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, line.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(leaf), hashes, cp.Hash); err != nil {
			t.Fatalf("entry %d: %v", line.Index, err)
		}
		if !bytes.Equal(line.Entry, leaf) {
			t.Fatalf("entry %d: decoded entry differs from the leaf", line.Index)
		}
		n++
	}
	if n != want {
		t.Fatalf("%d entries exported, want %d", n, want)
	}
}
