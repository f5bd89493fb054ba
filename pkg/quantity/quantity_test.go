package quantity

import (
	"errors"
	"fmt"
	"testing"
)

func TestMilliAndValue(t *testing.T) {
	for _, tc := range []struct {
		in           string
		milli, value int64
	}{
		{"500m", 500, 1}, {"2", 2000, 2}, {"1.5", 1500, 2}, {"0.1", 100, 1},
		{"128Mi", 128 << 20 * 1000, 128 << 20}, {"1Gi", 1 << 30 * 1000, 1 << 30},
		{"1e3", 1000_000, 1000}, {"100M", 100_000_000_000, 100_000_000}, {"1k", 1000_000, 1000},
		{"0", 0, 0}, {"1Ki", 1024_000, 1024}, {"1m", 1, 1}, {"0.5m", 1, 1},
	} {
		m, err := Milli(tc.in)
		if err != nil || m != tc.milli {
			t.Errorf("Milli(%q) = %d, %v; want %d", tc.in, m, err, tc.milli)
		}
		v, err := Value(tc.in)
		if err != nil || v != tc.value {
			t.Errorf("Value(%q) = %d, %v; want %d", tc.in, v, err, tc.value)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, in := range []string{"", "abc", "1x", "-1", "1.2.3", "1e3Mi", "Mi", ".", "1e", "1e999", "--1", "1-"} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) err %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"500m", "1Gi", "1e3", "1.5", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Milli(s) // must not panic
	})
}

// TestMemoMatchesParse: what Milli and Value remember is what they
// compute, for valid and invalid strings, asked again and again and
// after the memo has been emptied for being full.
func TestMemoMatchesParse(t *testing.T) {
	ins := []string{"500m", "2", "1.5", "128Mi", "1Gi", "1e3", "1x", "", "-1", "0.5m"}
	for round := range 3 {
		for _, in := range ins {
			m, merr := Milli(in)
			wm, wmerr := milli(in)
			v, verr := Value(in)
			wv, wverr := value(in)
			if m != wm || (merr == nil) != (wmerr == nil) || v != wv || (verr == nil) != (wverr == nil) {
				t.Errorf("round %d %q: Milli %d,%v Value %d,%v; computed %d,%v %d,%v", round, in, m, merr, v, verr, wm, wmerr, wv, wverr)
			}
			if merr != nil && !errors.Is(merr, ErrInvalid) {
				t.Errorf("%q: remembered error %v is not ErrInvalid", in, merr)
			}
		}
		if round == 1 {
			for i := range memoMax {
				_, _ = Value(fmt.Sprint(i)) // fills the memo: it starts over
			}
		}
	}
	memo.Lock()
	n := len(memo.m)
	memo.Unlock()
	if n > memoMax {
		t.Errorf("memo holds %d results, more than %d", n, memoMax)
	}
}

func BenchmarkMilli(b *testing.B) {
	for b.Loop() {
		_, _ = Milli("256Gi")
	}
}
