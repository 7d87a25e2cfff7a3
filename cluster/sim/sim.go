package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// SeedEnv is the environment variable that fixes the seed of a simulated
// run (tests print the seed they use; set it to replay one).
const SeedEnv = "STRATA_SIM_SEED"

// Seed returns the seed in SeedEnv, or a random one.
func Seed() uint64 {
	if v := os.Getenv(SeedEnv); v != "" {
		if s, err := strconv.ParseUint(v, 10, 64); err == nil {
			return s
		}
	}
	return rand.Uint64()
}

// Faults are what the network does to messages, each decided by the seeded
// random source when a message is sent.
type Faults struct {
	// Drop is the probability that a message is lost.
	Drop float64
	// Duplicate is the probability that a message is delivered twice.
	Duplicate float64
	// MaxDelay delays each delivery by a random duration in [0, MaxDelay],
	// which also reorders messages.
	MaxDelay time.Duration
}

// Receiver is what a node is on the network: raftstore.Store.
type Receiver interface {
	Step(*clusterpb.RaftMessage) error
}

// SnapshotPeer is what a node must also be for region snapshots to travel
// (raftstore.Store): a snapshot message's files are read with the sender's
// OpenSnapshot and handed to the receiver's ReceiveSnapshot, as the gRPC
// transport does, and the outcome goes back to the sender's ReportSnapshot.
type SnapshotPeer interface {
	OpenSnapshot(msg *clusterpb.RaftMessage) (io.ReadCloser, error)
	ReceiveSnapshot(ctx context.Context, msg *clusterpb.RaftMessage, data io.Reader) error
	ReportSnapshot(regionID, peerID uint64, status raft.SnapshotStatus)
}

// SnapshotFilter, if set on a Network, sees the bytes of every snapshot
// on their way from node from to node to, and may change them (tests
// corrupt snapshots with it).
type SnapshotFilter func(from, to uint64, data io.Reader) io.Reader

// Network is a simulated network between nodes of one process. Messages are
// copied through their wire encoding, so nodes share nothing. Decisions
// (drop, duplicate, delay) come from one random source seeded by the seed,
// in the order messages are sent; the order in which concurrent nodes send
// is up to the scheduler, so a seed replays the faults' pattern, not the
// exact interleaving.
type Network struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	nodes    map[uint64]Receiver
	senders  map[uint64]Receiver // every node attached once, for snapshot reports
	filter   SnapshotFilter
	snaps    sync.WaitGroup // snapshots being delivered
	ctx      context.Context
	cancel   context.CancelFunc
	group    map[uint64]int  // partition group of a node; nodes talk only within a group
	dead     map[uint64]bool // killed nodes: nothing leaves or reaches them until Attach
	q        deliveries
	seq      uint64
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	sent     uint64
	dropped  uint64
	closeOne sync.Once
}

// NewNetwork starts a network whose faults are drawn from seed.
func NewNetwork(seed uint64, f Faults) *Network {
	n := &Network{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		faults:  f,
		nodes:   map[uint64]Receiver{},
		senders: map[uint64]Receiver{},
		group:   map[uint64]int{},
		dead:    map[uint64]bool{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return n
}

// SetSnapshotFilter sets (nil: removes) the filter snapshots go through.
func (n *Network) SetSnapshotFilter(f SnapshotFilter) {
	n.mu.Lock()
	n.filter = f
	n.mu.Unlock()
}

// SetFaults changes the faults from now on.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	n.faults = f
	n.mu.Unlock()
}

// Attach connects node (messages to it are delivered to r).
func (n *Network) Attach(node uint64, r Receiver) {
	n.mu.Lock()
	n.nodes[node] = r
	n.senders[node] = r
	delete(n.dead, node)
	n.mu.Unlock()
}

// Kill cuts node off at once, both ways, as a power cut would: what it
// sends from now on is lost, and so is what is sent to it, until Attach.
func (n *Network) Kill(node uint64) {
	n.mu.Lock()
	n.dead[node] = true
	delete(n.nodes, node)
	n.mu.Unlock()
}

// Detach disconnects node: messages to it are lost, as to a dead process.
func (n *Network) Detach(node uint64) {
	n.mu.Lock()
	delete(n.nodes, node)
	n.mu.Unlock()
}

// Partition splits the nodes into groups that cannot talk to each other
// (messages in flight between groups are lost too); nodes not named stay
// together in one more group.
func (n *Network) Partition(groups ...[]uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.group)
	for i, g := range groups {
		for _, id := range g {
			n.group[id] = i + 1
		}
	}
}

// Heal removes every partition.
func (n *Network) Heal() { n.Partition() }

// Stats returns how many messages were sent and dropped (by faults,
// partitions or detached nodes).
func (n *Network) Stats() (sent, dropped uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent, n.dropped
}

// Close stops delivering.
func (n *Network) Close() {
	n.closeOne.Do(func() { close(n.stop) })
	<-n.done
	n.cancel()
	n.snaps.Wait()
}

// Endpoint is the raftstore.Transport of node.
func (n *Network) Endpoint(node uint64) raftstore.Transport { return endpoint{n, node} }

type endpoint struct {
	n    *Network
	node uint64
}

// Send implements raftstore.Transport: it never blocks.
func (e endpoint) Send(msgs []*clusterpb.RaftMessage) {
	n := e.n
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range msgs {
		n.sent++
		data, err := proto.Marshal(m)
		if err != nil {
			n.dropped++
			continue
		}
		to := m.GetToPeer().GetNodeId()
		if n.dead[e.node] || n.group[e.node] != n.group[to] || n.rng.Float64() < n.faults.Drop {
			n.dropped++
			if m.GetMessage().GetType() == pb.MessageType_MsgSnap {
				n.reportSnapshot(e.node, m, raft.SnapshotFailure)
			}
			continue
		}
		copies := 1
		snap := m.GetMessage().GetType() == pb.MessageType_MsgSnap
		// A snapshot is not duplicated: it is reported once.
		if n.rng.Float64() < n.faults.Duplicate && !snap {
			copies = 2
		}
		for range copies {
			var d time.Duration
			if n.faults.MaxDelay > 0 {
				d = time.Duration(n.rng.Int64N(int64(n.faults.MaxDelay) + 1))
			}
			n.seq++
			heap.Push(&n.q, delivery{at: now.Add(d), seq: n.seq, from: e.node, to: to, data: data, snap: snap})
		}
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run delivers messages when they are due.
func (n *Network) run() {
	defer close(n.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.mu.Lock()
		now := time.Now()
		var due []delivery
		for n.q.Len() > 0 && !n.q[0].at.After(now) {
			due = append(due, heap.Pop(&n.q).(delivery))
		}
		wait := time.Hour
		if n.q.Len() > 0 {
			wait = n.q[0].at.Sub(now)
		}
		type target struct {
			r Receiver
			d delivery
		}
		var ts []target
		for _, d := range due {
			r := n.nodes[d.to]
			if r == nil || n.group[d.from] != n.group[d.to] {
				n.dropped++
				if d.snap {
					n.reportSnapshot(d.from, decode(d.data), raft.SnapshotFailure)
				}
				continue
			}
			ts = append(ts, target{r, d})
		}
		n.mu.Unlock()
		for _, t := range ts {
			m := decode(t.d.data)
			if t.d.snap {
				n.snaps.Add(1)
				go n.deliverSnapshot(t.d.from, t.r, m)
				continue
			}
			_ = t.r.Step(m)
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-n.stop:
			return
		case <-n.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

type delivery struct {
	at       time.Time
	seq      uint64
	from, to uint64
	data     []byte
	snap     bool // a MsgSnap: its files go with it (deliverSnapshot)
}

// decode decodes a message the network encoded.
func decode(data []byte) *clusterpb.RaftMessage {
	m := &clusterpb.RaftMessage{}
	if err := proto.Unmarshal(data, m); err != nil {
		panic(fmt.Sprintf("sim: decoding a message it encoded: %v", err))
	}
	return m
}

// reportSnapshot tells node from how sending the snapshot m ended. Called
// with n.mu held; it does not block (ReportSnapshot does not).
func (n *Network) reportSnapshot(from uint64, m *clusterpb.RaftMessage, st raft.SnapshotStatus) {
	if sp, ok := n.senders[from].(SnapshotPeer); ok {
		sp.ReportSnapshot(m.GetRegionId(), m.GetToPeer().GetId(), st)
	}
}

// deliverSnapshot streams the snapshot m from node from to r and reports
// the outcome to the sender, as the gRPC transport does.
func (n *Network) deliverSnapshot(from uint64, r Receiver, m *clusterpb.RaftMessage) {
	defer n.snaps.Done()
	n.mu.Lock()
	src, _ := n.senders[from].(SnapshotPeer)
	filter := n.filter
	n.mu.Unlock()
	dst, _ := r.(SnapshotPeer)
	err := func() error {
		if src == nil || dst == nil {
			return errors.New("sim: a node cannot send or receive snapshots")
		}
		rc, err := src.OpenSnapshot(m)
		if err != nil {
			return err
		}
		defer rc.Close()
		var data io.Reader = rc
		if filter != nil {
			data = filter(from, m.GetToPeer().GetNodeId(), data)
		}
		return dst.ReceiveSnapshot(n.ctx, m, data)
	}()
	st := raft.SnapshotFinish
	if err != nil {
		st = raft.SnapshotFailure
	}
	n.mu.Lock()
	n.reportSnapshot(from, m, st)
	n.mu.Unlock()
}

type deliveries []delivery

func (q deliveries) Len() int { return len(q) }
func (q deliveries) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q deliveries) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *deliveries) Push(x any)   { *q = append(*q, x.(delivery)) }
func (q *deliveries) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}
