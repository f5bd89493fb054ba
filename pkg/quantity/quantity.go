// Package quantity parses Kubernetes resource quantities ("500m", "2",
// "1.5", "128Mi", "1Gi", "1e3", "100M") exactly, without floating point.
package quantity

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
)

// ErrInvalid is returned for a string that is not a quantity.
var ErrInvalid = errors.New("quantity: invalid")

var suffixes = map[string]*big.Rat{
	"":   big.NewRat(1, 1),
	"m":  big.NewRat(1, 1000),
	"k":  big.NewRat(1000, 1),
	"M":  big.NewRat(1000_000, 1),
	"G":  big.NewRat(1000_000_000, 1),
	"T":  big.NewRat(1000_000_000_000, 1),
	"P":  big.NewRat(1000_000_000_000_000, 1),
	"E":  big.NewRat(1000_000_000_000_000_000, 1),
	"Ki": big.NewRat(1<<10, 1),
	"Mi": big.NewRat(1<<20, 1),
	"Gi": big.NewRat(1<<30, 1),
	"Ti": big.NewRat(1<<40, 1),
	"Pi": big.NewRat(1<<50, 1),
	"Ei": big.NewRat(1<<60, 1),
}

// Parse returns the exact value of s.
func Parse(s string) (*big.Rat, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalid)
	}
	num := strings.TrimRight(s, "kKmMGTPEi")
	suf := s[len(num):]
	mult, ok := suffixes[suf]
	if !ok {
		return nil, fmt.Errorf("%w: %q: unknown suffix %q", ErrInvalid, s, suf)
	}
	// A decimal exponent ("1e3") is allowed only without a suffix.
	mant, exp, hasExp := strings.Cut(strings.ToLower(num), "e")
	if hasExp && suf != "" {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	if mant == "" || strings.Trim(mant, "+-0123456789.") != "" || strings.Count(mant, ".") > 1 || strings.LastIndexAny(mant, "+-") > 0 || mant == "." {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	v, ok := new(big.Rat).SetString(mant)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	if hasExp {
		var e int
		if _, err := fmt.Sscanf(exp, "%d", &e); err != nil || fmt.Sprint(e) != strings.TrimPrefix(exp, "+") || e > 18 || e < -18 {
			return nil, fmt.Errorf("%w: %q: exponent", ErrInvalid, s)
		}
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e))), nil))
		if e < 0 {
			p.Inv(p)
		}
		v.Mul(v, p)
	}
	if v.Sign() < 0 {
		return nil, fmt.Errorf("%w: %q: negative", ErrInvalid, s)
	}
	return v.Mul(v, mult), nil
}

// memo remembers what Milli and Value returned: a fleet's capacities and its
// pods' requests are a few strings repeated, and the scheduler reads every
// node's on every pass (at 5,000 nodes big.Rat parsing was a sixth of the
// controller's CPU). It holds at most memoMax results, forgetting all of
// them when full.
var memo struct {
	sync.Mutex
	m map[memoKey]memoResult
}

const memoMax = 4096

type memoKey struct {
	s     string
	milli bool
}

type memoResult struct {
	v   int64
	err error
}

func remembered(s string, milli bool, parse func(string) (int64, error)) (int64, error) {
	k := memoKey{s, milli}
	memo.Lock()
	r, ok := memo.m[k]
	memo.Unlock()
	if ok {
		return r.v, r.err
	}
	v, err := parse(s)
	memo.Lock()
	if memo.m == nil || len(memo.m) >= memoMax {
		memo.m = make(map[memoKey]memoResult)
	}
	memo.m[k] = memoResult{v, err}
	memo.Unlock()
	return v, err
}

// Milli parses s and returns it in thousandths, rounded up (cpu "500m" -> 500).
func Milli(s string) (int64, error) { return remembered(s, true, milli) }

// Value parses s and returns it as a whole number, rounded up (memory "1Gi" -> 1073741824).
func Value(s string) (int64, error) { return remembered(s, false, value) }

func milli(s string) (int64, error) {
	v, err := Parse(s)
	if err != nil {
		return 0, err
	}
	return ceil(new(big.Rat).Mul(v, big.NewRat(1000, 1)))
}

func value(s string) (int64, error) {
	v, err := Parse(s)
	if err != nil {
		return 0, err
	}
	return ceil(v)
}

func ceil(r *big.Rat) (int64, error) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: too large", ErrInvalid)
	}
	return q.Int64(), nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
