#include "sweep/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/number_format.h"

namespace claimsweep {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n':
      case '\r': out += c; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\xEF\xBF\xBD";  // U+FFFD: NUL and friends are parse errors in HTML
        } else {
          out += c;
        }
    }
  }
  return out;
}

// Cuts `s` to at most `n` bytes on a UTF-8 character boundary, with an ellipsis.
std::string Shorten(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

namespace {

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

}  // namespace

std::string Color(size_t i) { return kPalette[i % 10]; }

// ---- axes --------------------------------------------------------------------

// A tick label with as many decimals as the step needs.
static std::string TickLabel(double v, double step) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-4) return FormatSignificant(v, 2);
  int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  return FormatFixed(v, decimals);
}

// A linear or (for positive values spanning two decades or more, when
// allowed) logarithmic axis over finite `values`, with about five ticks.
Axis NumericAxis(const std::vector<double>& values, bool allow_log, bool pad,
                 const std::string& label) {
  Axis a;
  a.label = label;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (allow_log && lo > 0 && hi / lo >= 100) {
    a.log = true;
    a.lo = std::pow(10, std::floor(std::log10(lo)));
    a.hi = std::pow(10, std::ceil(std::log10(hi)));
    for (double e = std::log10(a.lo); e <= std::log10(a.hi) + 1e-9; e += 1) {
      a.ticks.push_back({std::pow(10, e), "1e" + FormatFixed(e, 0)});
    }
    return a;
  }
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  } else if (pad) {
    const double d = (hi - lo) * 0.05;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  a.lo = lo;
  a.hi = hi;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    const double v = std::fabs(t) < step * 1e-9 ? 0 : t;
    a.ticks.push_back({v, TickLabel(v, step)});
  }
  return a;
}

// Categories at 0, 1, 2, ...
Axis CategoricalAxis(const std::vector<std::string>& cats, const std::string& label) {
  Axis a;
  a.label = label;
  a.lo = -0.5;
  a.hi = static_cast<double>(cats.size()) - 0.5;
  if (cats.empty()) a.hi = 0.5;
  for (size_t i = 0; i < cats.size(); ++i)
    a.ticks.push_back({static_cast<double>(i), Shorten(cats[i], 12)});
  return a;
}

// ---- charts ------------------------------------------------------------------

std::string SvgOpen(const Chart& c) {
  std::string s = "<svg class=\"chart\" width=\"" + std::to_string(c.width) + "\" height=\"" +
                  std::to_string(c.height) + "\" viewBox=\"0 0 " + std::to_string(c.width) + " " +
                  std::to_string(c.height) + "\" role=\"img\" aria-label=\"" + HtmlEscape(c.aria) +
                  "\">";
  const double x0 = Chart::kLeft, x1 = c.width - c.Right(), y0 = c.height - Chart::kBottom,
               y1 = Chart::kTop;
  s += "<g class=\"axes\">";
  for (const auto& [v, label] : c.y.ticks) {
    const double py = c.Py(v);
    s += "<line class=\"grid\" x1=\"" + FormatFixed(x0, 1) + "\" x2=\"" + FormatFixed(x1, 1) +
         "\" y1=\"" + FormatFixed(py, 1) + "\" y2=\"" + FormatFixed(py, 1) + "\"/>";
    s += "<text class=\"tick\" x=\"" + FormatFixed(x0 - 4, 1) + "\" y=\"" +
         FormatFixed(py + 3.5, 1) + "\" text-anchor=\"end\">" + HtmlEscape(label) + "</text>";
  }
  for (const auto& [v, label] : c.x.ticks) {
    const double px = c.Px(v);
    s += "<line class=\"tickmark\" x1=\"" + FormatFixed(px, 1) + "\" x2=\"" + FormatFixed(px, 1) +
         "\" y1=\"" + FormatFixed(y0, 1) + "\" y2=\"" + FormatFixed(y0 + 4, 1) + "\"/>";
    s += "<text class=\"tick\" x=\"" + FormatFixed(px, 1) + "\" y=\"" + FormatFixed(y0 + 15, 1) +
         "\" text-anchor=\"middle\">" + HtmlEscape(label) + "</text>";
  }
  s += "<line class=\"axis\" x1=\"" + FormatFixed(x0, 1) + "\" x2=\"" + FormatFixed(x1, 1) +
       "\" y1=\"" + FormatFixed(y0, 1) + "\" y2=\"" + FormatFixed(y0, 1) + "\"/>";
  s += "<line class=\"axis\" x1=\"" + FormatFixed(x0, 1) + "\" x2=\"" + FormatFixed(x0, 1) +
       "\" y1=\"" + FormatFixed(y0, 1) + "\" y2=\"" + FormatFixed(y1, 1) + "\"/>";
  s += "<text class=\"label\" x=\"" + FormatFixed((x0 + x1) / 2, 1) + "\" y=\"" +
       std::to_string(c.height - 6) + "\" text-anchor=\"middle\">" + HtmlEscape(c.x.label) +
       "</text>";
  s += "<text class=\"label\" transform=\"translate(12," + FormatFixed((y0 + y1) / 2, 1) +
       ") rotate(-90)\" text-anchor=\"middle\">" + HtmlEscape(c.y.label) + "</text>";
  for (size_t i = 0; i < c.legend.size(); ++i) {
    const double ly = Chart::kTop + 8 + 15 * static_cast<double>(i);
    if (ly > c.height - Chart::kBottom) break;
    s += "<line x1=\"" + FormatFixed(x1 + 8, 1) + "\" x2=\"" + FormatFixed(x1 + 24, 1) +
         "\" y1=\"" + FormatFixed(ly, 1) + "\" y2=\"" + FormatFixed(ly, 1) + "\" stroke=\"" +
         Color(i) + "\" stroke-width=\"2\"/>";
    s += "<text class=\"legend\" x=\"" + FormatFixed(x1 + 28, 1) + "\" y=\"" +
         FormatFixed(ly + 3.5, 1) + "\">" + HtmlEscape(Shorten(c.legend[i], 16)) + "<title>" +
         HtmlEscape(c.legend[i]) + "</title></text>";
  }
  return s + "</g>";
}

// Lines (a lone point is a dot); points with a NaN or infinite coordinate are
// skipped, so a gap in a curve joins its neighbours.
std::string LineChart(Chart c, const std::vector<Series>& series, bool with_legend,
                      const std::vector<std::pair<double, std::string>>& marks) {
  std::vector<double> xs, ys;
  for (const auto& s : series) {
    for (const auto& p : s.points) {
      if (std::isfinite(p.first) && std::isfinite(p.second))
        xs.push_back(p.first), ys.push_back(p.second);
    }
  }
  for (const auto& m : marks) {
    if (std::isfinite(m.first)) xs.push_back(m.first);
  }
  c.x = NumericAxis(xs, false, false, c.x.label);
  c.y = NumericAxis(ys, false, true, c.y.label);
  if (with_legend) {
    for (const auto& s : series) c.legend.push_back(s.name);
  }
  std::string out = SvgOpen(c);
  for (const auto& m : marks) {
    if (!std::isfinite(m.first)) continue;
    const std::string x = FormatFixed(c.Px(m.first), 1);
    out += "<line class=\"mark\" x1=\"" + x + "\" y1=\"" + std::to_string(Chart::kTop) +
           "\" x2=\"" + x + "\" y2=\"" + std::to_string(c.height - Chart::kBottom) +
           "\" stroke=\"#888\" stroke-dasharray=\"4 3\"><title>" + HtmlEscape(m.second) +
           "</title></line>";
    // The label beside the line, inside the plot (left of a line near its right edge).
    const bool right = c.x.Frac(m.first) > 0.8;
    out += "<text class=\"mark\" x=\"" + FormatFixed(c.Px(m.first) + (right ? -3 : 3), 1) +
           "\" y=\"" + std::to_string(Chart::kTop + 20) + "\"" +
           (right ? " text-anchor=\"end\"" : "") + ">" + HtmlEscape(m.second) + "</text>";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    std::string pts;
    size_t n = 0;
    ChartPoint last;
    for (const auto& p : series[i].points) {
      if (!c.Visible(p)) continue;
      pts += FormatFixed(c.Px(p.first), 1) + "," + FormatFixed(c.Py(p.second), 1) + " ";
      last = p;
      ++n;
    }
    if (n == 0) continue;
    const std::string title = "<title>" + HtmlEscape(series[i].title) + "</title>";
    if (n == 1) {
      out += "<circle class=\"series\" cx=\"" + FormatFixed(c.Px(last.first), 1) + "\" cy=\"" +
             FormatFixed(c.Py(last.second), 1) + "\" r=\"3\" fill=\"" + Color(i) + "\">" + title +
             "</circle>";
    } else {
      pts.pop_back();
      out += "<polyline class=\"series\" fill=\"none\" stroke=\"" + Color(i) + "\" points=\"" +
             pts + "\">" + title + "</polyline>";
    }
  }
  return out + "</svg>";
}

}  // namespace claimsweep
