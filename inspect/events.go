package inspect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Event is one event of the engine (a flush or compaction beginning or
// ending, a write stall, a table or log created or deleted, a background
// error: see strata.EventListener) as the database's info log recorded it.
type Event struct {
	// Time is when it was logged; Level the log level ("INFO", "WARN",
	// "ERROR").
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	// Kind is the event's kind, the log's event= attribute:
	// "flush-begin", "flush-end", "compaction-begin", "compaction-end",
	// "write-stall-begin", "write-stall-end", "table-created",
	// "table-deleted", "wal-created", "wal-deleted", "background-error".
	Kind string `json:"event"`
	// Job is the job's number, for a job's events (numbered from 1 at each
	// open of the database, so only unique within one File).
	Job int `json:"job,omitempty"`
	// Text is the event's one-line description (its String).
	Text string `json:"text"`
	// File is the log it was read from: "LOG.old" or "LOG".
	File string `json:"file"`
}

// String renders "2006-01-02 15:04:05.000 [JOB 7] flushed ...", with the
// level before the text when it is not INFO.
func (e Event) String() string {
	level := ""
	if e.Level != "INFO" {
		level = e.Level + " "
	}
	return fmt.Sprintf("%s %s%s", e.Time.Format("2006-01-02 15:04:05.000"), level, e.Text)
}

// ReadEvents returns the events recorded in the info logs of the database
// in dir, oldest first: those of LOG.old (the previous open for writing),
// then those of LOG (the last one, which may still be running). Each open
// for writing starts a new LOG and keeps the one before as LOG.old, so
// older events are gone. Lines that are not events (the engine's other
// messages), or not in the form the engine writes (a line cut short by a
// crash, a LOG written by LevelDB), are skipped. found reports whether
// either log exists: a database opened with its own Options.Logger, or
// only read-only, has none.
func ReadEvents(dir string) (events []Event, found bool, err error) {
	for _, name := range []string{"LOG.old", "LOG"} {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, found, err
		}
		found = true
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if e, ok := parseEventLine(sc.Text()); ok {
				e.File = name
				events = append(events, e)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, found, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
	}
	return events, found, nil
}

// parseEventLine reads a line of log/slog's text format (key=value pairs,
// values quoted as Go strings when they need it) that has an event=
// attribute.
func parseEventLine(line string) (e Event, ok bool) {
	for line != "" {
		key, rest, found := strings.Cut(line, "=")
		if !found || key == "" || strings.ContainsAny(key, " \"") {
			return e, false
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return e, false
			}
			value, _ = strconv.Unquote(quoted)
			rest = rest[len(quoted):]
		} else {
			value, rest, _ = strings.Cut(rest, " ")
			rest = " " + rest
		}
		if rest != "" && rest[0] != ' ' {
			return e, false
		}
		line = strings.TrimLeft(rest, " ")
		switch key {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return e, false
			}
			e.Time = t
		case "level":
			e.Level = value
		case "msg":
			e.Text = value
		case "event":
			e.Kind = value
		case "job":
			n, err := strconv.Atoi(value)
			if err != nil {
				return e, false
			}
			e.Job = n
		}
	}
	return e, e.Kind != "" && e.Text != ""
}
