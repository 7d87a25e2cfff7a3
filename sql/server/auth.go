package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"sort"
	"strings"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/session"
)

// authServer checks logins against the catalog's accounts, for both
// mysql_native_password (SHA1(SHA1(pw)), catalog.User.AuthString) and
// caching_sha2_password's fast path (SHA256(SHA256(pw)),
// catalog.User.CachingSha2). Its full path (the password in clear) is
// not offered: the stored hash serves every login (vitess's own
// caching_sha2_password method serves only TLS and Unix-socket clients, so
// this package has its own, sha2Method).
//
// An account matches a client when its name is the login's and its host
// matches the client's address: '%' any, 'localhost' a loopback address,
// an address itself, or a pattern with % and _; the most specific host
// wins, as in MySQL. An account without a password is accepted only from a
// loopback address (127.0.0.0/8, ::1): the root of a new database, as
// `mysqld --initialize-insecure` leaves it.
type authServer struct {
	store         kv.Store
	methods       []mysql.AuthMethod
	defaultMethod mysql.AuthMethodDescription
}

func newAuthServer(store kv.Store) *authServer {
	a := &authServer{store: store, defaultMethod: mysql.MysqlNativePassword}
	a.methods = []mysql.AuthMethod{
		mysql.NewMysqlNativeAuthMethod(a, a),
		&sha2Method{a},
	}
	return a
}

// AuthMethods implements mysql.AuthServer.
func (a *authServer) AuthMethods() []mysql.AuthMethod { return a.methods }

// DefaultAuthMethodDescription implements mysql.AuthServer: the plugin the
// handshake offers (Config.DefaultAuth); a client that answers with the
// other one is served with it.
func (a *authServer) DefaultAuthMethodDescription() mysql.AuthMethodDescription {
	return a.defaultMethod
}

// HandleUser implements mysql.UserValidator: every name may try (an
// unknown one fails with the same "Access denied" as a wrong password).
func (a *authServer) HandleUser(user string) bool { return true }

// userData is what vitess keeps of a logged-in user.
type userData struct{ name string }

func (u userData) Get() *querypb.VTGateCallerID { return &querypb.VTGateCallerID{Username: u.name} }

func denied(user string) error {
	return sqlerror.NewSQLErrorf(sqlerror.ERAccessDeniedError, sqlerror.SSAccessDeniedError,
		"Access denied for user '%v'", user)
}

// account finds the catalog account for user connecting from addr.
func (a *authServer) account(user string, addr net.Addr) (*catalog.User, error) {
	users, err := accounts(a.store)
	if err != nil {
		return nil, err
	}
	return matchAccount(users, user, addr), nil
}

// accounts reads the catalog's accounts.
func accounts(store kv.Store) ([]catalog.User, error) {
	tx, err := store.Begin(context.Background(), kv.TxnOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return catalog.Users(tx)
}

// matchAccount picks the account of users that matches name from addr,
// the most specific host first (literal hosts before patterns, '%' last).
func matchAccount(users []catalog.User, name string, addr net.Addr) *catalog.User {
	var cands []catalog.User
	for _, u := range users {
		if u.Name == name && hostMatches(u.Host, addr) {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return hostRank(cands[i].Host) < hostRank(cands[j].Host) })
	return &cands[0]
}

func hostRank(h string) int {
	switch {
	case h == "%" || h == "":
		return 2
	case strings.ContainsAny(h, "%_"):
		return 1
	}
	return 0
}

// hostMatches reports whether an account's host admits addr.
func hostMatches(host string, addr net.Addr) bool {
	ip := addrIP(addr)
	switch {
	case host == "%" || host == "":
		return true
	case strings.EqualFold(host, "localhost"):
		return ip == nil || ip.IsLoopback() // nil: a Unix socket
	case ip == nil:
		return false
	}
	if h := net.ParseIP(host); h != nil {
		return h.Equal(ip)
	}
	return likeHost(strings.ToLower(host), ip.String())
}

// likeHost matches s against a LIKE pattern (% and _).
func likeHost(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if likeHost(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && likeHost(p[1:], s[1:])
	}
	return s != "" && s[0] == p[0] && likeHost(p[1:], s[1:])
}

func addrIP(addr net.Addr) net.IP {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP
	case nil:
		return nil
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(h)
}

// isLoopback reports whether addr is a loopback address (or a Unix
// socket).
func isLoopback(addr net.Addr) bool {
	if addr == nil || addr.Network() == "unix" {
		return true
	}
	ip := addrIP(addr)
	return ip != nil && ip.IsLoopback()
}

// noPassword says whether an account without a password may log in from
// addr with an empty reply.
func noPassword(u *catalog.User, reply []byte, addr net.Addr) bool {
	return u.AuthString == "" && u.CachingSha2 == "" && len(reply) == 0 && isLoopback(addr)
}

// UserEntryWithHash implements mysql.HashStorage (mysql_native_password).
func (a *authServer) UserEntryWithHash(_ *mysql.Conn, salt []byte, user string, reply []byte, addr net.Addr) (mysql.Getter, error) {
	u, err := a.account(user, addr)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, denied(user)
	}
	if noPassword(u, reply, addr) {
		return userData{user}, nil
	}
	if u.AuthString == "" || len(reply) == 0 {
		return nil, denied(user)
	}
	hash, err := mysql.DecodePasswordHex(u.AuthString)
	if err != nil || !mysql.VerifyHashedMysqlNativePassword(reply, salt, hash) {
		return nil, denied(user)
	}
	return userData{user}, nil
}

// UserEntryWithCacheHash implements mysql.CachingStorage
// (caching_sha2_password's fast path). An account that has only a
// mysql_native_password hash needs the full path.
func (a *authServer) UserEntryWithCacheHash(_ *mysql.Conn, salt []byte, user string, reply []byte, addr net.Addr) (mysql.Getter, mysql.CacheState, error) {
	u, err := a.account(user, addr)
	if err != nil {
		return nil, mysql.AuthRejected, err
	}
	if u == nil {
		return nil, mysql.AuthRejected, denied(user)
	}
	if noPassword(u, reply, addr) {
		return userData{user}, mysql.AuthAccepted, nil
	}
	if len(reply) == 0 {
		return nil, mysql.AuthRejected, denied(user)
	}
	if u.CachingSha2 == "" {
		return nil, mysql.AuthNeedMoreData, nil
	}
	hash, err := hex.DecodeString(u.CachingSha2)
	if err != nil || !mysql.VerifyHashedCachingSha2Password(reply, salt, hash) {
		return nil, mysql.AuthRejected, denied(user)
	}
	return userData{user}, mysql.AuthAccepted, nil
}

// sha2Method is caching_sha2_password over any connection: the fast path
// only (the client's scramble checked against the stored
// SHA256(SHA256(pw))); an account with no such hash is refused.
type sha2Method struct{ a *authServer }

func (m *sha2Method) Name() mysql.AuthMethodDescription   { return mysql.CachingSha2Password }
func (m *sha2Method) HandleUser(*mysql.Conn, string) bool { return true }
func (m *sha2Method) AllowClearTextWithoutTLS() bool      { return true }

// AuthPluginData is a new scramble for an auth switch: 20 bytes of valid
// UTF-8 without NUL or '$', and a NUL.
func (m *sha2Method) AuthPluginData() ([]byte, error) {
	salt := make([]byte, 21)
	if _, err := rand.Read(salt[:20]); err != nil {
		return nil, err
	}
	for i := range 20 {
		salt[i] &= 0x7f
		if salt[i] == 0 || salt[i] == '$' {
			salt[i]++
		}
	}
	salt[20] = 0
	return salt, nil
}

// HandleAuthPluginData checks the client's scramble; on success it sends
// the fast-auth marker that precedes the OK packet.
func (m *sha2Method) HandleAuthPluginData(c *mysql.Conn, user string, serverData, clientData []byte, addr net.Addr) (mysql.Getter, error) {
	if len(serverData) == 0 || serverData[len(serverData)-1] != 0 {
		return nil, denied(user)
	}
	g, state, err := m.a.UserEntryWithCacheHash(c, serverData[:len(serverData)-1], user, clientData, addr)
	if err != nil {
		return nil, err
	}
	if state != mysql.AuthAccepted {
		return nil, denied(user)
	}
	// WritePacket wants room for the packet header before the payload.
	if err := c.WritePacket([]byte{0, 0, 0, 0, mysql.AuthMoreDataPacket, mysql.CachingSha2FastAuth}); err != nil {
		return nil, err
	}
	return g, nil
}

// UserEntryWithPassword implements mysql.PlainTextStorage
// (caching_sha2_password's full path, over TLS or a Unix socket).
func (a *authServer) UserEntryWithPassword(_ *mysql.Conn, user, password string, addr net.Addr) (mysql.Getter, error) {
	u, err := a.account(user, addr)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, denied(user)
	}
	if password == "" && noPassword(u, nil, addr) {
		return userData{user}, nil
	}
	ok := false
	switch {
	case password == "":
	case u.CachingSha2 != "":
		ok = subtle.ConstantTimeCompare([]byte(session.CachingSha2Hash(password)), []byte(u.CachingSha2)) == 1
	case u.AuthString != "":
		ok = subtle.ConstantTimeCompare([]byte(session.NativePasswordHash(password)), []byte(u.AuthString)) == 1
	}
	if !ok {
		return nil, denied(user)
	}
	return userData{user}, nil
}
