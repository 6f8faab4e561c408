package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/jobs"
)

const importHelp = "careloop import --org SLUG PATH...: load FHIR Bundle JSON, resource JSON and NDJSON files or folders"

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var org string
	cfg, err := config.ParseWith("import", config.Store|config.Args, args, getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation the data belongs to (for the demo: riverside-family-clinic)")
	})
	if err != nil {
		return err
	}
	if org == "" || len(cfg.Args) == 0 {
		return &config.UsageError{Msg: "careloop import: usage: " + importHelp}
	}
	files, size, err := fhir.ImportFiles(cfg.Args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return &config.UsageError{Msg: "careloop import: no .json or .ndjson files in " + fmt.Sprint(cfg.Args)}
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	importer := a.Importer()
	bar := newProgressBar(stderr, "Importing (KiB read)")
	var done int64
	start := time.Now()
	var stored, skipped, resumed int
	const mb = 1 << 20
	err = importer.ImportAll(ctx, o.ID, files, func(n int64) {
		done += n
		bar.update(int(done/1024), int(max(size/1024, 1)))
	}, func(res *fhir.ImportResult) {
		stored += res.Resources
		if res.Skipped {
			skipped++
		}
		if res.Resumed {
			resumed++
		}
	})
	if err != nil {
		bar.finish()
		fmt.Fprintf(stdout, "Stored %d resources before the failure; run the same command again to continue.\n", stored)
		return err
	}
	bar.finish()
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "Imported %d resources from %d files (%.1f MB) into %s in %s (%.0f resources/s).",
		stored, len(files), float64(size)/mb, o.Name, elapsed.Round(time.Millisecond), float64(stored)/max(elapsed.Seconds(), 1e-9))
	if skipped > 0 {
		fmt.Fprintf(stdout, " %d files were already imported and skipped.", skipped)
	}
	if resumed > 0 {
		fmt.Fprintf(stdout, " %d interrupted files were completed.", resumed)
	}
	fmt.Fprintln(stdout)
	// The writes left their follow-up work (result journeys, the counts of
	// resources per type) for careloop serve; say so, since until then the
	// status page and journeys do not show the import. The import itself
	// succeeded, so a failure to count is not reported as its failure.
	if stored > 0 {
		if b, err := jobs.BacklogOf(ctx, a.DB, ""); err == nil && b.Waiting > 0 {
			fmt.Fprintf(stdout, "Background work waits for careloop serve: %d items, among them the result journeys and resource counts of these writes; 'careloop backlog' shows what is left.\n", b.Waiting)
		}
	}
	return nil
}
