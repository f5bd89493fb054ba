package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	var (
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a controller's or worker's /readyz or /healthz (exit 0 healthy, 1 not)",
		Long: `Ask a Drover process's metrics listener (--metrics-listen) whether it is
healthy, for container health checks: exit status 0 when the URL answers
200 within --timeout, 1 otherwise (with the reason on stderr).

/healthz answers while the process serves at all. /readyz answers 200 when
the process can do its work: a controller when its API serves and etcd
answers; a worker when it is registered and its lease is fresh (not fenced);
'drover hollow' when every hollow node is.`,
		Example: `  drover health --url http://127.0.0.1:9090/readyz
  HEALTHCHECK CMD ["/drover", "health", "--url", "http://127.0.0.1:9090/healthz"]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkHealth(cmd.Context(), url, timeout, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:9090/readyz", "the URL to check")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	rootCmd.AddCommand(cmd)
}

// checkHealth GETs url and returns nil on 200 (printing the body to out),
// else an error with the status and body.
func checkHealth(ctx context.Context, url string, timeout time.Duration, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s: %s", resp.Status, msg)
	}
	fmt.Fprintln(out, msg)
	return nil
}
