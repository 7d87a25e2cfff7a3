package transport

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/strata-db/strata/cluster/certs"
)

// Dial returns a connection to a node's server for a client of its KV and
// PD services (clusterpb.NewKVClient, clusterpb.NewPDClient): mutual TLS with
// files if set, plaintext otherwise; maxMessageSize (0: 16 MiB) bounds a
// message either way. The connection is made lazily and remade with backoff
// when it breaks.
func Dial(addr string, files *certs.Files, maxMessageSize int) (*grpc.ClientConn, error) {
	if maxMessageSize <= 0 {
		maxMessageSize = 16 << 20
	}
	opts, err := dialOptions(files, maxMessageSize, 100*time.Millisecond, 5*time.Second, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("transport: dialling %s: %w", addr, err)
	}
	return conn, nil
}

// dialOptions are the gRPC options of every connection to a node.
func dialOptions(files *certs.Files, maxMessageSize int, minBackoff, maxBackoff, dialTimeout time.Duration) ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	if files != nil {
		tc, err := files.ClientConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: dialTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(4 << 20),
		grpc.WithSharedWriteBuffer(true),
	}, nil
}
