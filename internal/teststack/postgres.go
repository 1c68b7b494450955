package teststack

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	// The driver dbutil uses for "postgres" URIs.
	_ "github.com/lib/pq"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// PostgresCluster is a private PostgreSQL server with its data in a
// temporary directory, listening on a free loopback port (and a unix socket
// in the same directory).
type PostgresCluster struct {
	Dir      string // data directory parent: data/, postgres.log, the socket
	Port     int
	User     string // superuser name
	Password string
	LogPath  string

	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
}

// Postgres starts a private PostgreSQL cluster for the test, creates a fresh
// database in it and returns its URI for dbutil (type "postgres"). The
// cluster is stopped and its directory removed at cleanup.
//
// PostgreSQL refuses to run as root. When the test runs as root, the cluster
// runs as the "postgres" system user (created by Debian's postgresql
// package), or as "nobody" if there is no such user; its directory is
// created in os.TempDir and handed to that user.
//
// initdb and postgres are looked up in PATH and then in
// /usr/lib/postgresql/<version>/bin (where Debian installs them, off PATH).
// A missing PostgreSQL skips the test, or fails it when RequirePeers is set.
func Postgres(t testing.TB) string {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL not installed (%v; apt-get install postgresql)", err)
		if otrtest.RequirePeers() {
			t.Fatalf("required peer missing (OTRBRIDGE_REQUIRE_PEERS=1): %s", msg)
		}
		t.Skipf("peer missing, skipping (set OTRBRIDGE_REQUIRE_PEERS=1 to fail instead): %s", msg)
	}
	c, err := StartPostgres(bin)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		c.Stop()
		_ = os.RemoveAll(c.Dir)
	})
	dsn, err := c.CreateDatabase(context.Background(), "otrbridge_"+randomPGName())
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	return dsn
}

// postgresBinDir finds the directory with initdb and postgres.
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := exec.LookPath("postgres"); err == nil {
			// PATH entries may be symlinks into the versioned directory;
			// both are fine as long as both programs are found.
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Prefer the newest version.
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("initdb/postgres not in PATH or /usr/lib/postgresql/*/bin")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// pgProgram returns the path of a PostgreSQL program: from binDir if it is
// there, else from PATH.
func pgProgram(binDir, name string) string {
	if p := filepath.Join(binDir, name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join(binDir, name)
}

// StartPostgres creates a cluster in a new temporary directory with the
// programs in binDir and starts it. The caller must Stop it (and may remove
// Dir).
func StartPostgres(binDir string) (*PostgresCluster, error) {
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	base := os.TempDir()
	if cred != nil && !worldTraversable(base) {
		// The server's user must reach its directory.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "otrbridge-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: temp dir: %w", err)
	}
	c := &PostgresCluster{
		Dir:      dir,
		User:     "postgres",
		Password: randomPGName(),
		LogPath:  filepath.Join(dir, "postgres.log"),
	}
	fail := func(err error) (*PostgresCluster, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return fail(fmt.Errorf("postgres: %w", err))
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("postgres: hand %s to uid %d: %w", p, cred.Uid, err))
			}
		}
	}
	initdb := exec.Command(pgProgram(binDir, "initdb"),
		"-D", filepath.Join(dir, "data"), "-U", c.User, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("postgres: initdb: %w\n%s", err, out))
	}
	_ = os.Remove(pwfile)

	for attempt := 0; ; attempt++ {
		if c.Port, err = freeLoopbackPort(); err != nil {
			return fail(err)
		}
		if err = c.start(binDir, cred); err == nil {
			return c, nil
		}
		if attempt == 2 {
			return fail(err)
		}
	}
}

func (c *PostgresCluster) start(binDir string, cred *syscall.Credential) error {
	logf, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("postgres: log: %w", err)
	}
	defer logf.Close()
	// A unix socket path must fit in 108 bytes; clients here use TCP anyway.
	sockDir := c.Dir
	if len(sockDir) > 80 {
		sockDir = ""
	}
	// Durability is pointless for a throwaway test cluster; speed is not.
	cmd := exec.Command(pgProgram(binDir, "postgres"),
		"-D", filepath.Join(c.Dir, "data"),
		"-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+sockDir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=100", "-c", "shared_buffers=32MB")
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: a crashed test leaves no server behind (the backends exit
	// by themselves when the postmaster dies).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: start: %w", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	db, err := sql.Open("postgres", c.URI("postgres"))
	if err != nil {
		c.Stop()
		return fmt.Errorf("postgres: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited during startup: %w\n%s", err, pgTail(c.LogPath))
		default:
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("postgres not ready after 30s: %w\n%s", err, pgTail(c.LogPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URI is the connection URI for database name, over TCP on loopback.
func (c *PostgresCluster) URI(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates an empty database and returns its URI. name must be
// a plain identifier.
func (c *PostgresCluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", fmt.Errorf("create database: bad name %q", name)
		}
	}
	db, err := sql.Open("postgres", c.URI("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URI(name), nil
}

// Stop shuts the server down ("fast" shutdown: SIGINT), waits up to 10 s,
// then kills its process group.
func (c *PostgresCluster) Stop() {
	c.stopOnce.Do(func() {
		if c.cmd == nil || c.cmd.Process == nil {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	})
}

// postgresCredential returns the user to run PostgreSQL as: nil (ourselves)
// unless we are root, which PostgreSQL refuses.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("postgres: running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")
}

// worldTraversable reports whether every directory from dir up to / lets
// other users through.
func worldTraversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomPGName returns 16 random lower-case hex digits: a password, or a
// suffix for a database name.
func randomPGName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}

func pgTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
