package quantity

import (
	"errors"
	"testing"
)

func TestParseMilli(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"500m", 500},
		{"2", 2000},
		{"1.5", 1500},
		{"0.1", 100},
		{".5", 500},
		{"5.", 5000},
		{"1e3", 1_000_000},
		{"1E-3", 1},
		{"1.5m", 2}, // rounded up, like Kubernetes
		{"100n", 1},
		{"0", 0},
		{"-1", -1000},
		{"+2", 2000},
		{"1k", 1_000_000},
		{"128Mi", 134217728 * 1000},
		{"1Ki", 1024000},
	} {
		got, err := ParseMilli(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseMilli(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"128Mi", 134217728},
		{"1Gi", 1 << 30},
		{"100M", 100_000_000},
		{"1.5Ki", 1536},
		{"1e3", 1000},
		{"1", 1},
		{"500m", 1},
		{"7Ei", 7 << 60},
	} {
		got, err := Bytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Bytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "abc", "1x", "m", "1.2.3", "1e", "1e+", "1ee3", "1 Mi", " 1", "1Mi ", "--1", "1e99", "0x10", "1mi", "Mi"} {
		if v, err := ParseMilli(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMilli(%q) = %d, %v; want ErrInvalid", in, v, err)
		}
	}
	for _, in := range []string{"8Ei", "10E", "9223372036854775807"} {
		if v, err := ParseMilli(in); !errors.Is(err, ErrTooLarge) {
			t.Errorf("ParseMilli(%q) = %d, %v; want ErrTooLarge", in, v, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[int64]string{2000: "2", 1500: "1500m", 0: "0", 250: "250m"} {
		if got := FormatMilliCPU(in); got != want {
			t.Errorf("FormatMilliCPU(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{134217728: "128Mi", 1 << 30: "1Gi", 8267812864: "7.7Gi", 1000: "1000", 1536: "1.5Ki"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMilli(f *testing.F) {
	for _, s := range []string{"500m", "1.5", "128Mi", "1e3", "-1", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseMilli(s)
		_, _ = Bytes(s)
	})
}
