package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/tenant"
)

const auditUsage = `Usage:
  careloop audit verify [--published DIR]      recompute the audit log and check every checkpoint
  careloop audit export [--from T] [--to T] [--org SLUG] > file.ndjson
                                               entries with the checkpoint and proofs to verify them elsewhere
  careloop audit checkpoint [--publish-dir DIR] [--publish-url URL]
                                               issue a signed checkpoint now
  careloop audit key                           print the key that verifies checkpoints
  careloop audit worker                        run the log's background work at idle CPU priority
                                               (serve starts it itself where it can; see docs/AUDIT.md)

The audit log records every access to health data as a Merkle tree whose
signed checkpoints can be published outside the database (see docs/AUDIT.md).
Times are 2024-05-06 or 2024-05-06T10:30:00Z.
`

// errFindings is returned by audit verify when the log has findings, so that
// the exit status is non-zero.
var errFindings = errors.New("the audit log does not verify")

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return &config.UsageError{Msg: "careloop audit: say verify, export, checkpoint, key or worker"}
	}
	action := args[0]
	switch action {
	case "verify", "export", "checkpoint", "key", "worker":
	default:
		fmt.Fprint(stderr, auditUsage)
		return &config.UsageError{Msg: fmt.Sprintf("careloop audit: unknown action %q; say verify, export, checkpoint, key or worker", action)}
	}
	var keyFile, origin, verifierKey, published, publishDir, publishURL, org, from, to string
	var checkpointEvery, sequenceEvery time.Duration
	cfg, err := config.ParseWith("audit "+action, config.Store, args[1:], getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&keyFile, "secret-key-file", "", "file of careloop's secret key, which signs checkpoints (default secret.key in --data-dir)")
		fs.StringVar(&origin, "origin", "", "name of the log in its checkpoints (default: the name in the stored checkpoints)")
		switch action {
		case "verify":
			fs.StringVar(&published, "published", "", "folder of checkpoints published outside the database, checked too")
			fs.StringVar(&verifierKey, "verifier-key", "", "check signatures with this note verifier key instead of the secret key file")
		case "export":
			fs.StringVar(&from, "from", "", "first recorded time to export (inclusive)")
			fs.StringVar(&to, "to", "", "recorded time to stop at (exclusive)")
			fs.StringVar(&org, "org", "", "slug of the organisation to export (default: all)")
		case "checkpoint":
			fs.StringVar(&publishDir, "publish-dir", "", "also write the checkpoint to this folder")
			fs.StringVar(&publishURL, "publish-url", "", "also POST the checkpoint to this URL")
		case "worker": // named as serve names them, so that it reads the same variables
			fs.StringVar(&publishDir, "audit-publish-dir", "", "folder, outside the database, that receives every signed checkpoint")
			fs.StringVar(&publishURL, "audit-publish-url", "", "HTTP endpoint that receives every signed checkpoint (POST)")
			fs.DurationVar(&checkpointEvery, "audit-checkpoint-every", time.Minute, "how often a checkpoint is signed, when the log grew")
			fs.DurationVar(&sequenceEvery, "audit-sequence-every", 25*time.Millisecond, "how often new entries get their place in the log's tree")
		}
	})
	if err != nil {
		return err
	}
	if action == "worker" {
		if keyFile != "" {
			cfg.SecretKeyFile = keyFile
		}
		w := auditWorker{cfg: cfg, origin: origin, publishDir: publishDir, publishURL: publishURL,
			checkpointEvery: checkpointEvery, sequenceEvery: sequenceEvery}
		return w.run(ctx, os.Stdin, newLogger(cfg, stderr).With("component", "audit-worker"))
	}
	var q audit.ExportQuery
	if q.From, err = parseAuditTime("from", from); err != nil {
		return err
	}
	if q.To, err = parseAuditTime("to", to); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	d, err := app.OpenDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	if origin == "" {
		if origin, err = audit.StoredOrigin(ctx, d); err != nil {
			return err
		}
	}
	acfg := audit.Config{DB: d, Origin: origin, Logger: log, VerifierKey: verifierKey}
	if publishDir != "" {
		acfg.Publisher = audit.FolderPublisher{Dir: publishDir}
	} else if publishURL != "" {
		acfg.Publisher = audit.HTTPPublisher{URL: publishURL}
	}
	if keyFile != "" {
		cfg.SecretKeyFile = keyFile
	}
	needKey := action != "verify"
	if verifierKey == "" {
		seed, err := auditSeed(cfg.KeyFile(), needKey)
		if err != nil {
			return err
		}
		acfg.Seed = seed
	}
	if acfg.Origin == "" {
		if action == "verify" {
			acfg.Origin = "careloop/unknown" // no checkpoint yet: nothing is signed
		} else {
			return &config.UsageError{Msg: fmt.Sprintf("careloop audit %s: no checkpoint has been issued yet; name the log with --origin (for example careloop/clinic.example.org)", action)}
		}
	}
	l, err := audit.New(acfg)
	if err != nil {
		return err
	}
	defer l.Close()

	switch action {
	case "key":
		fmt.Fprintln(stdout, l.VerifierKey())
	case "checkpoint":
		cp, issued, err := l.Checkpoint(ctx)
		if cp == nil {
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "The audit log is empty: no checkpoint issued.")
			return nil
		}
		if issued {
			fmt.Fprintf(stdout, "Issued checkpoint of %d entries.\n", cp.Size)
		} else {
			fmt.Fprintf(stdout, "No new entries since the checkpoint of %d entries.\n", cp.Size)
		}
		fmt.Fprint(stdout, string(cp.Note))
		return err
	case "export":
		if org != "" {
			o, err := tenant.NewStore(d).BySlug(ctx, org)
			if err != nil {
				return fmt.Errorf("organisation %q: %w", org, err)
			}
			q.OrgID = o.ID
		}
		cp, _, err := l.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if cp == nil {
			return errors.New("the audit log is empty: nothing to export")
		}
		// An export discloses entries: it is a read of the audit log, and
		// recorded as one.
		op := getenv("USER")
		if op == "" {
			op = "operator"
		}
		e := audit.Entry{OrgID: q.OrgID, Type: audit.TypeAuditLogUsed, Subtype: []audit.Coding{audit.Subtype("export")},
			Action: audit.Read, Outcome: audit.Success, Agent: audit.Agent{Subject: "cli:" + op, ClientID: "careloop audit export"},
			Entities: []audit.Entity{{Query: fmt.Sprintf("from=%s&to=%s&org=%s", from, to, org)}}}
		if err := l.Record(ctx, e); err != nil {
			return err
		}
		n, err := l.Export(ctx, stdout, q, cp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Exported %d entries with proofs against the checkpoint of %d entries.\n", n, cp.Size)
	case "verify":
		return auditVerify(ctx, l, d, published, stdout)
	}
	return nil
}

func auditVerify(ctx context.Context, l *audit.Log, d *db.DB, published string, stdout io.Writer) error {
	var opts audit.VerifyOptions
	if published != "" {
		files, err := audit.ReadFolder(published)
		if err != nil {
			return err
		}
		opts.Published = files
	}
	start := time.Now()
	rep, err := l.Verify(ctx, opts)
	if err != nil {
		return err
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(stdout, f.String())
	}
	signed := "signatures checked"
	if !rep.Signed {
		signed = "signatures NOT checked (no key)"
	}
	fmt.Fprintf(stdout, "Verified %d leaves (tree size %d, %d pending) of %s against %d stored and %d published checkpoints, %s, in %s: ",
		rep.Leaves, rep.TreeSize, rep.Pending, d, rep.Checkpoints, rep.Published, signed, time.Since(start).Round(time.Millisecond))
	if rep.OK() {
		fmt.Fprintln(stdout, "no findings.")
		return nil
	}
	fmt.Fprintf(stdout, "%d findings.\n", len(rep.Findings))
	return errFindings
}

// auditSeed draws the checkpoint signing seed from careloop's secret key
// file. When need is false and the file does not exist, it returns nil
// rather than make a new key.
func auditSeed(path string, need bool) ([]byte, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !need {
		return nil, nil
	}
	k, err := keys.LoadOrCreate(path)
	if err != nil {
		return nil, err
	}
	return k.Derive(audit.KeyPurpose, ed25519.SeedSize), nil
}

func parseAuditTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &config.UsageError{Msg: fmt.Sprintf("careloop audit: --%s %q is not a time like 2024-05-06 or 2024-05-06T10:30:00Z", name, s)}
}
