// Benchmark reports: the nccl-tests table, CSV and JSON files, and a small hand-written SVG line plot
// (busbw vs message size, log2 x axis). No dependencies: the SVG is plain text that browsers and
// image viewers render, and the tests parse it as XML.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One measured (size, mode, algorithm) point, as written to CSV (DESIGN.md section 6). */
export interface BenchRow {
  /** Bytes moved by the collective as nccl-tests counts them (all-gather: receive buffer; reduce-scatter: send buffer). */
  size: number;
  /** Elements per rank the call was given (nccl-tests' count column). */
  count: number;
  type: string;
  redop: string;
  /** Root rank for broadcast/reduce, -1 otherwise. */
  root: number;
  inplace: 0 | 1;
  /** Mean time per iteration, averaged over ranks (microseconds). */
  time_us: number;
  /** size / time, GB/s (1e9 bytes). */
  algbw: number;
  /** algbw x the collective's nccl-tests factor, GB/s. */
  busbw: number;
  /** Wrong elements summed over ranks; null when the check was skipped (--no-check). */
  wrong: number | null;
  algorithm: string;
  transport: string;
  nranks: number;
  /** Timed iterations (JSON only). */
  iters: number;
  /** Median per-iteration time averaged over ranks, microseconds (JSON only). */
  median_us: number;
}

/** The CSV header external tools read; order is fixed. */
export const CSV_COLUMNS = [
  'size', 'count', 'type', 'redop', 'root', 'inplace', 'time_us', 'algbw', 'busbw', 'wrong', 'algorithm', 'transport', 'nranks',
] as const;

export function csvText(rows: readonly BenchRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([
      r.size, r.count, r.type, r.redop, r.root, r.inplace,
      r.time_us.toFixed(3), r.algbw.toFixed(4), r.busbw.toFixed(4),
      r.wrong === null ? 'N/A' : r.wrong,
      r.algorithm, r.transport, r.nranks,
    ].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Parses a CSV written by csvText (or any header-first CSV without quoted commas). */
export function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  if (!head) return [];
  const cols = head.split(',').map((c) => c.trim());
  return lines.filter((l) => l.trim() !== '').map((l) => {
    const cells = l.split(',');
    const o: Record<string, string> = {};
    cols.forEach((c, i) => { o[c] = (cells[i] ?? '').trim(); });
    return o;
  });
}

export function writeFileMkdir(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

// ------------------------------------------------------------------------------------ formatting

/** 8 -> "8 B", 1536 -> "1.5 KiB", 268435456 -> "256 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${s} ${units[u]}`;
}

/** Compact axis label: 8 -> "8", 2048 -> "2K", 1048576 -> "1M", 268435456 -> "256M". */
export function shortBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30}G`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20}M`;
  if (n >= 2 ** 10 && n % 2 ** 10 === 0) return `${n / 2 ** 10}K`;
  return String(n);
}

/** Time with nccl-tests' precision: 4 significant-ish digits, never exponent notation. */
export function formatTime(us: number): string {
  if (!Number.isFinite(us)) return 'N/A';
  if (us >= 100000) return us.toFixed(0);
  if (us >= 1000) return us.toFixed(1);
  return us.toFixed(2);
}

export function formatBw(gbps: number): string {
  return Number.isFinite(gbps) ? gbps.toFixed(2) : 'N/A';
}

/** Left-pads every cell to its column width (right-aligned numbers), one string per row. */
export function alignTable(rows: string[][], leftAlign: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (leftAlign.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/** A markdown table (for docs and the vs-mpi summary). */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

// ------------------------------------------------------------------------------------ SVG plot

export interface PlotSeries {
  name: string;
  /** [x, y] points; x > 0 (log scale). Points with a non-finite y are skipped. */
  points: Array<[number, number]>;
  color?: string;
  dashed?: boolean;
  /** Draw no point markers (for reference lines). */
  noMarkers?: boolean;
}

export interface PlotOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  width?: number;
  height?: number;
  /** Format x tick labels (default shortBytes). */
  xTickFormat?: (x: number) => string;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** "Nice" linear ticks from 0 to at least max: steps of 1, 2 or 5 x 10^k. */
export function niceTicks(max: number, target = 6): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const fmtTick = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

/** A line plot with a log2 x axis and a linear y axis from 0; returns the SVG document text. */
export function svgLinePlot(opts: PlotOptions): string {
  const W = opts.width ?? 900;
  const H = opts.height ?? 540;
  const m = { left: 72, right: 230, top: opts.subtitle ? 64 : 48, bottom: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xf = opts.xTickFormat ?? shortBytes;
  const pts = opts.series.flatMap((s) => s.points.filter(([x, y]) => x > 0 && Number.isFinite(y)));
  const xs = pts.map(([x]) => x);
  let xmin = xs.length ? Math.min(...xs) : 1;
  let xmax = xs.length ? Math.max(...xs) : 2;
  if (xmax <= xmin) xmax = xmin * 2;
  const lx0 = Math.log2(xmin);
  const lx1 = Math.log2(xmax);
  const ymaxData = pts.length ? Math.max(...pts.map(([, y]) => y)) : 1;
  const yTicks = niceTicks(ymaxData * 1.05);
  const ymax = yTicks[yTicks.length - 1]!;
  const X = (x: number): number => m.left + ((Math.log2(x) - lx0) / (lx1 - lx0)) * pw;
  const Y = (y: number): number => m.top + ph - (Math.max(0, y) / ymax) * ph;
  const f1 = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(opts.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${f1(m.left + pw / 2)}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
  if (opts.subtitle) out.push(`<text x="${f1(m.left + pw / 2)}" y="42" text-anchor="middle" font-size="11" fill="#555555">${escapeXml(opts.subtitle)}</text>`);
  // grid and y ticks
  out.push('<g class="y-axis">');
  for (const t of yTicks) {
    const y = f1(Y(t));
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(t)}</text>`);
  }
  out.push('</g>');
  // x ticks at powers of two, labeled every k-th so labels do not collide
  out.push('<g class="x-axis">');
  const e0 = Math.ceil(lx0 - 1e-9);
  const e1 = Math.floor(lx1 + 1e-9);
  const every = Math.max(1, Math.ceil((e1 - e0 + 1) / 10));
  for (let e = e0; e <= e1; e++) {
    const x = f1(X(2 ** e));
    const major = (e - e0) % every === 0;
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="${major ? '#e5e5e5' : '#f3f3f3'}" stroke-width="1"/>`);
    out.push(`<line x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph + (major ? 6 : 3)}" stroke="#333333" stroke-width="1"/>`);
    if (major) out.push(`<text x="${x}" y="${m.top + ph + 20}" text-anchor="middle">${escapeXml(xf(2 ** e))}</text>`);
  }
  out.push('</g>');
  // frame and labels
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333" stroke-width="1"/>`);
  out.push(`<text x="${f1(m.left + pw / 2)}" y="${H - 16}" text-anchor="middle" font-size="13">${escapeXml(opts.xLabel)}</text>`);
  out.push(`<text x="18" y="${f1(m.top + ph / 2)}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${f1(m.top + ph / 2)})">${escapeXml(opts.yLabel)}</text>`);
  // series
  opts.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const p = s.points.filter(([x, y]) => x > 0 && Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (p.length > 1) {
      const d = p.map(([x, y]) => `${f1(X(x))},${f1(Y(y))}`).join(' ');
      out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    if (!s.noMarkers) {
      for (const [x, y] of p) out.push(`<circle cx="${f1(X(x))}" cy="${f1(Y(y))}" r="2.5" fill="${color}"><title>${escapeXml(`${s.name}: ${xf(x)} -> ${y.toFixed(3)}`)}</title></circle>`);
    }
    out.push('</g>');
  });
  // legend
  const lx = m.left + pw + 16;
  out.push('<g class="legend">');
  opts.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const y = m.top + 10 + i * 22;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 26}" y2="${y}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!s.noMarkers) out.push(`<circle cx="${lx + 13}" cy="${y}" r="2.5" fill="${color}"/>`);
    out.push(`<text x="${lx + 34}" y="${y}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
