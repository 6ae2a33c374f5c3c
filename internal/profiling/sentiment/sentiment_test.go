package sentiment

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	vaderdata "github.com/jonreiter/govader/data"
)

// example is one row of a labelled TSV file.
type example struct {
	lang  Lang
	label Label
	text  string
}

// readLabelled parses a "lang<TAB>label<TAB>text" file with a header line.
func readLabelled(t *testing.T, path string) []example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var out []example
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			if line != "lang\tlabel\ttext" {
				t.Fatalf("%s: header is %q", path, line)
			}
			continue
		}
		p := strings.Split(line, "\t")
		if len(p) != 3 || p[2] == "" {
			t.Fatalf("%s line %d: want 3 non-empty columns", path, n)
		}
		e := example{lang: Lang(p[0]), label: Label(p[1]), text: p[2]}
		if e.lang != English && e.lang != Chinese {
			t.Fatalf("%s line %d: bad lang %q", path, n, p[0])
		}
		if e.label != Positive && e.label != Negative && e.label != Neutral {
			t.Fatalf("%s line %d: bad label %q", path, n, p[1])
		}
		if got := DetectLanguage(e.text); got != e.lang {
			t.Fatalf("%s line %d: DetectLanguage = %s, column says %s", path, n, got, e.lang)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// accuracy classifies every example and returns overall and per-language accuracy, logging misses.
func accuracy(t *testing.T, set []example) (overall float64, byLang map[Lang]float64) {
	t.Helper()
	type tally struct{ ok, n int }
	per := map[Lang]*tally{English: {}, Chinese: {}}
	confusion := map[[2]Label]int{}
	ok := 0
	for _, e := range set {
		s := Score(e.text)
		got := LabelOf(s)
		per[e.lang].n++
		confusion[[2]Label{e.label, got}]++
		if got == e.label {
			ok++
			per[e.lang].ok++
			continue
		}
		t.Logf("miss: %s want %s got %s (%.3f) %s", e.lang, e.label, got, s, e.text)
	}
	byLang = map[Lang]float64{}
	for l, c := range per {
		if c.n > 0 {
			byLang[l] = float64(c.ok) / float64(c.n)
		}
		t.Logf("%s: %d/%d = %.1f %%", l, c.ok, c.n, 100*byLang[l])
	}
	labels := []Label{Positive, Neutral, Negative}
	for _, want := range labels {
		row := make([]string, 0, len(labels))
		for _, got := range labels {
			row = append(row, string(got)+"="+itoa(confusion[[2]Label{want, got}]))
		}
		t.Logf("confusion want %s: %s", want, strings.Join(row, " "))
	}
	overall = float64(ok) / float64(len(set))
	t.Logf("overall: %d/%d = %.1f %%", ok, len(set), 100*overall)
	return overall, byLang
}

// itoa formats a small non-negative int without fmt.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestLabelledAccuracy(t *testing.T) {
	set := readLabelled(t, filepath.Join("testdata", "labelled.tsv"))
	counts := map[Lang]int{}
	labels := map[Label]int{}
	for _, e := range set {
		counts[e.lang]++
		labels[e.label]++
	}
	if len(set) < 240 || counts[English] < 100 || counts[Chinese] < 100 || labels[Neutral] < 20 {
		t.Fatalf("labelled set too small or unbalanced: %d rows, %v, %v", len(set), counts, labels)
	}
	overall, byLang := accuracy(t, set)
	if overall < 0.85 {
		t.Errorf("overall accuracy %.3f < 0.85", overall)
	}
	for _, l := range []Lang{English, Chinese} {
		if byLang[l] < 0.80 {
			t.Errorf("%s accuracy %.3f < 0.80", l, byLang[l])
		}
	}
}

func TestTuningAccuracy(t *testing.T) {
	set := readLabelled(t, filepath.Join("testdata", "tuning.tsv"))
	if overall, _ := accuracy(t, set); overall < 0.85 {
		t.Errorf("tuning accuracy %.3f < 0.85", overall)
	}
}

// scoreOrder asserts Score(lo) < Score(hi).
func scoreOrder(t *testing.T, lo, hi string) {
	t.Helper()
	if a, b := Score(lo), Score(hi); !(a < b) {
		t.Errorf("want Score(%q)=%.3f < Score(%q)=%.3f", lo, a, hi, b)
	}
}

// scoreSign asserts the sign of Score(text): -1, 0 or +1.
func scoreSign(t *testing.T, text string, sign int) {
	t.Helper()
	s := Score(text)
	ok := (sign < 0 && s < 0) || (sign > 0 && s > 0) || (sign == 0 && s == 0)
	if !ok {
		t.Errorf("Score(%q) = %.3f, want sign %d", text, s, sign)
	}
}

func TestNegation(t *testing.T) {
	tests := []struct {
		text string
		sign int
	}{
		{"good", 1},
		{"not good", -1},
		{"not great", -1},
		{"bad", -1},
		{"not bad", 1},
		{"It doesn't work.", -1},
		{"It doesn’t work.", -1},
		{"I can't complain.", 1},
		{"No problems at all.", 1},
		{"never disappointed", 1},
		{"not the best", -1},
		{"好", 1},
		{"不好", -1},
		{"不满意", -1},
		{"没有问题", 1},
		{"不贵", 1},
		{"一点都不差", 1},
		{"不太满意", -1},
		{"很不满意", -1},
		{"没有色差", 1},
		{"不错", 1}, // a word of its own, not 不 + 错
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) { scoreSign(t, tt.text, tt.sign) })
	}
	scoreOrder(t, "bad", "not bad")
	scoreOrder(t, "not good", "good")
	scoreOrder(t, "不好", "好")
	scoreOrder(t, "not good", "not very good") // negating an intensified word softens it
	scoreOrder(t, "很不好", "不太好")
	// Negation does not cross a clause boundary or reach too far.
	scoreSign(t, "not today, good", 1)
	scoreSign(t, "不，很好", 1)
	scoreSign(t, "not that it matters to me at all really good", 1)
}

func TestDegree(t *testing.T) {
	tests := []struct{ lo, hi string }{
		{"good", "very good"},
		{"very good", "extremely good"},
		{"slightly good", "good"},
		{"bad", "slightly bad"},
		{"very bad", "bad"},
		{"好", "非常好"},
		{"太贵", "有点贵"},
		{"太贵", "贵"},
		{"贵", "稍微贵"},
		{"慢", "慢了点"}, // a degree word after the sentiment word
		{"disappointed", "a bit disappointed"},
	}
	for _, tt := range tests {
		t.Run(tt.lo+"<"+tt.hi, func(t *testing.T) { scoreOrder(t, tt.lo, tt.hi) })
	}
	scoreSign(t, "有点贵", -1)
	scoreSign(t, "太贵", -1)
	scoreSign(t, "a bit pricey", -1)
	// A degree adverb reaches only a short way. (The filler words carry no weight: VADER,
	// which the English lexicon now includes, rates "surprise", so it is not used here.)
	if a, b := Score("very nice"), Score("very much to my eye the colour nice"); !(b < a) {
		t.Errorf("degree should not reach far: %.3f vs %.3f", a, b)
	}
}

func TestContrast(t *testing.T) {
	tests := []struct {
		text string
		sign int
	}{
		{"Good quality but expensive.", -1},
		{"Expensive but good quality.", 1},
		{"Shipping took a while but the product is fantastic.", 1},
		{"Looks nice but it fell apart after one wash.", -1},
		{"Although delivery was slow, it works great.", 1},
		{"Great phone, though a bit pricey.", 1},
		{"Looks great. But it broke after a day.", -1},
		{"东西很好，但是物流太慢了。", -1},
		{"虽然贵，但是很好用。", 1},
		{"外观好看，不过用起来很卡。", -1},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) { scoreSign(t, tt.text, tt.sign) })
	}
	// The contrast rule itself is the lexicon layer's. The Chinese model takes it in through
	// the lexicon feature only (weighting the n-grams by it lost on validation, see DATA.md),
	// and on "质量很好，就是太贵了。" the bigram 很好 outweighs it: the model's score is
	// slightly positive (neutral), a known limit.
	for _, text := range []string{"东西很好，但是物流太慢了。", "外观好看，不过用起来很卡。", "质量很好，就是太贵了。"} {
		if s := lexiconSum(text); s >= 0 {
			t.Errorf("lexicon sum of %q = %.3f, want < 0", text, s)
		}
	}
	if s := lexiconSum("虽然贵，但是很好用。"); s <= 0 {
		t.Errorf("lexicon sum of 虽然贵，但是很好用。 = %.3f, want > 0", s)
	}
	// The same words weigh differently on either side of "but".
	scoreOrder(t, "good but bad", "bad but good")
	scoreOrder(t, "好，但是差", "差，但是好")
	// 就是 is contrastive only at the start of a clause.
	scoreSign(t, "就是这个颜色，很好看", 1)
}

func TestNeutralAndEmpty(t *testing.T) {
	// Text without words scores exactly 0; English statements and questions without a
	// sentiment word are neutral (the model's words may move them a little).
	for _, text := range []string{
		"", " ", "\n\t", "?!", "12345", "🙃", "\u200d\ufe0f",
		"What are your opening hours?", "Do you ship to Canada?", "Hello, is anyone there?",
	} {
		if s := Score(text); s != 0 && !strings.ContainsFunc(text, unicode.IsLetter) {
			t.Errorf("Score(%q) = %v, want 0", text, s)
		}
		if s := englishLexiconSum(text); s != 0 {
			t.Errorf("lexicon sum of %q = %v, want 0", text, s)
		}
		if l := Classify(text); l != Neutral {
			t.Errorf("Classify(%q) = %s, want neu", text, l)
		}
	}
	// A statement of fact has no lexicon word, but the English model's words carry what
	// shop reviews made of them: "on Tuesday" leans positive (things arriving on time), and
	// this line comes out weakly positive (0.30). Known limit (DATA.md): it must not come out
	// confident.
	if s := Score("Package arrived on Tuesday."); math.Abs(s) >= 0.5 || englishLexiconSum("Package arrived on Tuesday.") != 0 {
		t.Errorf("Score(%q) = %.3f, want below 0.5 and no lexicon word", "Package arrived on Tuesday.", s)
	}
	// Chinese text is scored by the model, whose character n-grams all carry some small
	// weight: neutral questions and chat lines come out neutral, not exactly 0.
	for _, text := range []string{
		"。。。", "快递到了", "差不多", "请问什么时候发货", "好的", "你好，在吗？", "请问可以开发票吗？",
		"能发顺丰吗？", "这个有红色的吗？", "请问这款有没有XL码？", "有没有优惠券？",
	} {
		if l := Classify(text); l != Neutral {
			t.Errorf("Classify(%q) = %s (%.3f), want neu", text, l, Score(text))
		}
	}
	// "好的" is only an acknowledgement at the start of a clause.
	scoreSign(t, "非常好的产品", 1)
	// A question weighs less than a statement.
	if q, s := Score("Is it good?"), Score("It is good."); !(q > 0 && q < s) {
		t.Errorf("question %.3f should be weaker than statement %.3f", q, s)
	}
	if q, s := Score("质量好吗？"), Score("质量好。"); !(q < s) {
		t.Errorf("question %.3f should be weaker than statement %.3f", q, s)
	}
}

func TestEmojiAndScripts(t *testing.T) {
	scoreSign(t, "👍", 1)
	scoreSign(t, "👍🏽👍🏽", 1)
	scoreSign(t, "Love it ❤️", 1)
	scoreSign(t, "😡😡", -1)
	scoreSign(t, "XL码偏小", -1)
	scoreSign(t, "尺码OK, very good", 1)
	scoreOrder(t, "good", "good 👍")
}

func TestRange(t *testing.T) {
	long := strings.Repeat("very ", 5000) + "good"
	tests := []string{
		long,
		strings.Repeat("extremely excellent ", 3000),
		strings.Repeat("太差了，", 3000),
		strings.Repeat("差极了极了极了极了", 500),
		strings.Repeat("not ", 1001) + "bad",
		strings.Repeat("but ", 2000) + "good",
		"\xff\xfe\xfd bad \x80",
		strings.Repeat("不", 10000) + "好",
	}
	for _, text := range tests {
		s := Score(text)
		if math.IsNaN(s) || s < -1 || s > 1 {
			t.Errorf("Score(%.20q...) = %v, out of [-1, 1]", text, s)
		}
	}
	if s := Score(long); s <= Score("good") {
		t.Errorf("a long chain of intensifiers should still intensify: %v", s)
	}
}

func TestLabelOf(t *testing.T) {
	tests := []struct {
		score float64
		want  Label
	}{
		{0, Neutral},
		{NeutralBand - 1e-9, Neutral},
		{-NeutralBand + 1e-9, Neutral},
		{NeutralBand, Positive},
		{-NeutralBand, Negative},
		{1, Positive},
		{-1, Negative},
	}
	for _, tt := range tests {
		if got := LabelOf(tt.score); got != tt.want {
			t.Errorf("LabelOf(%v) = %s, want %s", tt.score, got, tt.want)
		}
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct {
		text string
		want Lang
	}{
		{"", English},
		{"good", English},
		{"Größe passt", English},
		{"好", Chinese},
		{"iPhone 15 很好用", Chinese},
		{"👍", English},
	}
	for _, tt := range tests {
		if got := DetectLanguage(tt.text); got != tt.want {
			t.Errorf("DetectLanguage(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestMean(t *testing.T) {
	if got := Mean(nil); got != 0 {
		t.Errorf("Mean(nil) = %v", got)
	}
	texts := []string{"great", "terrible", "ok"}
	want := (Score(texts[0]) + Score(texts[1]) + Score(texts[2])) / 3
	if got := Mean(texts); math.Abs(got-want) > 1e-12 {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

func TestTokenizeEnglish(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Doesn't", []string{"does", "n't"}},
		{"can’t WON'T", []string{"can", "n't", "will", "n't"}},
		{"well-made, 'quoted'", []string{"well", "made", "quoted"}},
		{"brand's 5 stars", []string{"brand's", "5", "stars"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := tokenizeEnglish(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("tokenizeEnglish(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStemFallback(t *testing.T) {
	tests := []struct {
		text string
		sign int
	}{
		{"perfectly", 1},
		{"happily", 1},
		{"loving", 1},
		{"wasted", -1},
		{"likely", 0},            // "like" is not a sentiment word, so no fallback
		{"the goods arrived", 0}, // "goods" is a blocker, not "good" + s
	}
	for _, tt := range tests {
		// The fallback is the lexicon's; the model's words add their own weights on top.
		t.Run(tt.text, func(t *testing.T) {
			s := englishLexiconSum(tt.text)
			if ok := (tt.sign < 0 && s < 0) || (tt.sign > 0 && s > 0) || (tt.sign == 0 && s == 0); !ok {
				t.Errorf("lexicon sum of %q = %.3f, want sign %d", tt.text, s, tt.sign)
			}
			if tt.sign != 0 {
				scoreSign(t, tt.text, tt.sign)
			}
		})
	}
}

// englishLexiconSum is the English rule scorer's summed weight of text.
func englishLexiconSum(text string) float64 {
	_, sum := scoreEnglish(text, nil)
	return sum
}

// lexiconSum is the rule-based scorer's summed weight of a Chinese text: the lexicon layer
// alone, which the model uses as one feature.
func lexiconSum(text string) float64 {
	sc := scorer{negWindow: zhNegWindow}
	sc.reset()
	s := newScanner(text, &sc)
	s.scan()
	s.release()
	return sc.total
}

func TestForwardMaximumMatching(t *testing.T) {
	// The longest lexicon entry wins: 快递 (delivery) is not 快 (fast), 差不多 is not 差.
	// This is the lexicon layer; the model's score of such words is checked in
	// TestNeutralAndEmpty.
	for text, sign := range map[string]float64{"快递": 0, "差不多": 0, "性价比很高": 1, "性价比不高": -1, "物流不太快": -1} {
		s := lexiconSum(text)
		got := 0.0
		if s > 0 {
			got = 1
		} else if s < 0 {
			got = -1
		}
		if got != sign {
			t.Errorf("lexicon sum of %q = %.3f, want sign %v", text, s, sign)
		}
	}
	if a, b := lexiconSum("五星好评"), lexiconSum("五星"); !(a > b) {
		t.Errorf("五星好评 should match as one stronger entry: %.3f vs %.3f", a, b)
	}
	scoreSign(t, "性价比很高", 1)
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
	}{
		{"w\tgood\t1", true},
		{"n\tnot", true},
		{"d\tvery\t1.5", true},
		{"w\tzero\t0", true},
		{"q\tgood\t1", false},
		{"w\tgood", false},
		{"w\tgood\tabc", false},
		{"w\tgood\tNaN", false},
		{"w\tgood\t99", false},
		{"d\tvery\t-1", false},
		{"n\tnot\t1", false},
		{"w\t\t1", false},
		{"w", false},
		{"w\ta\t1\textra", false},
	}
	for _, tt := range tests {
		_, _, _, err := parseLine(tt.line, enKey)
		if (err == nil) != tt.ok {
			t.Errorf("parseLine(%q) error = %v, want ok=%v", tt.line, err, tt.ok)
		}
	}
	e, _, _, err := parseLine("w\tzero\t0", enKey)
	if err != nil || e.kind != kindOther {
		t.Errorf("a zero-weight word should be a blocker: %+v, %v", e, err)
	}
}

func TestLoadDictErrors(t *testing.T) {
	_, err := loadDict("lexicon/missing.tsv", zhKey)
	if !errors.Is(err, errLexicon) {
		t.Errorf("missing file: error %v does not wrap errLexicon", err)
	}
	l, err := loadLexicon()
	if err != nil {
		t.Fatalf("loadLexicon: %v", err)
	}
	for name, d := range map[string]dict{"en": l.en, "zh": l.zh, "emoji": l.emoji} {
		if len(d.m) < 20 || d.maxLen < 1 {
			t.Errorf("%s dictionary looks empty: %d entries, max length %d", name, len(d.m), d.maxLen)
		}
	}
	for _, w := range []string{"not", "n't", "no", "never"} {
		if l.en.m[w].kind != kindNegator {
			t.Errorf("en %q should be a negator", w)
		}
	}
	for _, w := range []string{"不", "没", "没有", "别", "无"} {
		if l.zh.m[w].kind != kindNegator {
			t.Errorf("zh %q should be a negator", w)
		}
	}
}

// lexiconDigests records the SHA-256 of the lexicon files, the model file and the scoring
// constants for each Version, so that editing any of them without bumping Version fails this
// test.
var lexiconDigests = map[string]string{
	"sentiment-model-2026.12-1": "59f5525286d8870c80ac422b709bb3e80e96961b1a4a9ef5101291cc9c66b675",
	"sentiment-model-2026.12-2": "f204b7f3e1499e0fcca7290442454512b378b8f4960c5cc9ffa77b98a52ec90c",
	"sentiment-model-2026.12-3": "8d724fadf44fd586afc9c2679fc73bd034ad796e791776c77f491a6b8d895d56",
	"sentiment-model-2026.12-4": "a5cb08cb2b8dacc732dbd0e82e2c73e372dd1064bc38a153134711252c3b0818",
	"sentiment-model-2026.12-5": "4a4612239a628acc38eb83e44f01652d08debf017c72c8c64bfb6a79ed716028",
	"sentiment-model-2026.12-6": "c2fd77304dedcfe193d9cc7cf87aca7df999f3ea7c8f37b61f3ff03cb89f5b51",
	"sentiment-model-2026.12-7": "b242de1cc80de932d1c923c6a0c60084fdaa224a035b68f632c07cb870110cee",
}

func TestVersionTracksLexicon(t *testing.T) {
	h := sha256.New()
	for _, name := range []string{emojiFile, enFile, zhFile} {
		b, err := lexiconFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(name + "\n"))
		h.Write(b)
	}
	vader, err := vaderdata.Asset(vaderLexicon)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte(vaderLexicon + "\n"))
	h.Write(vader)
	h.Write([]byte("model/zh.tsv.gz\n"))
	h.Write(zhModelGz)
	h.Write([]byte("model/en.tsv.gz\n"))
	h.Write(enModelGz)
	fmt.Fprint(h, NeutralBand, maxWeight, flipPositive, flipNegative, beforeContrast, afterContrast,
		concession, questionWeight, questionFeatures, minDegree, maxDegree, maxContribution, enNegWindow, zhNegWindow,
		degWindow, vaderScale, zhInnerNegators)
	got := hex.EncodeToString(h.Sum(nil))
	if want, ok := lexiconDigests[Version]; !ok || want != got {
		t.Errorf("lexicon digest %s does not match Version %q: bump Version and record the digest", got, Version)
	}
}
