package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/config"
)

const reindexHelp = "careloop reindex --org SLUG [--type TYPE]: rebuild the FHIR search index of stored resources"

func cmdReindex(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var org, typ string
	cfg, err := config.ParseWith("reindex", config.Store, args, getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation whose resources to reindex")
		fs.StringVar(&typ, "type", "", "reindex only this resource type (default: every type)")
	})
	if err != nil {
		return err
	}
	if org == "" {
		return &config.UsageError{Msg: "careloop reindex: usage: " + reindexHelp}
	}
	if typ != "" && !spec.IsResourceType(typ) {
		return &config.UsageError{Msg: fmt.Sprintf("careloop reindex: %q is not a FHIR R4 resource type", typ)}
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	bar := newProgressBar(stderr, "Reindexing (resources)")
	start := time.Now()
	n, err := a.Resources.Reindex(ctx, o.ID, typ, func(p fhir.ReindexProgress) { bar.update(int(p.Done), int(p.Total)) })
	bar.finish()
	if err != nil {
		fmt.Fprintf(stdout, "Reindexed %d resources before the failure; run the same command again to finish.\n", n)
		return err
	}
	fmt.Fprintf(stdout, "Reindexed %d resources of %s in %s.\n", n, o.Name, time.Since(start).Round(time.Millisecond))
	return nil
}
