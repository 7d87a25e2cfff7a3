package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// tlsFixture is a cluster CA with node and client certificates, and another
// CA's client certificate.
type tlsFixture struct {
	node1, node2, client certs.Files
	other                certs.Files // of another CA
}

func newTLSFixture(t testing.TB) tlsFixture {
	t.Helper()
	f, err := certs.Generate(t.TempDir(), []string{"node1", "node2", "client"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := certs.Generate(t.TempDir(), []string{"client"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tlsFixture{node1: f[0], node2: f[1], client: f[2], other: o[0]}
}

// rawTLSDial dials addr with a hand-made TLS configuration.
func rawTLSDial(t testing.TB, addr string, tc *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func pool(t testing.TB, caFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	return p
}

func get(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := clusterpb.NewKVClient(conn).Get(ctx, &clusterpb.GetRequest{Key: []byte("k")})
	return err
}

// TestTLSRefusals: with TLS configured, only a client whose certificate
// the cluster's CA signed is served; no certificate, another CA's
// certificate, plaintext, and a client that does not trust the server's CA
// all fail, and no request reaches the handler.
func TestTLSRefusals(t *testing.T) {
	fx := newTLSFixture(t)
	srv := startServer(t, ServerConfig{ClusterID: 1, TLS: &fx.node1, KV: fakeKV{}})
	clientPair, err := tls.LoadX509KeyPair(fx.client.Cert, fx.client.Key)
	if err != nil {
		t.Fatal(err)
	}
	otherPair, err := tls.LoadX509KeyPair(fx.other.Cert, fx.other.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPool := pool(t, fx.client.CA)
	cases := []struct {
		name string
		dial func() *grpc.ClientConn
		ok   bool
	}{
		{"certificate of the cluster's CA", func() *grpc.ClientConn {
			c, err := Dial(srv.Addr(), &fx.client, 0)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, true},
		{"no client certificate", func() *grpc.ClientConn {
			return rawTLSDial(t, srv.Addr(), &tls.Config{RootCAs: caPool})
		}, false},
		{"another CA's client certificate", func() *grpc.ClientConn {
			return rawTLSDial(t, srv.Addr(), &tls.Config{RootCAs: caPool, Certificates: []tls.Certificate{otherPair}})
		}, false},
		{"plaintext", func() *grpc.ClientConn {
			c, err := Dial(srv.Addr(), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, false},
		{"client trusting another CA", func() *grpc.ClientConn {
			c, err := Dial(srv.Addr(), &fx.other, 0)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, false},
		{"TLS 1.2 only", func() *grpc.ClientConn {
			return rawTLSDial(t, srv.Addr(), &tls.Config{RootCAs: caPool, Certificates: []tls.Certificate{clientPair}, MaxVersion: tls.VersionTLS12})
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := srv.Stats().KVRequests
			conn := c.dial()
			defer conn.Close()
			err := get(conn)
			served := srv.Stats().KVRequests - before
			if c.ok && (err != nil || served != 1) {
				t.Fatalf("refused (%v), want served", err)
			}
			if !c.ok {
				if err == nil || served != 0 {
					t.Fatalf("served (%d requests reached the handler), want refused", served)
				}
				if status.Code(err) != codes.Unavailable {
					t.Errorf("refused with %v, want Unavailable", err)
				}
				t.Logf("refused: %v", err)
			}
		})
	}
}

// TestTLSTransport: raft messages between nodes of one CA go through; a
// node whose certificate another CA signed is refused and reported
// unreachable.
func TestTLSTransport(t *testing.T) {
	fx := newTLSFixture(t)
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 1, TLS: &fx.node1, Raft: rec})
	res := NewMapResolver(map[uint64]string{2: srv.Addr()})
	tr := newTransport(t, Config{ClusterID: 1, TLS: &fx.node2, Resolver: res})
	tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, 0, 10), appMsg(1, 2, 1, 10)})
	waitFor(t, "two messages", func() bool { return rec.count() == 2 })

	rep := &reports{}
	intruder := newTransport(t, Config{ClusterID: 1, TLS: &fx.other, Resolver: res, Unreachable: rep.unreach, MinBackoff: 10 * time.Millisecond})
	resendUntil(t, intruder, "the intruder's refusal", func() bool { return rep.unreachableCount(1, 12) > 0 }, func() *clusterpb.RaftMessage { return appMsg(1, 2, 5, 10) })
	if rec.count() != 2 {
		t.Errorf("%d messages stepped, want only the 2 of the cluster's node", rec.count())
	}
}

// TestRefusedHandshakesNoMemoryGrowth makes 200 connections that the TLS
// server refuses (plaintext, another CA's certificate, no certificate): once
// they are closed, the heap and the goroutines are back where they were.
func TestRefusedHandshakesNoMemoryGrowth(t *testing.T) {
	fx := newTLSFixture(t)
	srv := startServer(t, ServerConfig{ClusterID: 1, TLS: &fx.node1, KV: fakeKV{}, HandshakeTimeout: 5 * time.Second})
	otherPair, err := tls.LoadX509KeyPair(fx.other.Cert, fx.other.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPool := pool(t, fx.node1.CA)
	refuse := func(i int) {
		var conn *grpc.ClientConn
		switch i % 3 {
		case 0:
			conn, err = Dial(srv.Addr(), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
		case 1:
			conn = rawTLSDial(t, srv.Addr(), &tls.Config{RootCAs: caPool, Certificates: []tls.Certificate{otherPair}})
		case 2:
			conn = rawTLSDial(t, srv.Addr(), &tls.Config{RootCAs: caPool})
		}
		if err := get(conn); err == nil {
			t.Fatalf("connection %d was served", i)
		}
		conn.Close()
	}
	settle := func() (heap uint64, goroutines int) {
		waitFor(t, "the server to close the refused connections", func() bool { return srv.Stats().OpenConns == 0 })
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, runtime.NumGoroutine()
	}
	for i := range 30 { // warm up: pools, TLS session state, lazily made tables
		refuse(i)
	}
	heap0, g0 := settle()
	const n = 200
	for i := range n {
		refuse(i)
	}
	heap1, g1 := settle()
	t.Logf("after %d refused handshakes: heap %d → %d bytes, goroutines %d → %d, connections accepted %d",
		n, heap0, heap1, g0, g1, srv.Stats().Connections)
	if grow := int64(heap1) - int64(heap0); grow > 4<<20 {
		t.Errorf("heap grew by %d bytes over %d refused handshakes (bound 4 MiB)", grow, n)
	}
	if g1 > g0+10 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
}

// TestInsecureGuard: plaintext on a non-loopback address is refused unless
// Insecure; loopback and TLS are allowed.
func TestInsecureGuard(t *testing.T) {
	fx := newTLSFixture(t)
	cases := []struct {
		listen   string
		tls      *certs.Files
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:0", nil, false, true},
		{"localhost:0", nil, false, true},
		{"0.0.0.0:0", nil, false, false},
		{":0", nil, false, false},
		{"0.0.0.0:0", nil, true, true},
		{"0.0.0.0:0", &fx.node1, false, true},
		{"no-port", nil, false, false},
	}
	for _, c := range cases {
		s, err := NewServer(ServerConfig{Listen: c.listen, TLS: c.tls, Insecure: c.insecure})
		if s != nil {
			s.Close(0)
		}
		if (err == nil) != c.ok {
			t.Errorf("listen %s, TLS %v, insecure %v: error %v, want ok=%v", c.listen, c.tls != nil, c.insecure, err, c.ok)
		}
		if err != nil && c.tls == nil && c.listen != "no-port" && !strings.Contains(err.Error(), "without TLS") {
			t.Errorf("listen %s: error %q does not say why", c.listen, err)
		}
	}
	for _, h := range []string{"[::1]:1", "127.0.0.2:1"} {
		if ok, err := isLoopback(h); !ok || err != nil {
			t.Errorf("isLoopback(%s) = %v, %v", h, ok, err)
		}
	}
}

// TestRequestLimits: keys and values over the limits, messages over the
// message size and empty writes are refused with errors saying which and
// why; services without a handler answer Unimplemented.
func TestRequestLimits(t *testing.T) {
	srv := startServer(t, ServerConfig{ClusterID: 1, KV: fakeKV{}, MaxKeySize: 100, MaxValueSize: 1000, MaxMessageSize: 64 << 10})
	conn, err := Dial(srv.Addr(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kv, pd := clusterpb.NewKVClient(conn), clusterpb.NewPDClient(conn)
	ctx := context.Background()
	big := func(n int) []byte { return make([]byte, n) }
	put := func(k, v []byte) *clusterpb.WriteRequest {
		return &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("a")}, {Key: k, Value: v}}}
	}
	cases := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"get within limits", func() error { _, err := kv.Get(ctx, &clusterpb.GetRequest{Key: big(100)}); return err }, codes.OK, ""},
		{"get huge key", func() error { _, err := kv.Get(ctx, &clusterpb.GetRequest{Key: big(101)}); return err },
			codes.InvalidArgument, "get: key of 101 bytes is over the limit of 100 bytes"},
		{"scan huge end key", func() error { _, err := kv.Scan(ctx, &clusterpb.ScanRequest{EndKey: big(200)}); return err },
			codes.InvalidArgument, "scan: end key of 200 bytes"},
		{"write huge value", func() error { _, err := kv.Write(ctx, put([]byte("k"), big(1001))); return err },
			codes.InvalidArgument, "write: mutation 1: value of 1001 bytes is over the limit of 1000 bytes"},
		{"write huge key", func() error { _, err := kv.Write(ctx, put(big(101), nil)); return err },
			codes.InvalidArgument, "write: mutation 1: key of 101 bytes"},
		{"write huge condition value", func() error {
			_, err := kv.Write(ctx, &clusterpb.WriteRequest{Conditions: []*clusterpb.Condition{{Key: []byte("k"), Value: big(5000)}}, Mutations: put(nil, nil).Mutations})
			return err
		}, codes.InvalidArgument, "write: condition 0: value of 5000 bytes"},
		{"write nothing", func() error { _, err := kv.Write(ctx, &clusterpb.WriteRequest{}); return err },
			codes.InvalidArgument, "write: no mutations"},
		{"message over the size limit", func() error {
			_, err := kv.Write(ctx, &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: big(100 << 10)}}})
			return err
		}, codes.ResourceExhausted, "larger than max"},
		{"no PD handler", func() error { _, err := pd.GetRegion(ctx, &clusterpb.GetRegionRequest{}); return err },
			codes.Unimplemented, "no placement driver"},
	}
	for _, c := range cases {
		err := c.call()
		if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.msg) {
			t.Errorf("%s: %v, want %v containing %q", c.name, err, c.code, c.msg)
		}
	}
	// The connection still serves after the refusals.
	if _, err := kv.Get(ctx, &clusterpb.GetRequest{Key: []byte("k")}); err != nil {
		t.Errorf("after the refusals: %v", err)
	}
}

// gatedKV blocks every Get until gate closes, counting Gets in flight.
type gatedKV struct {
	fakeKV
	gate           chan struct{}
	inflight, peak atomic.Int64
}

func (g *gatedKV) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	n := g.inflight.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	<-g.gate
	g.inflight.Add(-1)
	return g.fakeKV.Get(ctx, req)
}

// TestConcurrencyLimitPerConnection: one connection with 10 requests at
// once gets only MaxConcurrentStreams of them served at a time; the rest
// wait (backpressure) and all complete.
func TestConcurrencyLimitPerConnection(t *testing.T) {
	kv := &gatedKV{gate: make(chan struct{})}
	srv := startServer(t, ServerConfig{ClusterID: 1, KV: kv, MaxConcurrentStreams: 3})
	conn, err := Dial(srv.Addr(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- get(conn) })
	}
	waitFor(t, "3 requests in flight", func() bool { return kv.inflight.Load() == 3 })
	close(kv.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p := kv.peak.Load(); p != 3 {
		t.Errorf("peak requests in flight on one connection: %d, want 3", p)
	}
}

// TestConnectionLimit: past MaxConnections, a new connection waits until
// one closes.
func TestConnectionLimit(t *testing.T) {
	srv := startServer(t, ServerConfig{ClusterID: 1, KV: fakeKV{}, MaxConnections: 1})
	c1, err := Dial(srv.Addr(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(c1); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", srv.Addr()) // in the backlog, not accepted
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if n := srv.Stats().Connections; n != 1 {
		t.Errorf("accepted %d connections, want 1", n)
	}
	c1.Close()
	waitFor(t, "the second connection accepted", func() bool { return srv.Stats().Connections == 2 })
}

// TestInflightLimit: past MaxInflightRequests over all connections, a
// request is refused at once as "server busy"; the ones in flight finish.
func TestInflightLimit(t *testing.T) {
	kv := &gatedKV{gate: make(chan struct{})}
	srv := startServer(t, ServerConfig{ClusterID: 1, KV: kv, MaxInflightRequests: 2})
	var conns []*grpc.ClientConn
	for range 2 {
		c, err := Dial(srv.Addr(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if err := get(c); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "2 requests in flight", func() bool { return kv.inflight.Load() == 2 })
	for i := range 3 {
		err := get(conns[i%2])
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "server busy") {
			t.Errorf("request over the limit: %v, want ResourceExhausted, server busy", err)
		}
	}
	close(kv.gate)
	wg.Wait()
	if b := srv.Stats().Busy; b != 3 {
		t.Errorf("busy refusals counted %d, want 3", b)
	}
	if err := get(conns[0]); err != nil {
		t.Errorf("after the flood: %v", err)
	}
}
