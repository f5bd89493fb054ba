package docker

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/drover-dev/drover/worker/runtime"
)

// fakeEngine is a Docker Engine API server on a unix socket that answers
// create, start and inspect, and records the create requests' bodies.
type fakeEngine struct {
	socket string
	mu     sync.Mutex
	scope  string
	create []map[string]any
}

func newFakeEngine(t *testing.T, scope string) *fakeEngine {
	t.Helper()
	e := &fakeEngine{socket: filepath.Join(t.TempDir(), "docker.sock"), scope: scope}
	lis, err := net.Listen("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return e
}

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := strings.TrimPrefix(req.URL.Path, "/"+APIVersion)
	switch {
	case req.Method == http.MethodPost && path == "/containers/create":
		var body map[string]any
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.create = append(e.create, body)
		e.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"Id":"0123"}`)
	case req.Method == http.MethodPost && strings.HasSuffix(path, "/start"):
		w.WriteHeader(http.StatusNoContent)
	case req.Method == http.MethodGet && strings.HasSuffix(path, "/json"):
		json.NewEncoder(w).Encode(map[string]any{
			"Id":     "0123",
			"State":  map[string]any{"Status": "running", "Running": true, "Pid": 42},
			"Config": map[string]any{"Labels": map[string]string{LabelScope: e.scope, LabelID: "c"}},
		})
	default:
		http.Error(w, "not faked", http.StatusNotImplemented)
	}
}

func (e *fakeEngine) creates() []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.create...)
}

// TestCreateSetsLogRotation: containers are created with the json-file
// driver bounded by max-size and max-file, the defaults or Config's (SPEC
// W3, issue 13 #5).
func TestCreateSetsLogRotation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		size             int64
		files            int
		wantSize, wantNo string
	}{
		{name: "defaults", wantSize: "10485760", wantNo: "5"},
		{name: "configured", size: 64 << 10, files: 3, wantSize: "65536", wantNo: "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEngine(t, "s")
			r, err := New(Config{Socket: e.socket, Scope: "s", LogMaxSize: tc.size, LogMaxFiles: tc.files, Logger: zaptest.NewLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := r.Run(ctxT(t), cfgOf("c", "true")); err != nil {
				t.Fatal(err)
			}
			cr := e.creates()
			if len(cr) != 1 {
				t.Fatalf("%d create requests", len(cr))
			}
			hc, _ := cr[0]["HostConfig"].(map[string]any)
			lc, _ := hc["LogConfig"].(map[string]any)
			opts, _ := lc["Config"].(map[string]any)
			if lc["Type"] != "json-file" || opts["max-size"] != tc.wantSize || opts["max-file"] != tc.wantNo {
				t.Fatalf("LogConfig %v, want json-file max-size %s max-file %s", lc, tc.wantSize, tc.wantNo)
			}
		})
	}
}

// TestLogLimitsValidated: log bounds out of range are refused, naming the
// field at fault.
func TestLogLimitsValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Scope: "s", LogMaxSize: 100}, "LogMaxSize"},
		{Config{Scope: "s", LogMaxFiles: -2}, "LogMaxFiles"},
	} {
		_, err := New(tc.cfg)
		if !errors.Is(err, runtime.ErrLogLimit) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v): %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}
