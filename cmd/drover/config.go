package main

// Where the client commands find the API and their namespace: a flag
// (--server, -n), else the environment (DROVER_SERVER, DROVER_NAMESPACE),
// else the config file (--config, else $XDG_CONFIG_HOME/drover/config.yaml,
// else ~/.config/drover/config.yaml), else 127.0.0.1:7070 and "default".

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/client"
)

// Environment variables the client commands read.
const (
	envServer    = "DROVER_SERVER"
	envNamespace = "DROVER_NAMESPACE"
)

// cliConfig is the config file:
//
//	server: 10.0.0.5:7070,10.0.0.6:7070
//	namespace: batch
type cliConfig struct {
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// defaultConfigPath is $XDG_CONFIG_HOME/drover/config.yaml, or
// ~/.config/drover/config.yaml; "" when neither is known.
func defaultConfigPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "drover", "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "drover", "config.yaml")
	}
	return ""
}

// loadConfig reads a config file strictly (an unknown key is an error). A
// missing file is an empty config unless it was named explicitly.
func loadConfig(path string, explicit bool) (cliConfig, error) {
	var cfg cliConfig
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// notClient are the commands that do not talk to the API.
var notClient = map[string]bool{"dev": true, "controller": true, "worker": true, "completion": true}

// getenv reads the environment (tests replace it).
func (e *cliEnv) getenv(key string) string {
	if e.env != nil {
		return e.env(key)
	}
	return os.Getenv(key)
}

// resolveConfig fills --server and the command's -n from the environment
// and the config file where the flags were not given. It runs before every
// command; the config file is read only when a flag is missing.
func (e *cliEnv) resolveConfig(cmd *cobra.Command) error {
	if notClient[cmd.Name()] {
		return nil // a bad client config must not stop a cluster process
	}
	var cfg *cliConfig
	config := func() (cliConfig, error) {
		if cfg != nil {
			return *cfg, nil
		}
		path, explicit := e.configFile, true
		if path == "" {
			path, explicit = defaultConfigPath(e.getenv), false
		}
		c, err := loadConfig(path, explicit)
		cfg = &c
		return c, err
	}
	pick := func(flagSet bool, envKey string, fromFile func(cliConfig) string, def string) (string, error) {
		if flagSet {
			return "", nil
		}
		if v := e.getenv(envKey); v != "" {
			return v, nil
		}
		c, err := config()
		if err != nil {
			return "", err
		}
		if v := fromFile(c); v != "" {
			return v, nil
		}
		return def, nil
	}
	srv := cmd.Flags().Lookup("server")
	v, err := pick(srv != nil && srv.Changed, envServer, func(c cliConfig) string { return c.Server }, client.DefaultAddress)
	if err != nil {
		return err
	}
	if v != "" {
		*e.server = v
	}
	if nsf := cmd.Flags().Lookup("namespace"); nsf != nil {
		v, err := pick(nsf.Changed, envNamespace, func(c cliConfig) string { return c.Namespace }, "")
		if err != nil {
			return err
		}
		if v != "" {
			// Value.Set leaves Changed false: apply still tells a
			// configured default from an explicit -n.
			if err := nsf.Value.Set(v); err != nil {
				return err
			}
			e.namespace = v
		}
	}
	return nil
}
