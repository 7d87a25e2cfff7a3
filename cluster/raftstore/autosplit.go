package raftstore

import (
	"bytes"
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// maybeSplit starts a size check of a leader's region once the bytes
// written to it pass Config.SplitSize (loop goroutine).
func (p *peer) maybeSplit() {
	s := p.store
	if s.cfg.SplitSize == 0 || p.splitChecking || p.approxBytes < s.cfg.SplitSize {
		return
	}
	p.splitChecking = true
	r := proto.Clone(p.region()).(*clusterpb.Region)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.autoSplit(r)
	}()
}

// autoSplit measures region r outside the loop (reading the database, which
// is safe concurrently) and, if it holds SplitSize bytes or more, splits it
// at the key that halves it, through Split like any other split.
func (s *Store) autoSplit(r *clusterpb.Region) {
	total, mid := s.measure(r)
	var split bool
	if total >= s.cfg.SplitSize && mid != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.TickInterval*time.Duration(s.cfg.ElectionTicks))
		_, _, err := s.Split(ctx, r.GetId(), r.GetEpoch(), mid)
		cancel()
		split = err == nil
		if split {
			s.stats.autoSplits.Add(1)
		} else {
			s.cfg.Logger.Info("raftstore: automatic split", "region", r.GetId(), "err", err)
		}
	}
	_ = s.submit(func() {
		if p := s.peers[r.GetId()]; p != nil {
			p.splitChecking = false
			if !split {
				p.approxBytes = total // measured: count on from there
			}
		}
	})
}

// measure returns the bytes of keys and values in r and the first key at
// which the running total reaches half of it (nil if that is r's first key
// or r holds fewer than two keys).
func (s *Store) measure(r *clusterpb.Region) (total uint64, mid []byte) {
	bounds := &strata.IterOptions{LowerBound: dataKey(r.GetStartKey()), UpperBound: dataEnd(r.GetEndKey())}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	bounds.Snapshot = snap
	it := s.db.NewIterator(bounds)
	for ok := it.First(); ok; ok = it.Next() {
		total += uint64(len(it.Key()) - 1 + len(it.Value()))
	}
	it.Close()
	it = s.db.NewIterator(bounds)
	defer it.Close()
	var sum uint64
	first := true
	for ok := it.First(); ok; ok = it.Next() {
		sum += uint64(len(it.Key()) - 1 + len(it.Value()))
		if sum >= total/2 && !first {
			k := userKey(it.Key())
			if bytes.Compare(k, r.GetStartKey()) > 0 {
				return total, bytes.Clone(k)
			}
		}
		first = false
	}
	return total, nil
}
