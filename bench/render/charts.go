package render

import (
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// engineColor gives each engine the same color in every chart.
func engineColor(i int) color.Color { return plotutil.Color(i) }

// ratioChart draws grouped bars: one group per label, one bar per engine,
// the height value(i, engine) (a ratio to Strata; 1 is drawn as a line).
func ratioChart(path, title string, labels, engines []string, value func(i int, e string) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "engine ÷ Strata (higher is faster)"
	w := vg.Points(60 / float64(len(engines)+1))
	p.Add(plotter.NewGrid())
	top := 1.0
	for ei, e := range engines {
		vals := make(plotter.Values, len(labels))
		for i := range labels {
			v := value(i, e)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			vals[i] = v
			top = math.Max(top, v)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = engineColor(ei)
		bars.Offset = w * vg.Length(float64(ei)-float64(len(engines)-1)/2)
		p.Add(bars)
		p.Legend.Add(e, bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Color = color.Gray{Y: 80}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.Legend.Top = true
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign = -0.9
	p.Y.Min = 0
	p.Y.Max = top * 1.3 // room for the legend
	return p.Save(vg.Length(100+70*len(labels))*vg.Points(1)*1.5, 7*vg.Inch, path)
}

// lineChart draws one line per engine over the x values, log-scaled axes.
func lineChart(path, title, xLabel, yLabel string, xs []float64, engines []string, value func(i int, e string) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Scale = plot.LogScale{}
	p.Y.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	for ei, e := range engines {
		var pts plotter.XYs
		for i, x := range xs {
			if v := value(i, e); !math.IsNaN(v) && v > 0 {
				pts = append(pts, plotter.XY{X: x, Y: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = engineColor(ei), engineColor(ei)
		line.Width = vg.Points(2)
		points.Shape = plotutil.Shape(ei)
		p.Add(line, points)
		p.Legend.Add(e, line, points)
	}
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// barChart draws one bar per engine.
func barChart(path, title, yLabel string, engines []string, values []float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	w := vg.Points(40)
	for ei := range engines {
		v := values[ei]
		if math.IsNaN(v) {
			v = 0
		}
		vals := make(plotter.Values, len(engines))
		vals[ei] = v
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = engineColor(ei)
		p.Add(bars)
	}
	p.NominalX(engines...)
	p.Y.Min = 0
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// seriesChart draws one panel per engine, two columns wide: the fill's
// and then the overwrite's operations per interval (thousands per second)
// against seconds, on axes shared by every panel, with a dashed line
// where the fill ends.
func seriesChart(path, title string, engines []string, series func(e string) (fill, over []float64)) error {
	cols := 2
	rows := (len(engines) + cols - 1) / cols
	xMax, yMax := 1.0, 1.0
	for _, e := range engines {
		f, o := series(e)
		xMax = math.Max(xMax, float64(len(f)+len(o)))
		for _, v := range append(append([]float64(nil), f...), o...) {
			yMax = math.Max(yMax, v/1e3)
		}
	}
	yMax *= 1.1
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	for i, e := range engines {
		p := plot.New()
		p.Title.Text = e
		if i == 0 {
			p.Title.Text = title + " — " + e
		}
		p.X.Label.Text = "seconds"
		p.Y.Label.Text = "k ops/s"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, xMax, 0, yMax
		p.Y.Tick.Marker = wholeTicks{}
		p.Add(plotter.NewGrid())
		f, o := series(e)
		add := func(vals []float64, offset int, c color.Color, name string) error {
			if len(vals) == 0 {
				return nil
			}
			pts := make(plotter.XYs, len(vals))
			for j, v := range vals {
				pts[j] = plotter.XY{X: float64(offset + j + 1), Y: v / 1e3}
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color, l.Width = c, vg.Points(1.2)
			p.Add(l)
			p.Legend.Add(name, l)
			return nil
		}
		if err := add(f, 0, engineColor(0), "fillrandom"); err != nil {
			return err
		}
		if err := add(o, len(f), engineColor(1), "overwrite"); err != nil {
			return err
		}
		if len(f) > 0 && len(o) > 0 {
			x := float64(len(f)) + 0.5
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: yMax}})
			if err != nil {
				return err
			}
			l.Color, l.Dashes = color.Gray{Y: 90}, []vg.Length{vg.Points(3), vg.Points(3)}
			p.Add(l)
		}
		if len(f) == 0 && len(o) == 0 {
			p.Title.Text += " (no series)"
		}
		p.Legend.Top = true
		plots[i/cols][i%cols] = p
	}
	for r := range plots {
		for c := range plots[r] {
			if plots[r][c] == nil {
				plots[r][c] = plot.New()
				plots[r][c].HideAxes()
			}
		}
	}
	img := vgimg.New(vg.Length(cols)*5.5*vg.Inch, vg.Length(rows)*3*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		for c := range plots[r] {
			plots[r][c].Draw(canvases[r][c])
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// wholeTicks are plot.DefaultTicks labelled without decimals.
type wholeTicks struct{}

func (wholeTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
