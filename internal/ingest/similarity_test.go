package ingest

import (
	"math"
	"testing"
)

func TestNameSimilarity(t *testing.T) {
	tests := []struct {
		a, b   string
		lo, hi float64
	}{
		{"张伟", "张 伟", 1, 1},
		{"张伟", "张伟", 1, 1},
		{"张伟", "张　伟", 1, 1}, // ideographic space
		{"Li Lei", "lilei", 1, 1},
		{"Ｌｉ Ｌｅｉ", "li lei", 1, 1},
		{"阿依古丽·买买提", "阿依古丽买买提", 1, 1},
		{"张伟", "李娜", 0, 0},
		{"张伟", "张玮", 0.6, 0.8},
		{"欧阳娜娜", "欧阳娜", 0.9, 0.99},
		{"martha", "marhta", 0.96, 0.962}, // the textbook Jaro-Winkler example: 0.9611
		{"", "", 0, 0},
		{"张伟", "", 0, 0},
	}
	for _, tt := range tests {
		got := NameSimilarity(tt.a, tt.b)
		if got < tt.lo-1e-9 || got > tt.hi+1e-9 {
			t.Errorf("NameSimilarity(%q, %q) = %.4f, want in [%v, %v]", tt.a, tt.b, got, tt.lo, tt.hi)
		}
		if rev := NameSimilarity(tt.b, tt.a); math.Abs(rev-got) > 1e-12 {
			t.Errorf("not symmetric for %q, %q: %v vs %v", tt.a, tt.b, got, rev)
		}
	}
	if NameSimilarity("张伟", "张 伟") < NearDuplicateName || NameSimilarity("张伟", "李娜") >= NearDuplicateName {
		t.Error("NearDuplicateName threshold does not separate the examples")
	}
}
