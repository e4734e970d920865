// Command ferretdb-local runs FerretDB v1 (SQLite backend) as the project's local
// MongoDB-compatible server.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a
// binary that panics at start (its version.txt is generated at release time), while the
// embeddable `ferretdb` package builds and runs cleanly from the Go module proxy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("sqlite-dir", "data/ferretdb", "directory holding the SQLite databases")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dataDir, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel string) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return fmt.Errorf("cannot create %s: %w", abs, err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	// SIGTERM (from `lakehouse services down`) closes the listener and the databases cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logger.Warn("ferretdb-local listening", "addr", listen, "sqlite", abs)
	return f.Run(ctx)
}
