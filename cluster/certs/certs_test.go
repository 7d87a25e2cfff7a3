package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAndLoad(t *testing.T) {
	dir := t.TempDir()
	files, err := Generate(dir, []string{"node1", "client"}, []string{"10.0.0.7", "db.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("Generate returned %d file sets, want 2", len(files))
	}
	ca, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, f := range files {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"127.0.0.1", "::1", "localhost", "10.0.0.7", "db.example"} {
			if err := leaf.VerifyHostname(host); err != nil {
				t.Errorf("%s: %v", f.Cert, err)
			}
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s does not verify for usage %v: %v", f.Cert, usage, err)
			}
		}
		st, err := os.Stat(f.Key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f.Key, st.Mode().Perm())
		}
		if _, err := f.ServerConfig(); err != nil {
			t.Error(err)
		}
		if _, err := f.ClientConfig(); err != nil {
			t.Error(err)
		}
	}
	// A second CA is another trust root: its certificates do not verify
	// against the first.
	other, err := Generate(t.TempDir(), []string{"node1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := tls.LoadX509KeyPair(other[0].Cert, other[0].Key)
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool}); err == nil {
		t.Error("a certificate of another CA verified")
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir, "test CA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCA(dir, "again"); err == nil || !strings.Contains(err.Error(), "already holds a CA") {
		t.Errorf("NewCA over an existing CA: %v", err)
	}
	for _, name := range []string{"", "ca", "..", "a/b", "x y", strings.Repeat("n", 65)} {
		if _, err := ca.Issue(name, nil); err == nil {
			t.Errorf("Issue(%q) succeeded", name)
		}
	}
	if _, err := (Files{CA: filepath.Join(dir, "ca.crt")}).ServerConfig(); err == nil {
		t.Error("ServerConfig with missing files succeeded")
	}
	if _, err := (Files{CA: filepath.Join(dir, "ca.key"), Cert: filepath.Join(dir, "ca.crt"), Key: filepath.Join(dir, "ca.key")}).ClientConfig(); err == nil {
		t.Error("ClientConfig with a key as CA file succeeded")
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Error("LoadCA of an empty directory succeeded")
	}
}
