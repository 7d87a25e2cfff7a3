// Package pd is the cluster's placement driver: the region map, the node
// registry, id allocation, and the scheduler that keeps three replicas of
// every region on distinct live nodes and balances leaders and replicas.
//
// The placement driver has no storage or consensus of its own. Its state is
// ordinary data in the cluster's system key space (FoundationDB's convention:
// keys from 0xFF up are the system's, users' keys sort below), held by the
// meta region, a Raft group like any other, bootstrapped on the first nodes.
// So it is replicated and survives the loss of a minority of those nodes
// like user data does, and the node that leads the meta region runs the
// scheduler. Region leaders report their descriptors after every split and
// membership change and periodically; the map keeps, per key range, the
// descriptor with the newest epoch. A client routed by a stale entry is
// refused by the region (EpochNotMatch) and corrected, so the map may lag.
package pd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"google.golang.org/protobuf/proto"
)

// The system key space's layout (all values protocol buffers per
// cluster.proto unless said otherwise):
//
//	0xFF 0x01 'r' <region start key>       → Region
//	0xFF 0x01 'n' <node id: 8 bytes, big-endian> → Node
//	0xFF 0x01 'i'                          → next unallocated id: 8 bytes, big-endian
//	0xFF 0x01 'h' <node id: 8 bytes>       → the node's heartbeat counter: 8 bytes, big-endian
//	0xFF 0x01 'l' <region id: 8 bytes>     → RegionHeartbeat (leader, lagging and silent peers)
//
// The region entries are ordered by start key, so the region holding k is
// the last entry at or below 0xFF 0x01 'r' k.
var (
	// SystemStart is the first key of the system key space; user keys are
	// below it.
	SystemStart  = []byte{0xff}
	regionPrefix = []byte{0xff, 0x01, 'r'}
	nodePrefix   = []byte{0xff, 0x01, 'n'}
	idKey        = []byte{0xff, 0x01, 'i'}
	beatPrefix   = []byte{0xff, 0x01, 'h'}
	leadPrefix   = []byte{0xff, 0x01, 'l'}
)

// RegionKey is the system key of the region whose start key is start.
func RegionKey(start []byte) []byte { return append(bytes.Clone(regionPrefix), start...) }

// NodeKey is the system key of node id.
func NodeKey(id uint64) []byte { return binary.BigEndian.AppendUint64(bytes.Clone(nodePrefix), id) }

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	end[len(end)-1]++
	return end
}

// KV is the key-value access the placement driver needs: the cluster's client
// satisfies it, and so does a node's view of the meta region.
type KV interface {
	Get(ctx context.Context, key []byte) ([]byte, error)
	Scan(ctx context.Context, start, end []byte, o client.ScanOptions) ([]client.KV, error)
	Write(ctx context.Context, b *client.Batch) (client.WriteResult, error)
}

// Meta reads and writes the placement driver's state in the system key space.
type Meta struct {
	kv KV
}

// NewMeta returns a Meta over kv.
func NewMeta(kv KV) *Meta { return &Meta{kv: kv} }

// ErrRegionUnknown means no region the map knows holds the key (the map has
// not yet heard of a split's right side, for example): retry later.
var ErrRegionUnknown = errors.New("pd: no region known for the key")

// GetRegion returns the region holding key, or with prev the region holding
// the keys just below key (the last region if key is empty).
func (m *Meta) GetRegion(ctx context.Context, key []byte, prev bool) (*clusterpb.Region, error) {
	end := append(RegionKey(key), 0) // entries with start ≤ key
	if prev {
		end = RegionKey(key) // entries with start < key
		if len(key) == 0 {
			end = prefixEnd(regionPrefix)
		}
	}
	kvs, err := m.kv.Scan(ctx, regionPrefix, end, client.ScanOptions{Limit: 1, Reverse: true})
	if err != nil {
		return nil, fmt.Errorf("pd: reading the region map at %q: %w", key, err)
	}
	if len(kvs) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrRegionUnknown, key)
	}
	r, err := decodeRegion(kvs[0])
	if err != nil {
		return nil, err
	}
	in := bytes.Compare(key, r.GetStartKey()) >= 0 && (len(r.GetEndKey()) == 0 || bytes.Compare(key, r.GetEndKey()) < 0)
	if prev {
		in = len(r.GetEndKey()) == 0 || (len(key) > 0 && bytes.Compare(key, r.GetEndKey()) <= 0)
	}
	if !in {
		return nil, fmt.Errorf("%w: %q (the nearest region, %d, is [%q, %q))", ErrRegionUnknown, key, r.GetId(), r.GetStartKey(), r.GetEndKey())
	}
	return r, nil
}

// ScanRegions returns the regions overlapping [start, end) (end empty: to the
// end of the user key space), at most limit (0: all).
func (m *Meta) ScanRegions(ctx context.Context, start, end []byte, limit int) ([]*clusterpb.Region, error) {
	var out []*clusterpb.Region
	first, err := m.GetRegion(ctx, start, false)
	if err == nil {
		out = append(out, first)
		start = first.GetEndKey()
		if len(start) == 0 {
			return out, nil
		}
	} else if !errors.Is(err, ErrRegionUnknown) {
		return nil, err
	}
	stop := prefixEnd(regionPrefix)
	if len(end) > 0 {
		stop = RegionKey(end)
	}
	kvs, err := m.kv.Scan(ctx, RegionKey(start), stop, client.ScanOptions{Limit: max(0, limit-len(out))})
	if err != nil {
		return nil, fmt.Errorf("pd: scanning the region map: %w", err)
	}
	for _, kv := range kvs {
		r, err := decodeRegion(kv)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func decodeRegion(kv client.KV) (*clusterpb.Region, error) {
	r := &clusterpb.Region{}
	if err := proto.Unmarshal(kv.Value, r); err != nil {
		return nil, fmt.Errorf("pd: region entry %q is corrupt: %w", kv.Key, err)
	}
	if !bytes.Equal(RegionKey(r.GetStartKey()), kv.Key) {
		return nil, fmt.Errorf("pd: region entry %q holds region %d starting at %q", kv.Key, r.GetId(), r.GetStartKey())
	}
	return r, nil
}

// newer reports whether a is a newer descriptor than b of the same key range:
// a later split (version) or membership change (conf_ver) of it.
func newer(a, b *clusterpb.Region) bool {
	ae, be := a.GetEpoch(), b.GetEpoch()
	if ae.GetVersion() != be.GetVersion() {
		return ae.GetVersion() > be.GetVersion()
	}
	return a.GetId() == b.GetId() && ae.GetConfVer() > be.GetConfVer()
}

// PutRegions records descriptors reported by region leaders (both sides of a
// split together, atomically). A descriptor replaces the entries it overlaps
// if it is newer than each of them, and is ignored otherwise (a late report
// never undoes a newer one). It reports how many descriptors it stored.
func (m *Meta) PutRegions(ctx context.Context, regions ...*clusterpb.Region) (int, error) {
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			return 0, errors.New("pd: recording regions: too many concurrent updates")
		}
		b := &client.Batch{}
		stored := 0
		for _, r := range regions {
			stop := prefixEnd(regionPrefix)
			if len(r.GetEndKey()) > 0 {
				stop = RegionKey(r.GetEndKey())
			}
			// Entries starting inside r, and the one before that may overlap.
			kvs, err := m.kv.Scan(ctx, regionPrefix, RegionKey(r.GetStartKey()), client.ScanOptions{Limit: 1, Reverse: true})
			if err != nil {
				return 0, err
			}
			inside, err := m.kv.Scan(ctx, RegionKey(r.GetStartKey()), stop, client.ScanOptions{})
			if err != nil {
				return 0, err
			}
			kvs = append(kvs, inside...)
			stale := true
			var replace []client.KV
			for _, kv := range kvs {
				old, err := decodeRegion(kv)
				if err != nil {
					return 0, err
				}
				if !overlapping(old, r) {
					continue
				}
				if !newer(r, old) {
					stale = false
					break
				}
				replace = append(replace, kv)
			}
			if !stale {
				continue
			}
			v, err := proto.Marshal(r)
			if err != nil {
				return 0, err
			}
			own := RegionKey(r.GetStartKey())
			wroteOwn := false
			for _, kv := range replace {
				b.Require(kv.Key, kv.Value)
				if bytes.Equal(kv.Key, own) {
					wroteOwn = true
				} else {
					b.Delete(kv.Key)
				}
			}
			if !wroteOwn {
				b.RequireAbsent(own)
			}
			b.Put(own, v)
			stored++
		}
		if stored == 0 {
			return 0, nil
		}
		res, err := m.kv.Write(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("pd: recording regions: %w", err)
		}
		if res.Succeeded {
			return stored, nil
		}
	}
}

func overlapping(a, b *clusterpb.Region) bool {
	return (len(a.GetEndKey()) == 0 || bytes.Compare(b.GetStartKey(), a.GetEndKey()) < 0) &&
		(len(b.GetEndKey()) == 0 || bytes.Compare(a.GetStartKey(), b.GetEndKey()) < 0)
}

// PutNode records a node (its address and state).
func (m *Meta) PutNode(ctx context.Context, n *clusterpb.Node) error {
	v, err := proto.Marshal(n)
	if err != nil {
		return err
	}
	b := &client.Batch{}
	b.Put(NodeKey(n.GetId()), v)
	if _, err := m.kv.Write(ctx, b); err != nil {
		return fmt.Errorf("pd: recording node %d: %w", n.GetId(), err)
	}
	return nil
}

// Nodes returns every recorded node.
func (m *Meta) Nodes(ctx context.Context) ([]*clusterpb.Node, error) {
	kvs, err := m.kv.Scan(ctx, nodePrefix, prefixEnd(nodePrefix), client.ScanOptions{})
	if err != nil {
		return nil, fmt.Errorf("pd: reading nodes: %w", err)
	}
	out := make([]*clusterpb.Node, 0, len(kvs))
	for _, kv := range kvs {
		n := &clusterpb.Node{}
		if err := proto.Unmarshal(kv.Value, n); err != nil {
			return nil, fmt.Errorf("pd: node entry %q is corrupt: %w", kv.Key, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// AllocIDs reserves n consecutive ids (for regions and peers; never reused)
// and returns the first.
func (m *Meta) AllocIDs(ctx context.Context, n uint64) (uint64, error) {
	for attempt := 0; attempt < 100; attempt++ {
		cur, err := m.kv.Get(ctx, idKey)
		next := uint64(1)
		b := &client.Batch{}
		switch {
		case errors.Is(err, client.ErrNotFound):
			b.RequireAbsent(idKey)
		case err != nil:
			return 0, fmt.Errorf("pd: allocating ids: %w", err)
		case len(cur) != 8:
			return 0, fmt.Errorf("pd: the id counter %q holds %d bytes, want 8", idKey, len(cur))
		default:
			next = binary.BigEndian.Uint64(cur)
			b.Require(idKey, cur)
		}
		b.Put(idKey, binary.BigEndian.AppendUint64(nil, next+n))
		res, err := m.kv.Write(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("pd: allocating ids: %w", err)
		}
		if res.Succeeded {
			return next, nil
		}
	}
	return 0, errors.New("pd: allocating ids: too many concurrent allocations")
}

// SetIDFloor makes every later allocation return ids at or above floor (at
// bootstrap, above the ids the first regions and peers were given).
func (m *Meta) SetIDFloor(ctx context.Context, floor uint64) error {
	for attempt := 0; attempt < 100; attempt++ {
		cur, err := m.kv.Get(ctx, idKey)
		b := &client.Batch{}
		switch {
		case errors.Is(err, client.ErrNotFound):
			b.RequireAbsent(idKey)
		case err != nil:
			return err
		default:
			if len(cur) == 8 && binary.BigEndian.Uint64(cur) >= floor {
				return nil
			}
			b.Require(idKey, cur)
		}
		b.Put(idKey, binary.BigEndian.AppendUint64(nil, floor))
		res, err := m.kv.Write(ctx, b)
		if err != nil {
			return err
		}
		if res.Succeeded {
			return nil
		}
	}
	return errors.New("pd: setting the id floor: too many concurrent allocations")
}

// Heartbeat records that node id is alive: its counter, which the node
// bumps every heartbeat. The scheduler compares counters between rounds on
// its own clock, so nodes' clocks never matter.
func (m *Meta) Heartbeat(ctx context.Context, id, counter uint64) error {
	b := &client.Batch{}
	b.Put(binary.BigEndian.AppendUint64(bytes.Clone(beatPrefix), id), binary.BigEndian.AppendUint64(nil, counter))
	if _, err := m.kv.Write(ctx, b); err != nil {
		return fmt.Errorf("pd: heartbeat of node %d: %w", id, err)
	}
	return nil
}

// Heartbeats returns every node's heartbeat counter.
func (m *Meta) Heartbeats(ctx context.Context) (map[uint64]uint64, error) {
	kvs, err := m.kv.Scan(ctx, beatPrefix, prefixEnd(beatPrefix), client.ScanOptions{})
	if err != nil {
		return nil, fmt.Errorf("pd: reading heartbeats: %w", err)
	}
	out := map[uint64]uint64{}
	for _, kv := range kvs {
		if len(kv.Key) != len(beatPrefix)+8 || len(kv.Value) != 8 {
			return nil, fmt.Errorf("pd: heartbeat entry %q is corrupt", kv.Key)
		}
		out[binary.BigEndian.Uint64(kv.Key[len(beatPrefix):])] = binary.BigEndian.Uint64(kv.Value)
	}
	return out, nil
}

// PutRegionHeartbeat records who leads a region, which of its peers lag and
// which its leader has not heard from.
func (m *Meta) PutRegionHeartbeat(ctx context.Context, hb *clusterpb.RegionHeartbeat) error {
	v, err := proto.Marshal(hb)
	if err != nil {
		return err
	}
	b := &client.Batch{}
	b.Put(binary.BigEndian.AppendUint64(bytes.Clone(leadPrefix), hb.GetRegionId()), v)
	if _, err := m.kv.Write(ctx, b); err != nil {
		return fmt.Errorf("pd: heartbeat of region %d: %w", hb.GetRegionId(), err)
	}
	return nil
}

// RegionHeartbeats returns the last heartbeat of every region, by id.
func (m *Meta) RegionHeartbeats(ctx context.Context) (map[uint64]*clusterpb.RegionHeartbeat, error) {
	kvs, err := m.kv.Scan(ctx, leadPrefix, prefixEnd(leadPrefix), client.ScanOptions{})
	if err != nil {
		return nil, fmt.Errorf("pd: reading region heartbeats: %w", err)
	}
	out := map[uint64]*clusterpb.RegionHeartbeat{}
	for _, kv := range kvs {
		hb := &clusterpb.RegionHeartbeat{}
		if err := proto.Unmarshal(kv.Value, hb); err != nil {
			return nil, fmt.Errorf("pd: region heartbeat %q is corrupt: %w", kv.Key, err)
		}
		out[hb.GetRegionId()] = hb
	}
	return out, nil
}
