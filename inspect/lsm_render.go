package inspect

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/strata-db/strata/internal/base"
)

// The pictures of the tree (text, SVG, PNG) share one geometry: a row per
// level (level 0, whose tables may overlap, gets as many rows as it needs
// so that no two tables of a row overlap), and a horizontal axis of key
// positions. Positions come from the ranks of the tables' boundary keys,
// not from the keys' values, so the picture shows how tables line up
// against each other whatever the keys look like: the step between two
// consecutive boundary keys is one unit wide when some table covers it and
// gapWeight units when none does (a gap between neighbouring tables), and
// the steps are scaled to fill [0, 1].

type shapeRect struct {
	level  int
	table  TableMeta
	x0, x1 float64 // in [0, 1]
}

type shapeRow struct {
	level int
	first bool // the level's first row (carries the label)
	rects []shapeRect
}

type shape struct {
	rows        []shapeRow
	first, last []byte // the smallest and largest boundary keys
	hidden      int    // level-0 tables left out (too many rows)
}

const (
	maxL0Rows = 12
	gapWeight = 0.15
)

func (l *LSM) shape() *shape {
	var keys [][]byte
	for _, lv := range l.Levels {
		for _, t := range lv {
			keys = append(keys, t.Smallest.UserKey, t.Largest.UserKey)
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	index := func(k []byte) int {
		i, _ := slices.BinarySearchFunc(keys, k, bytes.Compare)
		return i
	}
	// covered[i] is whether a table spans the step from keys[i] to keys[i+1].
	covered := make([]bool, max(len(keys)-1, 0))
	for _, lv := range l.Levels {
		for _, t := range lv {
			for i := index(t.Smallest.UserKey); i < index(t.Largest.UserKey); i++ {
				covered[i] = true
			}
		}
	}
	at := make([]float64, len(keys)) // cumulative step widths
	for i, c := range covered {
		w := gapWeight
		if c {
			w = 1
		}
		at[i+1] = at[i] + w
	}
	pos := func(k []byte) float64 {
		if len(keys) < 2 {
			return 0
		}
		return at[index(k)] / at[len(at)-1]
	}
	s := &shape{}
	if len(keys) > 0 {
		s.first, s.last = keys[0], keys[len(keys)-1]
	}
	for level, lv := range l.Levels {
		var rows [][]shapeRect
		for _, t := range lv {
			r := shapeRect{level: level, table: t, x0: pos(t.Smallest.UserKey), x1: pos(t.Largest.UserKey)}
			placed := false
			for i := range rows {
				if level > 0 || !overlapsAny(rows[i], r) {
					rows[i] = append(rows[i], r)
					placed = true
					break
				}
			}
			if !placed {
				if len(rows) == maxL0Rows {
					s.hidden++
					continue
				}
				rows = append(rows, []shapeRect{r})
			}
		}
		if len(rows) == 0 {
			rows = append(rows, nil)
		}
		for i, rects := range rows {
			s.rows = append(s.rows, shapeRow{level: level, first: i == 0, rects: rects})
		}
	}
	return s
}

func overlapsAny(row []shapeRect, r shapeRect) bool {
	for _, o := range row {
		if r.x0 <= o.x1 && o.x0 <= r.x1 {
			return true
		}
	}
	return false
}

// HumanBytes renders a byte count in binary units, named as such: "512 B",
// "3.4 KiB", "12.0 MiB", "1.5 GiB", "2.0 TiB" (1 KiB = 1024 bytes).
func HumanBytes(n uint64) string { return base.HumanBytes(n) }

func (l *LSM) levelLabel(level int) string {
	return fmt.Sprintf("L%d %4d files %10s", level, len(l.Levels[level]), HumanBytes(l.LevelBytes(level)))
}

// WriteText draws the tree with ASCII characters, width columns wide for
// the key axis (at least 20): each table is [====] over its key range ('|'
// when it spans one column). A header gives totals and the live logs; a
// footer the key range and the read and write amplification.
func (l *LSM) WriteText(w io.Writer, width int, kf KeyFormat) error {
	kf = kf.orDefault()
	width = max(width, 20)
	s := l.shape()
	var b strings.Builder
	fmt.Fprintf(&b, "LSM tree of %s (%s): %d tables, %s\n", l.Dir, l.Manifest, l.NumTables(), HumanBytes(l.TotalBytes()))
	if len(l.Logs) > 0 {
		b.WriteString("live logs (writes not yet in tables):")
		for _, lf := range l.Logs {
			fmt.Fprintf(&b, " %06d.log (%s)", lf.Num, HumanBytes(uint64(lf.Size)))
		}
		b.WriteString("\n")
	}
	labelWidth := len(l.levelLabel(0))
	for _, row := range s.rows {
		label := strings.Repeat(" ", labelWidth)
		if row.first {
			label = l.levelLabel(row.level)
		}
		line := []byte(strings.Repeat(" ", width))
		prevEnd := -1
		for _, r := range row.rects {
			a := int(r.x0 * float64(width-1))
			z := int(r.x1 * float64(width-1))
			// Keep neighbours apart: start after the previous table.
			a = min(max(a, prevEnd+1), width-1)
			z = max(z, a)
			prevEnd = z
			if a == z {
				line[a] = '|'
				continue
			}
			line[a], line[z] = '[', ']'
			for i := a + 1; i < z; i++ {
				line[i] = '='
			}
		}
		fmt.Fprintf(&b, "%s |%s|\n", label, line)
	}
	if s.hidden > 0 {
		fmt.Fprintf(&b, "%*s  (%d more level-0 tables not drawn)\n", labelWidth, "", s.hidden)
	}
	if s.first != nil {
		left, right := kf(s.first), kf(s.last)
		gap := max(1, width+2-len(left)-len(right))
		fmt.Fprintf(&b, "%*s %s%s%s\n", labelWidth, "keys", left, strings.Repeat(" ", gap), right)
	}
	fmt.Fprintf(&b, "read amplification (sorted runs a point read may consult): %d\n", l.ReadAmp())
	if h := l.History; h.FlushBytes > 0 {
		fmt.Fprintf(&b, "write amplification since %s was started: %.2f (%d flushes wrote %s; %d compactions read %s, wrote %s; %d trivial moves)\n",
			l.Manifest, h.WriteAmp(), h.Flushes, HumanBytes(h.FlushBytes), h.Compactions,
			HumanBytes(h.CompactionReadBytes), HumanBytes(h.CompactionWriteBytes), h.TrivialMoves)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The picture's geometry, in pixels, for SVG and PNG.
const (
	picWidth   = 1000
	picLabelW  = 230
	picMargin  = 12
	picRowH    = 16
	picRowGap  = 4
	picLevelGp = 8
	picHeaderH = 28
	picFooterH = 26
)

var levelColors = [NumLevels]color.RGBA{
	{0xd9, 0x48, 0x3b, 0xff}, {0xf0, 0x8a, 0x24, 0xff}, {0xe0, 0xb4, 0x1b, 0xff},
	{0x4c, 0xa6, 0x4c, 0xff}, {0x2f, 0x8f, 0xb0, 0xff}, {0x44, 0x5f, 0xc4, 0xff}, {0x7b, 0x4f, 0xb8, 0xff},
}

type picRect struct {
	x, y, w, h int
	c          color.RGBA
	title      string
}

type picText struct {
	x, y int
	s    string
}

// picture lays the shape out in pixels.
func (l *LSM) picture(kf KeyFormat) (w, h int, rects []picRect, texts []picText) {
	kf = kf.orDefault()
	s := l.shape()
	barX, barW := picLabelW, picWidth-picLabelW-picMargin
	y := picHeaderH
	texts = append(texts, picText{picMargin, 18, fmt.Sprintf("LSM tree: %d tables, %s, read amplification %d",
		l.NumTables(), HumanBytes(l.TotalBytes()), l.ReadAmp())})
	prevLevel := -1
	for _, row := range s.rows {
		if row.level != prevLevel && prevLevel >= 0 {
			y += picLevelGp
		}
		prevLevel = row.level
		if row.first {
			texts = append(texts, picText{picMargin, y + picRowH - 4, l.levelLabel(row.level)})
		}
		// The level's lane.
		rects = append(rects, picRect{barX, y, barW, picRowH, color.RGBA{0xee, 0xee, 0xee, 0xff}, ""})
		for _, r := range row.rects {
			x0 := barX + int(r.x0*float64(barW-2))
			x1 := barX + int(r.x1*float64(barW-2))
			rects = append(rects, picRect{x0, y + 1, max(x1-x0, 2), picRowH - 2, levelColors[r.level],
				fmt.Sprintf("L%d %06d %s [%s .. %s]", r.level, r.table.Num, HumanBytes(r.table.Size),
					kf(r.table.Smallest.UserKey), kf(r.table.Largest.UserKey))})
		}
		y += picRowH + picRowGap
	}
	if s.first != nil {
		texts = append(texts, picText{barX, y + 14, "first key " + kf(s.first)})
		last := "last key " + kf(s.last)
		texts = append(texts, picText{barX + barW - 7*len(last), y + 14, last})
	}
	return picWidth, y + picFooterH, rects, texts
}

// WriteSVG draws the tree as an SVG image: a lane per level (level 0 may
// take several), each table a rectangle over its key range, coloured by
// level, with its number, size and key range as a tooltip.
func (l *LSM) WriteSVG(w io.Writer, kf KeyFormat) error {
	width, height, rects, texts := l.picture(kf)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	for _, r := range rects {
		fill := fmt.Sprintf("#%02x%02x%02x", r.c.R, r.c.G, r.c.B)
		if r.title == "" {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", r.x, r.y, r.w, r.h, fill)
			continue
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="white" stroke-width="0.5"><title>%s</title></rect>`+"\n",
			r.x, r.y, r.w, r.h, fill, html.EscapeString(r.title))
	}
	for _, t := range texts {
		fmt.Fprintf(&b, `<text x="%d" y="%d" xml:space="preserve">%s</text>`+"\n", t.x, t.y, html.EscapeString(t.s))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePNG draws the same picture as WriteSVG as a PNG image; labels are
// in a 7x13 bitmap font (golang.org/x/image/font/basicfont), in true case.
func (l *LSM) WritePNG(w io.Writer, kf KeyFormat) error {
	width, height, rects, texts := l.picture(kf)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, image.Rect(0, 0, width, height), color.RGBA{0xff, 0xff, 0xff, 0xff})
	for _, r := range rects {
		fill(img, image.Rect(r.x, r.y, r.x+r.w, r.y+r.h), r.c)
		if r.title != "" && r.w > 2 { // a white edge separates neighbours
			fill(img, image.Rect(r.x+r.w-1, r.y, r.x+r.w, r.y+r.h), color.RGBA{0xff, 0xff, 0xff, 0xff})
		}
	}
	for _, t := range texts {
		drawText(img, t.x, t.y, t.s, color.RGBA{0x20, 0x20, 0x20, 0xff})
	}
	return png.Encode(w, img)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// drawText draws s in labelFace, its baseline at y.
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: labelFace, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// labelFace is the PNG's font: a 7x13 bitmap face with lower and upper
// case (ASCII and Latin-1; other characters show as a box), 7 pixels a
// character as the layout assumes.
var labelFace = basicfont.Face7x13
