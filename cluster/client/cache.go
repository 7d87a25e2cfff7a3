package client

import (
	"bytes"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/cluster/clusterpb"
	"google.golang.org/protobuf/proto"
)

// regionInfo is what the client knows of one region: its descriptor and the
// peer it believes leads it (nil: unknown, try the peers in turn).
type regionInfo struct {
	region *clusterpb.Region
	leader atomic.Pointer[clusterpb.Peer] // read and written by concurrent requests
}

// contains reports whether key is in the region's range [start, end).
func (r *regionInfo) contains(key []byte) bool {
	return bytes.Compare(key, r.region.GetStartKey()) >= 0 &&
		(len(r.region.GetEndKey()) == 0 || bytes.Compare(key, r.region.GetEndKey()) < 0)
}

// containsPrev reports whether the region holds the keys just below key: its
// start is below key and its end is at or after key (for reverse scans).
func (r *regionInfo) containsPrev(key []byte) bool {
	if len(key) == 0 { // the end of the key space
		return len(r.region.GetEndKey()) == 0
	}
	return bytes.Compare(r.region.GetStartKey(), key) < 0 &&
		(len(r.region.GetEndKey()) == 0 || bytes.Compare(key, r.region.GetEndKey()) <= 0)
}

// regionCache holds non-overlapping regions sorted by start key. It may be
// stale: a request routed with a stale entry is refused by the server
// (EpochNotMatch, KeyNotInRegion, NotLeader), which corrects the entry.
type regionCache struct {
	mu      sync.Mutex
	regions []*regionInfo // sorted by start key, ranges disjoint
}

// find returns the cached region holding key, or nil.
func (c *regionCache) find(key []byte) *regionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.regions), func(i int) bool {
		return bytes.Compare(c.regions[i].region.GetStartKey(), key) > 0
	}) - 1
	if i >= 0 && c.regions[i].contains(key) {
		return c.regions[i]
	}
	return nil
}

// findPrev returns the cached region holding the keys just below key (the
// last region if key is empty), or nil.
func (c *regionCache) findPrev(key []byte) *regionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.regions) - 1
	if len(key) > 0 { // the last region starting below key
		i = sort.Search(len(c.regions), func(i int) bool {
			return bytes.Compare(c.regions[i].region.GetStartKey(), key) >= 0
		}) - 1
	}
	if i >= 0 && c.regions[i].containsPrev(key) {
		return c.regions[i]
	}
	return nil
}

// insert adds r, dropping every cached region that overlaps it unless that
// region's epoch is newer (an older answer must not replace a newer one).
func (c *regionCache) insert(r *clusterpb.Region, leader *clusterpb.Peer) *regionInfo {
	info := &regionInfo{region: proto.Clone(r).(*clusterpb.Region)}
	info.leader.Store(leader)
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.regions[:0:0]
	for _, old := range c.regions {
		if !overlaps(old.region, r) {
			kept = append(kept, old)
			continue
		}
		if old.region.GetId() == r.GetId() && newerEpoch(old.region.GetEpoch(), r.GetEpoch()) {
			return old // the cache already has something newer of this region
		}
	}
	kept = append(kept, info)
	sort.Slice(kept, func(i, j int) bool {
		return bytes.Compare(kept[i].region.GetStartKey(), kept[j].region.GetStartKey()) < 0
	})
	c.regions = kept
	return info
}

// invalidate drops region id from the cache.
func (c *regionCache) invalidate(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.regions {
		if r.region.GetId() == id {
			c.regions = append(c.regions[:i:i], c.regions[i+1:]...)
			return
		}
	}
}

// setLeader records the leader of region id, if the cache holds it.
func (c *regionCache) setLeader(id uint64, leader *clusterpb.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.regions {
		if r.region.GetId() == id {
			r.leader.Store(leader)
			return
		}
	}
}

// all returns a copy of the cached entries (for tests and status output).
func (c *regionCache) all() []*regionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*regionInfo(nil), c.regions...)
}

// overlaps reports whether two regions' ranges intersect.
func overlaps(a, b *clusterpb.Region) bool {
	aEndsAfterBStart := len(a.GetEndKey()) == 0 || bytes.Compare(b.GetStartKey(), a.GetEndKey()) < 0
	bEndsAfterAStart := len(b.GetEndKey()) == 0 || bytes.Compare(a.GetStartKey(), b.GetEndKey()) < 0
	return aEndsAfterBStart && bEndsAfterAStart
}

// newerEpoch reports whether epoch a is strictly newer than b in either
// component and not older in the other.
func newerEpoch(a, b *clusterpb.RegionEpoch) bool {
	if a.GetVersion() < b.GetVersion() || a.GetConfVer() < b.GetConfVer() {
		return false
	}
	return a.GetVersion() > b.GetVersion() || a.GetConfVer() > b.GetConfVer()
}
