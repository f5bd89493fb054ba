package quantity

import (
	"errors"
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
