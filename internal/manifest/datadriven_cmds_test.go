package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// lsmState is the state a golden file's commands share.
type lsmState struct {
	v        *Version
	opts     PickerOptions
	pointers [NumLevels][]byte
	last     *Compaction
	nextNum  uint64 // numbers of the output files "install" creates
}

// TestDataDriven runs the golden files testdata/version, testdata/picker,
// testdata/concurrent and testdata/dynamic. Commands:
//
//	define [trigger=N] [base=SIZE] [target=SIZE] [mult=N] [dynamic]  (input: LSM text)
//	apply                      (input: "add L num:size smallest largest" / "del L num")
//	check                      CheckConsistency
//	overlaps level=N [begin=U] [end=U]
//	overlap-in-level level=N [begin=U] [end=U]
//	find-file level=N key=IKEY
//	lookup key=IKEY            ForEachOverlapping
//	pick-level begin=U end=U [max=N]
//	seek file=N level=L [times=K]
//	sample key=IKEY [times=K]  RecordReadSample
//	scores
//	targets                    LevelTargets
//	pick [mark]
//	manual level=N [begin=U] [end=U] [mark]
//	release                    MarkCompacting(false) on the last compaction
//	pointers / set-pointer level=N key=IKEY
//	trivial
//	base-level U...            IsBaseLevelForKey on the last compaction
//	should-stop IKEY...        ShouldStopBefore on the last compaction
//	edit                       the installing edit of the last compaction
//	install                    run the last compaction: one output file
//	                           spanning its range (or a trivial move)
func TestDataDriven(t *testing.T) {
	for _, name := range []string{"version", "picker", "concurrent", "dynamic"} {
		t.Run(name, func(t *testing.T) {
			s := &lsmState{v: NewVersion(nil)}
			runDataDriven(t, "testdata/"+name, func(t *testing.T, d *ddCase) string {
				out, err := s.run(d)
				if err != nil {
					return "error: " + err.Error()
				}
				return out
			})
		})
	}
}

func (s *lsmState) run(d *ddCase) (string, error) {
	intArg := func(key string, def int) (int, error) {
		v, ok := d.arg(key)
		if !ok {
			return def, nil
		}
		return strconv.Atoi(v)
	}
	ukeyArg := func(key string) []byte {
		if v, ok := d.arg(key); ok {
			return []byte(v)
		}
		return nil
	}
	switch d.cmd {
	case "define":
		s.opts = PickerOptions{DynamicLevelBytes: d.has("dynamic")}
		for _, kv := range []struct {
			key string
			dst *uint64
		}{{"base", &s.opts.BaseLevelBytes}, {"target", &s.opts.TargetFileSize}} {
			if v, ok := d.arg(kv.key); ok {
				n, err := parseSize(v)
				if err != nil {
					return "", err
				}
				*kv.dst = n
			}
		}
		var err error
		if s.opts.L0CompactionTrigger, err = intArg("trigger", 0); err != nil {
			return "", err
		}
		if s.opts.LevelMultiplier, err = intArg("mult", 0); err != nil {
			return "", err
		}
		v, err := buildLSM(d.input)
		if err != nil {
			return "", err
		}
		s.v, s.pointers, s.last = v, [NumLevels][]byte{}, nil
		return v.String(), nil

	case "apply":
		edit := &VersionEdit{}
		for _, line := range strings.Split(d.input, "\n") {
			fields := strings.Fields(line)
			if len(fields) < 3 {
				return "", fmt.Errorf("bad edit line %q", line)
			}
			level, err := strconv.Atoi(fields[1])
			if err != nil {
				return "", err
			}
			switch fields[0] {
			case "add":
				fs, err := parseFile(strings.Join(fields[2:], " "))
				if err != nil {
					return "", err
				}
				edit.AddFile(level, fs.meta)
			case "del":
				num, err := strconv.ParseUint(fields[2], 10, 64)
				if err != nil {
					return "", err
				}
				edit.DeleteFile(level, num)
			default:
				return "", fmt.Errorf("bad edit line %q", line)
			}
		}
		b := NewBuilder(nil, s.v)
		if err := b.Apply(edit); err != nil {
			return "", err
		}
		v, err := b.Finish()
		if err != nil {
			return "", err
		}
		s.v = v
		return v.String(), nil

	case "check":
		if err := s.v.CheckConsistency(); err != nil {
			return "", err
		}
		return "ok", nil

	case "overlaps", "overlap-in-level":
		level, err := intArg("level", 0)
		if err != nil {
			return "", err
		}
		if d.cmd == "overlap-in-level" {
			return strconv.FormatBool(s.v.OverlapInLevel(level, ukeyArg("begin"), ukeyArg("end"))), nil
		}
		return fileNums(s.v.Overlaps(level, ukeyArg("begin"), ukeyArg("end"))), nil

	case "find-file":
		level, err := intArg("level", 1)
		if err != nil {
			return "", err
		}
		k, _ := d.arg("key")
		i := s.v.FindFile(level, ikey(k))
		if i < s.v.NumFiles(level) {
			return fmt.Sprintf("%d: %s", i, s.v.Levels[level][i]), nil
		}
		return fmt.Sprintf("%d: past the end", i), nil

	case "lookup":
		k, _ := d.arg("key")
		var sb strings.Builder
		s.v.ForEachOverlapping(ikey(k), func(level int, f *FileMetadata) bool {
			fmt.Fprintf(&sb, "L%d %06d\n", level, f.Num)
			return true
		})
		if sb.Len() == 0 {
			return "none", nil
		}
		return sb.String(), nil

	case "pick-level":
		maxLevel, err := intArg("max", 2)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(s.v.PickLevelForMemTableOutput(ukeyArg("begin"), ukeyArg("end"), maxLevel, s.opts)), nil

	case "seek", "sample":
		times, err := intArg("times", 1)
		if err != nil {
			return "", err
		}
		var results []string
		for range times {
			var r bool
			if d.cmd == "seek" {
				num, err := intArg("file", 0)
				if err != nil {
					return "", err
				}
				f, level := findFileByNum(s.v, uint64(num))
				if f == nil {
					return "", fmt.Errorf("no file %d", num)
				}
				r = s.v.UpdateStats(f, level)
			} else {
				k, _ := d.arg("key")
				r = s.v.RecordReadSample(ikey(k))
			}
			if r {
				results = append(results, "true")
			} else {
				results = append(results, "false")
			}
		}
		f, level := s.v.FileToCompact()
		cand := "none"
		if f != nil {
			cand = fmt.Sprintf("L%d %06d (allowed seeks %d)", level, f.Num, f.AllowedSeeks.Load())
		}
		return fmt.Sprintf("results: %s\nfile to compact: %s", compress(results), cand), nil

	case "scores":
		sc := s.v.ComputeScores(s.opts)
		var sb strings.Builder
		for level, score := range sc.Level {
			fmt.Fprintf(&sb, "L%d: %.3f\n", level, score)
		}
		fmt.Fprintf(&sb, "best: L%d %.3f", sc.BestLevel, sc.BestScore)
		return sb.String(), nil

	case "targets":
		t := s.v.LevelTargets(s.opts)
		var sb strings.Builder
		fmt.Fprintf(&sb, "base level: L%d\n", t.BaseLevel)
		for level := 1; level < NumLevels; level++ {
			if t.MaxBytes[level] == 0 {
				fmt.Fprintf(&sb, "L%d: %d bytes, no budget\n", level, t.Bytes[level])
				continue
			}
			fmt.Fprintf(&sb, "L%d: %d bytes, budget %.0f\n", level, t.Bytes[level], t.MaxBytes[level])
		}
		return sb.String(), nil

	case "pick", "manual":
		var c *Compaction
		busy := false
		if d.cmd == "pick" {
			c = PickCompaction(s.v, s.opts, &s.pointers)
		} else {
			level, err := intArg("level", 0)
			if err != nil {
				return "", err
			}
			var begin, end []byte
			if u := ukeyArg("begin"); u != nil {
				begin = base.MakeSearchKey(nil, u, base.MaxSeq)
			}
			if u := ukeyArg("end"); u != nil {
				end = base.AppendInternalKey(nil, u, 0, base.KindDelete)
			}
			c, busy = PickManual(s.v, s.opts, level, begin, end)
		}
		if c == nil {
			if busy {
				return "nil (busy)", nil
			}
			return "nil", nil
		}
		s.last = c
		if d.has("mark") {
			c.MarkCompacting(true)
		}
		out := c.String()
		if c.IsTrivialMove() {
			out += "  trivial move\n"
		}
		return out, nil

	case "release":
		if s.last == nil {
			return "", fmt.Errorf("no compaction")
		}
		s.last.MarkCompacting(false)
		return "ok", nil

	case "set-pointer":
		level, err := intArg("level", 0)
		if err != nil {
			return "", err
		}
		k, _ := d.arg("key")
		s.pointers[level] = ikey(k)
		return "ok", nil

	case "pointers":
		var sb strings.Builder
		for level, p := range s.pointers {
			if p != nil {
				fmt.Fprintf(&sb, "L%d: %s\n", level, base.FormatInternalKey(p))
			}
		}
		if sb.Len() == 0 {
			return "none", nil
		}
		return sb.String(), nil

	case "trivial":
		if s.last == nil {
			return "", fmt.Errorf("no compaction")
		}
		return strconv.FormatBool(s.last.IsTrivialMove()), nil

	case "base-level", "should-stop":
		if s.last == nil {
			return "", fmt.Errorf("no compaction")
		}
		var sb strings.Builder
		for _, k := range d.args {
			var r bool
			if d.cmd == "base-level" {
				r = s.last.IsBaseLevelForKey([]byte(k))
			} else {
				r = s.last.ShouldStopBefore(ikey(k))
			}
			fmt.Fprintf(&sb, "%s: %t\n", k, r)
		}
		return sb.String(), nil

	case "install":
		c := s.last
		if c == nil {
			return "", fmt.Errorf("no compaction")
		}
		e := &VersionEdit{}
		if c.IsTrivialMove() {
			e.DeleteFile(c.Level, c.Inputs[0][0].Num)
			e.AddFile(c.OutputLevel(), c.Inputs[0][0])
		} else {
			c.AddInputDeletions(e)
			s.nextNum++
			e.AddFile(c.OutputLevel(), &FileMetadata{Num: 100 + s.nextNum, Size: c.InputBytes(), Smallest: c.Smallest, Largest: c.Largest})
		}
		e.CompactPointers = append(e.CompactPointers, c.CompactPointer())
		b := NewBuilder(nil, s.v)
		if err := b.Apply(e); err != nil {
			return "", err
		}
		v, err := b.Finish()
		if err != nil {
			return "", err
		}
		c.MarkCompacting(false)
		s.v, s.last = v, nil
		return v.String(), nil

	case "edit":
		if s.last == nil {
			return "", fmt.Errorf("no compaction")
		}
		e := &VersionEdit{}
		s.last.AddInputDeletions(e)
		e.CompactPointers = append(e.CompactPointers, s.last.CompactPointer())
		return e.String(), nil
	}
	return "", fmt.Errorf("unknown command %q", d.cmd)
}

// compress renders a list of results as "false x99, true".
func compress(rs []string) string {
	var parts []string
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%s x%d", rs[i], j-i))
		} else {
			parts = append(parts, rs[i])
		}
		i = j
	}
	return strings.Join(parts, ", ")
}
