// Package quantity parses Kubernetes resource quantities ("500m", "2",
// "1.5", "128Mi", "1Gi", "1e3", "100M") exactly, with no floating point, into
// integer milli-units: millicores for cpu, thousandths of a byte for memory
// (use Bytes for whole bytes).
package quantity

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("quantity: invalid")

// ErrTooLarge is wrapped when a quantity does not fit in int64 milli-units.
var ErrTooLarge = errors.New("quantity: too large")

var suffixes = map[string]*big.Rat{
	"n":  big.NewRat(1, 1_000_000_000),
	"u":  big.NewRat(1, 1_000_000),
	"m":  big.NewRat(1, 1_000),
	"":   big.NewRat(1, 1),
	"k":  big.NewRat(1_000, 1),
	"M":  big.NewRat(1_000_000, 1),
	"G":  big.NewRat(1_000_000_000, 1),
	"T":  big.NewRat(1_000_000_000_000, 1),
	"P":  big.NewRat(1_000_000_000_000_000, 1),
	"E":  big.NewRat(1_000_000_000_000_000_000, 1),
	"Ki": big.NewRat(1<<10, 1),
	"Mi": big.NewRat(1<<20, 1),
	"Gi": big.NewRat(1<<30, 1),
	"Ti": big.NewRat(1<<40, 1),
	"Pi": big.NewRat(1<<50, 1),
	"Ei": big.NewRat(1<<60, 1),
}

// ParseMilli parses s and returns its value times 1000, rounded up to an
// integer (as Kubernetes' MilliValue does): "500m" is 500, "2" is 2000,
// "1.5" is 1500, "1Ki" is 1024000. Negative quantities parse (callers that
// need a non-negative one check). Errors wrap ErrInvalid or ErrTooLarge.
func ParseMilli(s string) (int64, error) {
	r, err := parse(s)
	if err != nil {
		return 0, err
	}
	r.Mul(r, big.NewRat(1000, 1))
	return ceil(s, r)
}

// Bytes parses a memory (or storage) quantity into bytes, rounded up:
// "128Mi" is 134217728, "100M" is 100000000, "1.5Ki" is 1536.
func Bytes(s string) (int64, error) {
	r, err := parse(s)
	if err != nil {
		return 0, err
	}
	return ceil(s, r)
}

func ceil(s string, r *big.Rat) (int64, error) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: %q", ErrTooLarge, s)
	}
	return q.Int64(), nil
}

// parse returns the exact value of s.
func parse(s string) (*big.Rat, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrInvalid, s, why) }
	if s == "" {
		return nil, bad("empty")
	}
	if len(s) > 64 {
		return nil, bad("too long")
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	start := i
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return nil, bad("expected a number")
	}
	num, ok := new(big.Rat).SetString(s[start:i])
	if !ok {
		return nil, bad("expected a number")
	}
	if neg {
		num.Neg(num)
	}
	suffix := s[i:]
	if mult, ok := suffixes[suffix]; ok {
		return num.Mul(num, mult), nil
	}
	if suffix[0] == 'e' || suffix[0] == 'E' {
		exp := suffix[1:]
		j := 0
		if j < len(exp) && (exp[0] == '+' || exp[0] == '-') {
			j++
		}
		if j == len(exp) || strings.TrimLeft(exp[j:], "0123456789") != "" {
			return nil, bad("malformed exponent")
		}
		var e int64
		for _, c := range exp[j:] {
			e = e*10 + int64(c-'0')
			if e > 30 {
				return nil, bad("exponent out of range")
			}
		}
		if exp[0] == '-' {
			e = -e
		}
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(math.Abs(float64(e)))), nil)
		if e >= 0 {
			return num.Mul(num, new(big.Rat).SetInt(p)), nil
		}
		return num.Quo(num, new(big.Rat).SetInt(p)), nil
	}
	return nil, bad(fmt.Sprintf("unknown suffix %q (use m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent)", suffix))
}

// FormatMilliCPU renders millicores the way kubectl does: "2" for 2000,
// "1500m" for 1500.
func FormatMilliCPU(milli int64) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

// FormatBytes renders bytes with a binary suffix, exactly when it divides
// ("128Mi"), else rounded to one decimal ("7.7Gi").
func FormatBytes(b int64) string {
	units := []string{"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"}
	for i, u := range units {
		size := int64(1) << (10 * (len(units) - i))
		if b >= size {
			if b%size == 0 {
				return fmt.Sprintf("%d%s", b/size, u)
			}
			return fmt.Sprintf("%.1f%s", float64(b)/float64(size), u)
		}
	}
	return fmt.Sprint(b)
}
