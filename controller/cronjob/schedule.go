package cronjob

import (
	"time"

	"github.com/robfig/cron/v3"
)

// MaxMissedTimes is how many missed start times are tolerated silently;
// more and the warning event TooManyMissedTimes is recorded (SPEC C3).
const MaxMissedTimes = 100

// timeline reads a schedule in a time zone, with the length of a schedule
// "minute" scaled for tests (see Config.Minute): with minute = 1s a
// "* * * * *" schedule fires every second of real time. All arithmetic on
// schedule times happens in virtual time, where a schedule minute is a
// real minute; real() and virtual() convert. With minute = time.Minute both
// are the identity.
type timeline struct {
	sched  cron.Schedule
	loc    *time.Location
	minute time.Duration
}

// scale is how many virtual nanoseconds pass per real nanosecond.
func (tl timeline) scale() int64 { return int64(time.Minute / tl.minute) }

// virtual maps a real instant to schedule time.
func (tl timeline) virtual(t time.Time) time.Time {
	if tl.minute == time.Minute {
		return t.In(tl.loc)
	}
	k := tl.scale()
	// Seconds and nanoseconds separately: t.UnixNano()*k would overflow.
	sec, nsec := t.Unix()*k, int64(t.Nanosecond())*k
	return time.Unix(sec, nsec).In(tl.loc)
}

// real maps a schedule time back to a real instant.
func (tl timeline) real(v time.Time) time.Time {
	if tl.minute == time.Minute {
		return v
	}
	k := tl.scale()
	sec := v.Unix()
	q, r := sec/k, sec%k
	if r < 0 {
		q, r = q-1, r+k
	}
	return time.Unix(q, (r*int64(time.Second)+int64(v.Nanosecond()))/k).UTC()
}

// next is the first schedule time strictly after v (virtual), or the zero
// time if the schedule never fires (30 February). A wall-clock time that
// occurs twice when clocks fall back (01:30 on a fall-back night) fires
// once, at its first occurrence; a time that does not exist when clocks
// spring forward (02:00) is skipped, as the cron library and Kubernetes do.
func (tl timeline) next(v time.Time) time.Time {
	n := tl.sched.Next(v.In(tl.loc))
	for i := 0; i < 4 && !n.IsZero() && tl.repeatedWallClock(n); i++ {
		n = tl.sched.Next(n)
	}
	return n
}

// repeatedWallClock reports whether the wall-clock minute of n already
// happened earlier (n falls in the hour repeated when clocks go back).
func (tl timeline) repeatedWallClock(n time.Time) bool {
	const layout = "2006-01-02 15:04"
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if n.Add(-back).In(tl.loc).Format(layout) == n.Format(layout) {
			return true
		}
	}
	return false
}

// mostRecent returns the latest schedule time in (after, now] (virtual
// times), whether there is one, and whether more than MaxMissedTimes fell in
// that interval. It never iterates over more than MaxMissedTimes+1 times
// forward, and when more were missed it finds the latest by searching back
// from now with a doubling window, so a CronJob stopped for years with an
// every-minute schedule costs a few dozen steps, not millions (SPEC C3).
func (tl timeline) mostRecent(after, now time.Time) (last time.Time, found, tooMany bool) {
	t := after
	for i := 0; i <= MaxMissedTimes; i++ {
		n := tl.next(t)
		if n.IsZero() || n.After(now) {
			return last, found, false
		}
		last, found, t = n, true, n
	}
	// More than MaxMissedTimes: find the last one before now.
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(t) {
			from = t
		}
		n := tl.next(from)
		if !n.IsZero() && !n.After(now) {
			for !n.IsZero() && !n.After(now) {
				last = n
				n = tl.next(n)
			}
			return last, true, true
		}
		if !from.After(t) {
			return last, true, true
		}
	}
}
