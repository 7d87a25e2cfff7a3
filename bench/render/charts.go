package render

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
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
