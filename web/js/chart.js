// A bar chart of credits spent per day, as inline SVG (no charting library).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 180;
const PAD = { top: 12, right: 8, bottom: 24, left: 44 };

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// days: [{day: "2026-11-24", credits: 27}], oldest first.
export function usageChart(days, title) {
  const max = Math.max(1, ...days.map((each) => each.credits));
  const total = days.reduce((sum, each) => sum + each.credits, 0);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = plotWidth / days.length;
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-labelledby": "chart-title chart-desc" });
  chart.append(
    svg("title", { id: "chart-title" }, title),
    svg("desc", { id: "chart-desc" }, `${total.toFixed(2)} credits in ${days.length} days; the most in one day was ${max.toFixed(2)}.`),
    svg("line", { class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom }),
    svg("text", { x: PAD.left - 6, y: PAD.top + 4, "text-anchor": "end" }, max.toFixed(0)),
    svg("text", { x: PAD.left - 6, y: HEIGHT - PAD.bottom, "text-anchor": "end" }, "0"),
  );
  days.forEach((each, index) => {
    const height = (each.credits / max) * plotHeight;
    const x = PAD.left + index * step;
    const bar = svg("rect", { class: "bar", x: x + 1, y: HEIGHT - PAD.bottom - height, width: Math.max(1, step - 2), height });
    bar.append(svg("title", {}, `${each.day}: ${each.credits.toFixed(2)} credits`));
    chart.append(bar);
    if ((days.length - 1 - index) % 7 === 0) { // weekly labels, ending today
      chart.append(svg("text", { x: x + step / 2, y: HEIGHT - 6, "text-anchor": "middle" }, each.day.slice(5)));
    }
  });
  return chart;
}
