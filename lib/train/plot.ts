// Hand-written SVG line charts for the training report (loss and accuracy curves).

export interface Series {
  label: string;
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  /** Legend corner (default top-right; bottom-right suits rising curves). */
  legend?: 'top-right' | 'bottom-right';
  /** Pixel offset of the chart inside a larger SVG. */
  x0?: number;
  y0?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

/** One chart as an SVG <g> fragment. */
export function chartFragment(o: ChartOptions): string {
  const W = o.width ?? 560, H = o.height ?? 340, x0 = o.x0 ?? 0, y0 = o.y0 ?? 0;
  const m = { l: 64, r: 16, t: 34, b: 46 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let xLo = Math.min(...all.map((p) => p[0])), xHi = Math.max(...all.map((p) => p[0]));
  let yLo = o.yMin ?? Math.min(...all.map((p) => p[1])), yHi = o.yMax ?? Math.max(...all.map((p) => p[1]));
  if (all.length === 0) { xLo = 0; xHi = 1; yLo = 0; yHi = 1; }
  if (xHi === xLo) { xLo -= 0.5; xHi += 0.5; }
  if (yHi === yLo) { yLo -= 0.5; yHi += 0.5; }
  const sx = (x: number) => x0 + m.l + ((x - xLo) / (xHi - xLo)) * pw;
  const sy = (y: number) => y0 + m.t + ph - ((y - yLo) / (yHi - yLo)) * ph;
  const out: string[] = [];
  out.push(`<g font-family="sans-serif" font-size="12">`);
  out.push(`<text x="${x0 + W / 2}" y="${y0 + 20}" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  out.push(`<rect x="${x0 + m.l}" y="${y0 + m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (const t of niceTicks(yLo, yHi)) {
    if (t < yLo || t > yHi) continue;
    out.push(`<line x1="${x0 + m.l}" x2="${x0 + m.l + pw}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + m.l - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(xLo, xHi)) {
    if (t < xLo || t > xHi) continue;
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${y0 + m.t + ph}" y2="${y0 + m.t + ph + 5}" stroke="#888"/>`);
    out.push(`<text x="${sx(t).toFixed(1)}" y="${y0 + m.t + ph + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${x0 + m.l + pw / 2}" y="${y0 + H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(${x0 + 16},${y0 + m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    if (pts.length <= 40) for (const [x, y] of pts) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    const ly = o.legend === 'bottom-right' ? y0 + m.t + ph - 10 - 16 * (o.series.length - 1 - i) : y0 + m.t + 14 + 16 * i;
    out.push(`<line x1="${x0 + m.l + pw - 150}" x2="${x0 + m.l + pw - 130}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${x0 + m.l + pw - 125}" y="${ly}">${esc(s.label)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

export function svgDocument(width: number, height: number, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

export interface CurveData {
  title: string;
  stepsPerEpoch: number;
  stepLosses: Array<{ step: number; loss: number }>;
  epochs: Array<{ epoch: number; loss: number; accuracy: number; test_loss?: number | undefined; test_accuracy?: number | undefined }>;
}

export function lossChart(d: CurveData, x0 = 0, y0 = 0): string {
  const spe = d.stepsPerEpoch;
  return chartFragment({
    title: `${d.title}: loss`, xLabel: 'epoch', yLabel: 'cross-entropy', x0, y0, yMin: 0,
    series: [
      { label: 'train (rank 0, per step)', color: '#9ecae1', points: d.stepLosses.map((p) => [p.step / spe, p.loss]) },
      { label: 'train (epoch mean)', color: '#08519c', points: d.epochs.map((e) => [e.epoch, e.loss]) },
      { label: 'test', color: '#d94801', dashed: true, points: d.epochs.filter((e) => e.test_loss !== undefined).map((e) => [e.epoch, e.test_loss!]) },
    ],
  });
}

export function accuracyChart(d: CurveData, x0 = 0, y0 = 0): string {
  return chartFragment({
    title: `${d.title}: accuracy`, xLabel: 'epoch', yLabel: 'accuracy', x0, y0, legend: 'bottom-right',
    series: [
      { label: 'train', color: '#08519c', points: d.epochs.map((e) => [e.epoch, e.accuracy]) },
      { label: 'test', color: '#d94801', dashed: true, points: d.epochs.filter((e) => e.test_accuracy !== undefined).map((e) => [e.epoch, e.test_accuracy!]) },
    ],
  });
}

/** SVG documents for --plot: one file gets both charts side by side; two files get one chart each. */
export function renderPlots(d: CurveData, files: number): string[] {
  if (files >= 2) return [svgDocument(560, 340, lossChart(d)), svgDocument(560, 340, accuracyChart(d))];
  return [svgDocument(1120, 340, lossChart(d) + '\n' + accuracyChart(d, 560, 0))];
}
