package client

import (
	"context"
	"time"
)

// RetryOnConflict runs update until it returns something other than a
// conflict (ErrConflict), at most 5 times, waiting 10 ms, then 20 ms, 40 ms
// ... between tries; update must read the object afresh each time (Get,
// change, Update), as client-go's retry.RetryOnConflict expects. It returns
// update's last error, or ctx's error when ctx ends while waiting.
//
//	err := client.RetryOnConflict(ctx, func() error {
//		job, err := jobs.Get(ctx, "pi")
//		if err != nil {
//			return err
//		}
//		job.Metadata.Labels["team"] = "a"
//		_, err = jobs.Update(ctx, job)
//		return err
//	})
func RetryOnConflict(ctx context.Context, update func() error) error {
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := update()
		if !IsConflict(err) || attempt >= 5 {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay *= 2
	}
}
