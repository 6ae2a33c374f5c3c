package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runSentiment runs `vaultd sentiment ARGS` with stdin as standard input.
func runSentiment(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	old := sentimentStdin
	sentimentStdin = strings.NewReader(stdin)
	defer func() { sentimentStdin = old }()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"sentiment"}, args...), env(nil), &out, &errb)
	return out.String(), errb.String(), err
}

func TestSentimentScoreUnlabelled(t *testing.T) {
	in := "物流很快，东西很好\r\n不会再买了\n\nWhat are your opening hours?\nThe battery died after a month\n"
	out, errOut, err := runSentiment(t, in, "score")
	if err != nil {
		t.Fatalf("err %v, stderr %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []struct{ id, label string }{{"1", "pos"}, {"2", "neg"}, {"3", "neu"}, {"4", "neu"}, {"5", "neg"}}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		f := strings.Split(lines[i], "\t")
		if len(f) != 3 || f[0] != w.id || f[1] != w.label {
			t.Errorf("line %d = %q, want id %s label %s", i+1, lines[i], w.id, w.label)
		}
	}
	if errOut != "" {
		t.Errorf("unlabelled input printed metrics: %q", errOut)
	}
}

func TestSentimentScoreLabelledFile(t *testing.T) {
	in := strings.Join([]string{
		"pos\tr1\t质量非常好，很满意",
		"neg\tr2\t申请退款",
		"neg\tr3\tI had to return it",
		"pos\tr4\t请问什么时候发货", // a neutral text labelled pos: neu counts as wrong
		"neu\tr5\tWhat are your opening hours?",
		"neg\tr6\tGreat product, works perfectly", // wrong on purpose
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "reviews.tsv")
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runSentiment(t, "", "score", path)
	if err != nil {
		t.Fatalf("err %v, stderr %s", err, errOut)
	}
	wantOut := []string{"r1\tpos\t", "r2\tneg\t", "r3\tneg\t", "r4\tneu\t", "r5\tneu\t", "r6\tpos\t"}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(wantOut) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range wantOut {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
	for _, w := range []string{
		"labelled lines: 6",
		"accuracy: 0.6667 (4/6; neu on a pos or neg line counts as wrong)",
		"pos: precision 0.5000 recall 0.5000 (labelled 2, answered 2)",
		"neu: precision 0.5000 recall 1.0000 (labelled 1, answered 2)",
		"neg: precision 1.0000 recall 0.6667 (labelled 3, answered 2)",
		"neutral share: 0.3333 of all answers (2/6), 0.2000 of pos and neg lines (1/5)",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestSentimentScoreExplain(t *testing.T) {
	out, _, err := runSentiment(t, "东西不错，但是不会再买了\n", "score", "--explain")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if len(f) != 4 || f[1] != "neg" || !strings.Contains(f[3], "不会再买了:-") {
		t.Errorf("explained line = %q", out)
	}
}

func TestSentimentUsage(t *testing.T) {
	if _, errOut, err := runSentiment(t, "", "grade"); err == nil || !strings.Contains(errOut, "usage: vaultd sentiment score") {
		t.Errorf("unknown subcommand: err %v, stderr %q", err, errOut)
	}
	if _, _, err := runSentiment(t, "", "score", "a", "b"); err == nil {
		t.Error("two files accepted")
	}
	if _, _, err := runSentiment(t, "", "score", filepath.Join(t.TempDir(), "missing.tsv")); err == nil {
		t.Error("missing file accepted")
	}
}

// TestSentimentScoreOddLines: labels are read in any case (POS, Negative); in labelled input, a line with
// tabs that is not label<TAB>id<TAB>text is scored as text and named in a warning, not silently dropped
// from the accuracy; a line too long names its number, and the lines before it keep their scores.
func TestSentimentScoreOddLines(t *testing.T) {
	in := "POS\t1\t很好用\nNegative\t2\t太差了\npos\tonly two columns\nhappy\t7\t喜欢\n"
	out, errOut, err := runSentiment(t, in, "score")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "labelled lines: 2") || !strings.Contains(errOut, "warning: 2 lines with tabs") || !strings.Contains(errOut, "lines 3, 4") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[2], "3\t") {
		t.Fatalf("stdout:\n%s", out)
	}
	long := "pos\t1\t好\n" + strings.Repeat("长", maxSentimentLine/3+1) + "\n"
	out, _, err = runSentiment(t, long, "score")
	if err == nil || !strings.Contains(err.Error(), "line 2: longer than 16 MiB") || !strings.HasPrefix(out, "1\tpos") {
		t.Fatalf("a line too long: %v; stdout %q", err, out)
	}
}
