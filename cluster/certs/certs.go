// Package certs makes and loads the certificates of a cluster's mutual TLS
// (issue 26): a local certificate authority, and node and client
// certificates it signs, as PEM files in a directory, for tests, demos and
// `strata cluster certs`. Keys are ECDSA P-256; every certificate names
// 127.0.0.1, ::1 and localhost besides the hosts it is given, and may serve as
// both a server and a client certificate (a node is both).
//
// Files written by a CA in its directory:
//
//	ca.crt        the CA certificate (PEM "CERTIFICATE")
//	ca.key        its private key (PEM "PRIVATE KEY", PKCS #8), mode 0600
//	NAME.crt      a certificate issued for NAME, signed by the CA
//	NAME.key      its private key (PKCS #8), mode 0600
//
// Production deployments may use certificates from any CA: the transport
// only needs the three files of Files.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files names the PEM files of one party of mutual TLS: the CA certificate
// that the peers' certificates must chain to, this party's certificate and
// its private key.
type Files struct {
	CA   string // CA certificate(s), PEM
	Cert string // this party's certificate, PEM
	Key  string // this party's private key, PEM (PKCS #8, PKCS #1 or SEC 1)
}

// load reads the key pair and the CA pool of f.
func (f Files) load() (tls.Certificate, *x509.CertPool, error) {
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return tls.Certificate{}, nil, fmt.Errorf("certs: TLS needs three files (CA %q, cert %q, key %q): one is not set", f.CA, f.Cert, f.Key)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certs: loading key pair %s, %s: %w", f.Cert, f.Key, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certs: reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return tls.Certificate{}, nil, fmt.Errorf("certs: %s holds no PEM certificate", f.CA)
	}
	return pair, pool, nil
}

// ServerConfig returns the TLS configuration of a server that requires
// every client to present a certificate signed by f.CA (mutual TLS, TLS 1.3
// only).
func (f Files) ServerConfig() (*tls.Config, error) {
	pair, pool, err := f.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}, nil
}

// ClientConfig returns the TLS configuration of a client that presents
// f.Cert and accepts only servers whose certificate is signed by f.CA and
// names the host it dials (TLS 1.3 only).
func (f Files) ClientConfig() (*tls.Config, error) {
	pair, pool, err := f.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, RootCAs: pool}, nil
}

// CA is a certificate authority whose certificate and key live in Dir.
type CA struct {
	Dir  string            // the directory of ca.crt, ca.key and the issued files
	Cert *x509.Certificate // the CA certificate
	key  *ecdsa.PrivateKey
}

// caValidity and certValidity are how long made certificates are valid.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 2 * 365 * 24 * time.Hour
)

// NewCA makes a certificate authority named commonName and writes ca.crt
// and ca.key into dir (created if missing). It refuses to overwrite an
// existing ca.key: a CA once made signs every node of its cluster.
func NewCA(dir, commonName string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err == nil {
		return nil, fmt.Errorf("certs: %s already holds a CA (ca.key): load it with LoadCA", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Strata cluster"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certs: making the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if err := writePair(dir, "ca", der, key); err != nil {
		return nil, err
	}
	return &CA{Dir: dir, Cert: cert, key: key}, nil
}

// LoadCA reads the CA that NewCA wrote into dir.
func LoadCA(dir string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("certs: loading the CA of %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("certs: the CA key of %s is not an ECDSA key", dir)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("certs: %s/ca.crt is not a CA certificate", dir)
	}
	return &CA{Dir: dir, Cert: cert, key: key}, nil
}

// Issue makes a certificate for name (a node such as "node1", or a client
// such as "client"), valid for 127.0.0.1, ::1, localhost and hosts (IP
// addresses or DNS names), usable as both server and client certificate, and
// writes NAME.crt and NAME.key beside the CA's files. It returns the files
// a party using it configures.
func (ca *CA) Issue(name string, hosts []string) (Files, error) {
	if !validName(name) {
		return Files{}, fmt.Errorf("certs: certificate name %q: use letters, digits, '.', '_' and '-' (not \"ca\")", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, fmt.Errorf("certs: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Strata cluster"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return Files{}, fmt.Errorf("certs: issuing %s: %w", name, err)
	}
	if err := writePair(ca.Dir, name, der, key); err != nil {
		return Files{}, err
	}
	return ca.Files(name), nil
}

// Files returns the files of the certificate Issue made for name.
func (ca *CA) Files(name string) Files {
	return Files{
		CA:   filepath.Join(ca.Dir, "ca.crt"),
		Cert: filepath.Join(ca.Dir, name+".crt"),
		Key:  filepath.Join(ca.Dir, name+".key"),
	}
}

// Generate makes a CA in dir and issues a certificate for each of names
// (all with the extra hosts): what `strata cluster certs` does. It returns
// the files of each name, in order.
func Generate(dir string, names []string, hosts []string) ([]Files, error) {
	ca, err := NewCA(dir, "Strata cluster CA")
	if err != nil {
		return nil, err
	}
	out := make([]Files, 0, len(names))
	for _, n := range names {
		f, err := ca.Issue(n, hosts)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func validName(name string) bool {
	if name == "" || name == "ca" || name == "." || name == ".." || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// serial returns a random 127-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// writePair writes NAME.crt and NAME.key (mode 0600) into dir.
func writePair(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return errors.Join(fmt.Errorf("certs: %w", err), os.Remove(keyPath))
	}
	return nil
}
