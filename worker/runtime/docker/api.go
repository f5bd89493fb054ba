package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// APIVersion is the Docker Engine API version the backend speaks (Docker
// Engine 20.10 and later).
const APIVersion = "v1.41"

// engine is a minimal Docker Engine API client over a unix socket: plain
// net/http and JSON, for the few calls the backend makes.
type engine struct {
	socket string
	hc     *http.Client
}

func newEngine(socket string) *engine {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    16,
		IdleConnTimeout: 0,
	}
	return &engine{socket: socket, hc: &http.Client{Transport: tr}}
}

// apiError is an error response of the engine.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("docker engine: %d: %s", e.Status, e.Message)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends a request and returns the response, whose body the caller
// closes; a non-2xx status is returned as *apiError.
func (e *engine) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://docker/" + APIVersion + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", e.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		return nil, &apiError{Status: resp.StatusCode, Message: m.Message}
	}
	return resp, nil
}

// call sends a request and decodes a JSON response into out (if not nil).
func (e *engine) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := e.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// ping checks that an engine answers.
func (e *engine) ping(ctx context.Context) error {
	resp, err := e.do(ctx, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// createBody is the body of POST /containers/create.
type createBody struct {
	Image      string            `json:"Image"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Hostname   string            `json:"Hostname,omitempty"`
	Labels     map[string]string `json:"Labels"`
	HostConfig hostConfig        `json:"HostConfig"`
}

type hostConfig struct {
	NanoCPUs    int64     `json:"NanoCpus,omitempty"`
	Memory      int64     `json:"Memory,omitempty"`
	NetworkMode string    `json:"NetworkMode,omitempty"`
	PidMode     string    `json:"PidMode,omitempty"`
	LogConfig   logConfig `json:"LogConfig"`
}

type logConfig struct {
	Type string `json:"Type"`
	// Config holds the driver's options; json-file's max-size is in bytes
	// (a bare number), max-file a count.
	Config map[string]string `json:"Config,omitempty"`
}

// inspect is the part of GET /containers/{id}/json the backend reads.
type inspect struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Status     string `json:"Status"`
		Running    bool   `json:"Running"`
		OOMKilled  bool   `json:"OOMKilled"`
		Pid        int64  `json:"Pid"`
		ExitCode   int32  `json:"ExitCode"`
		Error      string `json:"Error"`
		StartedAt  string `json:"StartedAt"`
		FinishedAt string `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
}

// listEntry is an element of GET /containers/json.
type listEntry struct {
	ID     string            `json:"Id"`
	Labels map[string]string `json:"Labels"`
}

// labelFilter is the filters query value selecting containers by labels.
func labelFilter(labels map[string]string) string {
	var l []string
	for k, v := range labels {
		l = append(l, k+"="+v)
	}
	b, _ := json.Marshal(map[string][]string{"label": l})
	return string(b)
}
