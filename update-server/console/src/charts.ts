const NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Horizontal bars (label, value), e.g. versions in the field. */
export function barChart(rows: { label: string; value: number }[], opts: { width?: number; color?: string } = {}): SVGSVGElement {
  const width = opts.width ?? 520;
  const rowH = 22;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const root = svg('svg', { class: 'chart', width, height: rows.length * rowH + 10, role: 'img' });
  rows.forEach((r, i) => {
    const y = 5 + i * rowH;
    root.append(svg('text', { x: 6, y: y + 15 }, r.label));
    root.append(svg('rect', { x: 140, y: y + 3, height: 14, width: Math.max(1, ((width - 200) * r.value) / max), fill: opts.color ?? '#2356c7' }));
    root.append(svg('text', { x: width - 52, y: y + 15 }, String(r.value)));
  });
  return root;
}

/** Lines over time: one series per name, points (t ms, value). */
export function lineChart(series: { name: string; color: string; points: [number, number][] }[], opts: { width?: number; height?: number } = {}): SVGSVGElement {
  const width = opts.width ?? 640;
  const height = opts.height ?? 180;
  const pts = series.flatMap((s) => s.points);
  const t0 = Math.min(...pts.map((p) => p[0]), Date.now());
  const t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(1, ...pts.map((p) => p[1]));
  const x = (t: number) => 40 + ((width - 60) * (t - t0)) / (t1 - t0);
  const y = (v: number) => height - 25 - ((height - 40) * v) / vmax;
  const root = svg('svg', { class: 'chart', width, height, role: 'img' });
  root.append(svg('line', { x1: 40, y1: y(0), x2: width - 20, y2: y(0), stroke: '#999' }));
  root.append(svg('text', { x: 4, y: y(vmax) + 4 }, String(vmax)));
  root.append(svg('text', { x: 4, y: y(0) + 4 }, '0'));
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      root.append(svg('polyline', { fill: 'none', stroke: s.color, 'stroke-width': 2, points: s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }));
    }
    root.append(svg('text', { x: 50 + i * 110, y: height - 6, fill: s.color }, s.name));
  });
  return root;
}
