package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/base"
)

// ikey parses "ukey#seq,KIND" (KIND is SET or DEL) into an internal key.
func ikey(s string) []byte {
	k, err := parseIkey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func parseIkey(s string) ([]byte, error) {
	ukey, rest, ok := strings.Cut(s, "#")
	if !ok {
		return nil, fmt.Errorf("key %q: want ukey#seq,KIND", s)
	}
	seqStr, kindStr, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, fmt.Errorf("key %q: want ukey#seq,KIND", s)
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("key %q: %v", s, err)
	}
	var kind base.Kind
	switch kindStr {
	case "SET":
		kind = base.KindSet
	case "DEL":
		kind = base.KindDelete
	default:
		return nil, fmt.Errorf("key %q: unknown kind", s)
	}
	return base.AppendInternalKey(nil, []byte(ukey), seq, kind), nil
}

// parseSize parses "123", "4K" or "2M".
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n * mult, err
}

// fileSpec is a parsed file line: "num:size smallest largest [compacting]
// [seeks=N]".
type fileSpec struct {
	meta       *FileMetadata
	compacting bool
	seeks      int64 // 0: leave as InitAllowedSeeks sets it
}

func parseFile(line string) (fileSpec, error) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return fileSpec{}, fmt.Errorf("file line %q: want num:size smallest largest", line)
	}
	numStr, sizeStr, ok := strings.Cut(fields[0], ":")
	if !ok {
		return fileSpec{}, fmt.Errorf("file line %q: want num:size", line)
	}
	num, err := strconv.ParseUint(numStr, 10, 64)
	if err != nil {
		return fileSpec{}, err
	}
	size, err := parseSize(sizeStr)
	if err != nil {
		return fileSpec{}, err
	}
	smallest, err := parseIkey(fields[1])
	if err != nil {
		return fileSpec{}, err
	}
	largest, err := parseIkey(fields[2])
	if err != nil {
		return fileSpec{}, err
	}
	fs := fileSpec{meta: &FileMetadata{Num: num, Size: size, Smallest: smallest, Largest: largest}}
	for _, f := range fields[3:] {
		switch {
		case f == "compacting":
			fs.compacting = true
		case strings.HasPrefix(f, "seeks="):
			n, err := strconv.ParseInt(f[len("seeks="):], 10, 64)
			if err != nil {
				return fileSpec{}, err
			}
			fs.seeks = n
		default:
			return fileSpec{}, fmt.Errorf("file line %q: unknown flag %q", line, f)
		}
	}
	return fs, nil
}

// parseLSM parses a textual LSM description:
//
//	L0:
//	  5:1M a#10,SET c#12,SET
//	L1:
//	  3:2M a#1,SET e#2,SET compacting
//
// into a snapshot edit plus the per-file flags to set after Finish.
func parseLSM(text string) (*VersionEdit, []fileSpec, error) {
	edit := &VersionEdit{}
	var specs []fileSpec
	level := -1
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "L") && strings.HasSuffix(line, ":") {
			l, err := strconv.Atoi(line[1 : len(line)-1])
			if err != nil {
				return nil, nil, fmt.Errorf("level line %q: %v", line, err)
			}
			level = l
			continue
		}
		if level < 0 {
			return nil, nil, fmt.Errorf("file line %q before a level line", line)
		}
		fs, err := parseFile(line)
		if err != nil {
			return nil, nil, err
		}
		edit.AddFile(level, fs.meta)
		specs = append(specs, fs)
	}
	return edit, specs, nil
}

// buildLSM builds a Version from a textual description (see parseLSM).
func buildLSM(text string) (*Version, error) {
	edit, specs, err := parseLSM(text)
	if err != nil {
		return nil, err
	}
	b := NewBuilder(base.DefaultComparer, nil)
	if err := b.Apply(edit); err != nil {
		return nil, err
	}
	v, err := b.Finish()
	if err != nil {
		return nil, err
	}
	for _, fs := range specs {
		fs.meta.Compacting.Store(fs.compacting)
		if fs.seeks != 0 {
			fs.meta.AllowedSeeks.Store(fs.seeks)
		}
	}
	return v, nil
}

func mustBuildLSM(text string) *Version {
	v, err := buildLSM(text)
	if err != nil {
		panic(err)
	}
	return v
}

// fileNums renders the numbers of files, "000005 000007", or "-".
func fileNums(files []*FileMetadata) string {
	if len(files) == 0 {
		return "-"
	}
	var sb strings.Builder
	for i, f := range files {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%06d", f.Num)
	}
	return sb.String()
}

// findFileByNum returns the file numbered num in v and its level.
func findFileByNum(v *Version, num uint64) (*FileMetadata, int) {
	for level, files := range v.Levels {
		for _, f := range files {
			if f.Num == num {
				return f, level
			}
		}
	}
	return nil, -1
}
