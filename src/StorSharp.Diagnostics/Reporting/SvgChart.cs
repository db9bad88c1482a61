using System.Globalization;
using System.Net;
using System.Text;

namespace StorSharp.Diagnostics.Reporting;

/// <summary>A line of a chart: its name, colour and points.</summary>
/// <param name="Name">Shown in the legend.</param>
/// <param name="Color">A CSS colour.</param>
/// <param name="Points">(x, y) pairs in increasing x.</param>
public sealed record ChartSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points);

/// <summary>A vertical mark on a time chart (an event).</summary>
/// <param name="X">Where (seconds).</param>
/// <param name="Label">Shown when hovered.</param>
/// <param name="Color">A CSS colour.</param>
public sealed record ChartMarker(double X, string Label, string Color);

/// <summary>Draws the report's charts as inline SVG (no script, no external file).</summary>
public static class SvgChart
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int Width = 900, Height = 260, Left = 70, Right = 20, Top = 30, Bottom = 40;

    private static string F(double v) => v.ToString("0.##", Inv);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>A line chart over time with optional event markers.</summary>
    public static string Lines(string title, string yUnit, IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartMarker> markers, double xMax)
    {
        double yMax = 0;
        foreach (var s in series) foreach (var p in s.Points) yMax = Math.Max(yMax, p.Y);
        yMax = NiceCeiling(yMax);
        xMax = Math.Max(xMax, 1e-6);
        double pw = Width - Left - Right, ph = Height - Top - Bottom;
        double X(double x) => Left + pw * x / xMax;
        double Y(double y) => Top + ph - ph * y / yMax;
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{E(title)}\">");
        sb.Append(Inv, $"<text x=\"{Left}\" y=\"18\" class=\"title\">{E(title)}</text>");
        Axes(sb, yMax, yUnit, xMax, "s");
        foreach (var m in markers)
            sb.Append(Inv, $"<line x1=\"{F(X(m.X))}\" x2=\"{F(X(m.X))}\" y1=\"{Top}\" y2=\"{Top + ph}\" stroke=\"{m.Color}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\" class=\"marker\"><title>{E(m.Label)}</title></line>");
        int legend = 0;
        foreach (var s in series)
        {
            if (s.Points.Count == 0) continue;
            sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.6\" points=\"");
            foreach (var p in s.Points) sb.Append(Inv, $"{F(X(p.X))},{F(Y(p.Y))} ");
            sb.Append(Inv, $"\"><title>{E(s.Name)}</title></polyline>");
            sb.Append(Inv, $"<rect x=\"{Width - Right - 150}\" y=\"{8 + 14 * legend}\" width=\"10\" height=\"10\" fill=\"{s.Color}\"/><text x=\"{Width - Right - 135}\" y=\"{17 + 14 * legend}\" class=\"legend\">{E(s.Name)}</text>");
            legend++;
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>A bar chart of categories with two stacked values (success, failure).</summary>
    public static string Bars(string title, IReadOnlyList<string> labels, IReadOnlyList<long> first, IReadOnlyList<long> second, string firstName, string secondName)
    {
        double yMax = 0;
        for (int i = 0; i < labels.Count; i++) yMax = Math.Max(yMax, first[i] + second[i]);
        yMax = NiceCeiling(yMax);
        double pw = Width - Left - Right, ph = Height - Top - Bottom;
        double bw = pw / labels.Count;
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{E(title)}\">");
        sb.Append(Inv, $"<text x=\"{Left}\" y=\"18\" class=\"title\">{E(title)}</text>");
        Axes(sb, yMax, "requests", null, null);
        for (int i = 0; i < labels.Count; i++)
        {
            double x = Left + i * bw + 3;
            double h1 = ph * first[i] / yMax, h2 = ph * second[i] / yMax;
            sb.Append(Inv, $"<rect x=\"{F(x)}\" y=\"{F(Top + ph - h1)}\" width=\"{F(bw - 6)}\" height=\"{F(h1)}\" fill=\"#3b7dd8\"><title>{E(labels[i])}: {first[i]} {E(firstName)}</title></rect>");
            if (second[i] > 0)
                sb.Append(Inv, $"<rect x=\"{F(x)}\" y=\"{F(Top + ph - h1 - h2)}\" width=\"{F(bw - 6)}\" height=\"{F(h2)}\" fill=\"#d83b3b\"><title>{E(labels[i])}: {second[i]} {E(secondName)}</title></rect>");
            if (first[i] + second[i] > 0)
                sb.Append(Inv, $"<text x=\"{F(x + (bw - 6) / 2)}\" y=\"{F(Top + ph - h1 - h2 - 3)}\" class=\"value\" text-anchor=\"middle\">{first[i] + second[i]}</text>");
            sb.Append(Inv, $"<text x=\"{F(x + (bw - 6) / 2)}\" y=\"{Height - Bottom + 14}\" class=\"axis\" text-anchor=\"middle\">{E(labels[i])}</text>");
        }
        sb.Append(Inv, $"<rect x=\"{Width - Right - 150}\" y=\"8\" width=\"10\" height=\"10\" fill=\"#3b7dd8\"/><text x=\"{Width - Right - 135}\" y=\"17\" class=\"legend\">{E(firstName)}</text>");
        sb.Append(Inv, $"<rect x=\"{Width - Right - 150}\" y=\"22\" width=\"10\" height=\"10\" fill=\"#d83b3b\"/><text x=\"{Width - Right - 135}\" y=\"31\" class=\"legend\">{E(secondName)}</text>");
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>One horizontal bar split into named parts (the stages), with percentages.</summary>
    public static string Split(string title, IReadOnlyList<(string Name, double Value, string Color)> parts)
    {
        double total = parts.Sum(p => p.Value);
        const int h = 90;
        double pw = Width - Left - Right;
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg class=\"chart\" viewBox=\"0 0 {Width} {h}\" width=\"{Width}\" height=\"{h}\" role=\"img\" aria-label=\"{E(title)}\">");
        sb.Append(Inv, $"<text x=\"{Left}\" y=\"18\" class=\"title\">{E(title)}</text>");
        double x = Left;
        int i = 0;
        foreach (var (name, value, color) in parts)
        {
            double w = total <= 0 ? 0 : pw * value / total;
            double pct = total <= 0 ? 0 : 100 * value / total;
            sb.Append(Inv, $"<rect x=\"{F(x)}\" y=\"28\" width=\"{F(w)}\" height=\"24\" fill=\"{color}\"><title>{E(name)}: {pct:0.0} %</title></rect>");
            sb.Append(Inv, $"<rect x=\"{Left + 170 * i}\" y=\"64\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{Left + 170 * i + 14}\" y=\"73\" class=\"legend\">{E(name)} {pct:0.0} %</text>");
            x += w;
            i++;
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static void Axes(StringBuilder sb, double yMax, string yUnit, double? xMax, string? xUnit)
    {
        double pw = Width - Left - Right, ph = Height - Top - Bottom;
        sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{Top + ph}\" x2=\"{Left + pw}\" y2=\"{Top + ph}\" class=\"grid\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double v = yMax * i / 4, y = Top + ph - ph * i / 4;
            sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{F(y)}\" x2=\"{Left + pw}\" y2=\"{F(y)}\" class=\"grid\"/>");
            sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" class=\"axis\" text-anchor=\"end\">{Short(v)}</text>");
        }
        sb.Append(Inv, $"<text x=\"12\" y=\"{Top + ph / 2}\" class=\"axis\" transform=\"rotate(-90 12 {Top + ph / 2})\" text-anchor=\"middle\">{E(yUnit)}</text>");
        if (xMax is { } xm)
        {
            for (int i = 0; i <= 6; i++)
            {
                double v = xm * i / 6, x = Left + pw * i / 6;
                sb.Append(Inv, $"<text x=\"{F(x)}\" y=\"{Top + ph + 16}\" class=\"axis\" text-anchor=\"middle\">{Short(v)} {xUnit}</text>");
            }
        }
    }

    private static string Short(double v) => v switch
    {
        >= 1e9 => (v / 1e9).ToString("0.#", Inv) + "G",
        >= 1e6 => (v / 1e6).ToString("0.#", Inv) + "M",
        >= 1e4 => (v / 1e3).ToString("0.#", Inv) + "k",
        >= 100 => v.ToString("0", Inv),
        _ => v.ToString("0.##", Inv),
    };

    private static double NiceCeiling(double v)
    {
        if (v <= 0) return 1;
        double exp = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 }) if (m * exp >= v) return m * exp;
        return 10 * exp;
    }
}
