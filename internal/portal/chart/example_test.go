package chart_test

import (
	"fmt"
	"html/template"
	"os"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/portal/chart"
)

func ExampleRangeBar() {
	low, high := 4.0, 5.6
	svg := chart.RangeBar("result-7f3a", chart.Range{
		Value: 8.1, Low: &low, High: &high, Unit: "%",
		Title:    "Hemoglobin A1c",
		Desc:     "Your result 8.1 % is above the usual range of 4.0 to 5.6 %.",
		LowLabel: "Low", NormalLabel: "Usual range", HighLabel: "High",
		ValueLabel: "Your result: 8.1 %",
	})
	// The chart is template.HTML: a page template writes it as it is.
	page := template.Must(template.New("result").Parse(`<figure>{{.}}</figure>`))
	var b strings.Builder
	if err := page.Execute(&b, svg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	out := b.String()
	fmt.Println(out[:strings.Index(out, "<title")])
	// Output:
	// <figure><svg xmlns="http://www.w3.org/2000/svg" class="chart chart-range" viewBox="0 0 320 86" width="100%" role="img" aria-labelledby="result-7f3a-title result-7f3a-desc" font-family="sans-serif" font-size="13">
}

func ExampleTrendChart() {
	low, high := 4.0, 5.6
	at := func(month time.Month) time.Time { return time.Date(2026, month, 12, 8, 0, 0, 0, time.UTC) }
	svg := chart.TrendChart("trend-7f3a", chart.Trend{
		Points: []chart.Point{
			{At: at(time.March), Value: 7.2, Label: "12 Mar 2026: 7.2 %", Flagged: true},
			{At: at(time.June), Value: 6.4, Label: "12 Jun 2026: 6.4 %", Flagged: true},
			{At: at(time.September), Value: 5.5, Label: "12 Sep 2026: 5.5 %"},
		},
		Low: &low, High: &high, Unit: "%",
		Title:     "Hemoglobin A1c over time",
		Desc:      "Your results fell from 7.2 % in March to 5.5 % in September, inside the usual range of 4.0 to 5.6 %.",
		DateLabel: func(t time.Time) string { return t.Format("Jan 2006") },
	})
	fmt.Println(strings.Count(string(svg), `class="tc-point tc-flagged"`), "flagged of",
		strings.Count(string(svg), `class="tc-point`), "results")
	// Output:
	// 2 flagged of 3 results
}
