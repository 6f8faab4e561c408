package app

import (
	"html/template"
	"net/http"
	"sort"

	"github.com/careloop/careloop/internal/platform/httpx"
)

// statusTemplate is the landing page of a running careloop: what runs here
// and how much data each organisation holds. It shows counts only, never
// health information, so it needs no sign-in.
var statusTemplate = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>careloop</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{padding:1rem;background:#f4f4f4}
</style>
</head>
<body>
<main>
<h1>careloop is running</h1>
<p>Database: {{.Engine}}. Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
{{if .Orgs}}
{{range .Orgs}}
<section>
<h2>{{.Name}}</h2>
{{if .Counts}}
<table>
<caption>Stored FHIR resources by type</caption>
<thead><tr><th scope="col">Resource type</th><th scope="col">Count</th></tr></thead>
<tbody>{{range .Counts}}<tr><td>{{.Type}}</td><td class="n">{{.N}}</td></tr>{{end}}</tbody>
</table>
{{else}}<p class="empty">No resources counted yet. Counts appear a moment after data arrives.</p>{{end}}
</section>
{{end}}
{{else}}
<p class="empty">No organisation yet. Run <code>careloop demo</code> to create a demo clinic with synthetic patients.</p>
{{end}}
</main>
</body>
</html>
`))

type typeCount struct {
	Type string
	N    int64
}

type orgStatus struct {
	Name   string
	Counts []typeCount
}

func (a *App) statusPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orgs, err := a.Orgs.List(r.Context())
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		data := struct {
			Engine string
			Orgs   []orgStatus
		}{Engine: string(a.DB.Dialect)}
		for _, o := range orgs {
			counts, err := a.Resources.Counts(r.Context(), o.ID)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			st := orgStatus{Name: o.Name}
			for t, n := range counts {
				st.Counts = append(st.Counts, typeCount{t, n})
			}
			sort.Slice(st.Counts, func(i, j int) bool { return st.Counts[i].Type < st.Counts[j].Type })
			data.Orgs = append(data.Orgs, st)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusTemplate.Execute(w, data); err != nil {
			a.Log.Error("status page", "err", err)
		}
	})
}
