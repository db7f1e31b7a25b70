// Unit tests of the benchmark tooling: size parsing, busbw factors, iteration rule, data patterns,
// CSV, SVG (well-formed XML with the expected series) and the vs-mpi JSON shape.
import test from 'ava';
import {
  busBwFactor, dtypeInfo, expectedValue, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, bf16BitsToF32, inputValue, itersFor,
  parseSize, sizeList,
} from '../../lib/bench/collectives.js';
import { allReduceMemoryCeiling } from '../../lib/bench/ceilings.js';
import { overlapPercent } from '../../lib/bench/overlap.js';
import { CSV_COLUMNS, csvText, escapeXml, formatBytes, niceTicks, parseCsv, svgLinePlot, type BenchRow } from '../../lib/bench/report.js';
import { issueTargets, renderVsMpi, vsMpiSvg, type VsMpiResult } from '../../lib/bench/vs-mpi.js';
import { allElements, parseXml } from './_xml.js';

test('parseSize: bytes and K/M/G = 2^10/2^20/2^30', (t) => {
  t.is(parseSize('8'), 8);
  t.is(parseSize('1K'), 1024);
  t.is(parseSize('64k'), 65536);
  t.is(parseSize('1M'), 2 ** 20);
  t.is(parseSize('256M'), 256 * 2 ** 20);
  t.is(parseSize('2G'), 2 * 2 ** 30);
  t.is(parseSize('4KiB'), 4096);
  t.is(parseSize('16MB'), 16 * 2 ** 20);
  t.is(parseSize('1.5K'), 1536);
  t.is(parseSize(4096), 4096);
  for (const bad of ['', 'x', '1Q', '-8', '1.3', 'M']) t.throws(() => parseSize(bad), undefined, bad);
});

test('sizeList follows -b/-e/-f', (t) => {
  t.deepEqual(sizeList(8, 64, 2), [8, 16, 32, 64]);
  t.deepEqual(sizeList(1024, 65536, 4), [1024, 4096, 16384, 65536]);
  t.deepEqual(sizeList(1024, 100000, 4), [1024, 4096, 16384, 65536]);
  t.is(sizeList(8, 256 * 2 ** 20, 2).length, 26);
  t.throws(() => sizeList(8, 64, 1));
  t.throws(() => sizeList(64, 8, 2));
});

test('busbw factors are nccl-tests\'', (t) => {
  t.is(busBwFactor('allreduce', 2), 1);
  t.is(busBwFactor('allreduce', 4), 1.5);
  t.is(busBwFactor('allreduce', 8), 1.75);
  t.is(busBwFactor('allgather', 4), 0.75);
  t.is(busBwFactor('reducescatter', 2), 0.5);
  t.is(busBwFactor('broadcast', 4), 1);
  t.is(busBwFactor('reduce', 4), 1);
  t.is(busBwFactor('sendrecv', 2), 1);
  t.is(busBwFactor('allreduce', 1), 0);
});

test('iteration rule: clamp(1 GiB / size, 5, 1000), lowered to the time cap', (t) => {
  const o = { budget: 2 ** 30, minIters: 5, maxIters: 1000, timeCap: 1 };
  t.is(itersFor(8, 1e-6, o), 1000);
  t.is(itersFor(2 ** 24, 1e-3, o), 64);
  t.is(itersFor(2 ** 28, 0.01, o), 5);
  t.is(itersFor(8, 0.01, o), 100); // 1000 x 10 ms > 1 s
  t.is(itersFor(2 ** 28, 1, o), 5); // never below minIters
});

test('inputs are small integers whose reductions are exact in every type', (t) => {
  for (const op of ['sum', 'avg', 'prod', 'min', 'max'] as const) {
    for (let i = 0; i < 40; i++) {
      const v = inputValue(op, 3, i);
      t.true(Number.isInteger(v) && v > 0);
    }
  }
  t.is(expectedValue('sum', 2, 0, true), inputValue('sum', 0, 0) + inputValue('sum', 1, 0));
  t.is(expectedValue('max', 3, 5, true), Math.max(inputValue('max', 0, 5), inputValue('max', 1, 5), inputValue('max', 2, 5)));
  t.is(expectedValue('avg', 3, 1, false), Math.trunc((inputValue('avg', 0, 1) + inputValue('avg', 1, 1) + inputValue('avg', 2, 1)) / 3));
  for (let v = 0; v <= 2048; v++) t.is(f16BitsToF32(f32ToF16Bits(v)), v);
  for (let v = 0; v <= 256; v++) t.is(bf16BitsToF32(f32ToBf16Bits(v)), v);
  t.is(f32ToF16Bits(1), 0x3c00);
  t.is(f32ToF16Bits(-2), 0xc000);
  t.is(f32ToF16Bits(65504), 0x7bff);
  t.is(f32ToF16Bits(1e6), 0x7c00);
  t.is(f32ToBf16Bits(1), 0x3f80);
  t.is(dtypeInfo('int8').enc(200), -56); // stored as the type wraps
  t.is(dtypeInfo('int64').enc(5), 5n);
});

const row = (over: Partial<BenchRow> = {}): BenchRow => ({
  size: 1024, count: 256, type: 'float32', redop: 'sum', root: -1, inplace: 0, time_us: 12.5, algbw: 0.08192, busbw: 0.08192,
  wrong: 0, algorithm: 'auto', transport: 'shm', nranks: 2, iters: 1000, median_us: 12, ...over,
});

test('CSV: exact header and one line per row', (t) => {
  const text = csvText([row(), row({ inplace: 1, wrong: null })]);
  const lines = text.trim().split('\n');
  t.is(lines[0], 'size,count,type,redop,root,inplace,time_us,algbw,busbw,wrong,algorithm,transport,nranks');
  t.deepEqual(lines[0]!.split(','), [...CSV_COLUMNS]);
  t.is(lines.length, 3);
  const parsed = parseCsv(text);
  t.is(parsed[0]!.size, '1024');
  t.is(parsed[0]!.inplace, '0');
  t.is(parsed[1]!.inplace, '1');
  t.is(parsed[1]!.wrong, 'N/A');
  t.is(Number(parsed[0]!.time_us), 12.5);
});

test('formatting helpers', (t) => {
  t.is(formatBytes(8), '8 B');
  t.is(formatBytes(4096), '4 KiB');
  t.is(formatBytes(256 * 2 ** 20), '256 MiB');
  t.deepEqual(niceTicks(7.3), [0, 2, 4, 6, 8]);
  t.is(escapeXml('a<b & "c"'), 'a&lt;b &amp; &quot;c&quot;');
  t.is(allReduceMemoryCeiling(29, 2), 7.25);
  t.is(overlapPercent(10, 10, 10), 100);
  t.is(overlapPercent(10, 10, 20), 0);
  t.is(overlapPercent(10, 20, 25), 50);
});

test('the XML checker rejects malformed documents', (t) => {
  t.notThrows(() => parseXml('<?xml version="1.0"?><a x="1"><b/>t &amp; u<c y=\'2\'></c></a>'));
  for (const bad of ['<a><b></a>', '<a x=1/>', '<a>&nope;</a>', '<a>x & y</a>', '<a/><b/>', '<a', '<a x="1" x="2"/>', '<a><b></b>']) {
    t.throws(() => parseXml(bad), undefined, bad);
  }
});

test('svgLinePlot: well-formed XML with axes, legend and one group per series', (t) => {
  const svg = svgLinePlot({
    title: 'T <&> "q"', xLabel: 'size', yLabel: 'busbw (GB/s)',
    series: [
      { name: 'a & b', points: [[8, 0.1], [1024, 1], [2 ** 20, 3]] },
      { name: 'flat', points: [[8, 2], [2 ** 20, 2]], dashed: true, noMarkers: true },
      { name: 'gaps', points: [[8, NaN], [16, 0.5]] },
    ],
  });
  const root = parseXml(svg);
  t.is(root.name, 'svg');
  t.is(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const els = allElements(root);
  const names = els.filter((e) => e.attrs.class === 'series').map((e) => e.attrs['data-name']);
  t.deepEqual(names, ['a & b', 'flat', 'gaps']);
  const texts = els.filter((e) => e.name === 'text').map((e) => e.text);
  for (const s of ['T <&> "q"', 'size', 'busbw (GB/s)', '8', '2K', '512K', 'a & b', 'flat']) t.true(texts.includes(s), s);
  t.true(els.some((e) => e.name === 'polyline'));
});

function fakeVsMpi(): VsMpiResult {
  const sizes = [8, 1024, 2 ** 20, 16 * 2 ** 20, 256 * 2 ** 20];
  const mk = (name: string, impl: 'mpi' | 'ringtree', transport: 'shm' | 'tcp', algorithm: string, k: number) => ({
    name, impl, transport, algorithm,
    points: sizes.map((size) => ({ size, busbw: [k * Math.log2(size) / 28, k * Math.log2(size) / 27], time_us: [10, 11], mean: (k * Math.log2(size)) / 27.5, wrong: 0 })),
  });
  return {
    tool: 'ringtree bench --vs-mpi', date: '2026-11-23T00:00:00.000Z',
    host: { hostname: 'h', cpus: 2, cpuModel: 'cpu', node: 'v20', mpi: 'mpirun (Open MPI) 4.1.4', kernel: 'Linux' },
    settings: { np: 2, minBytes: 8, maxBytes: 256 * 2 ** 20, timeCap: 0.3, repeats: 2, algorithms: ['ring', 'tree', 'auto'], transports: ['shm', 'tcp'], dtype: 'float32', op: 'sum' },
    ceilings: { memRwGBps: 29, memSource: 'x', tcpGBps: 3, tcpSource: 'y', allReduceBusbw: 7.25 },
    runs: [],
    series: [
      mk('ringtree ring (shm)', 'ringtree', 'shm', 'ring', 5), mk('ringtree tree (shm)', 'ringtree', 'shm', 'tree', 4),
      mk('ringtree auto (shm)', 'ringtree', 'shm', 'auto', 6), mk('ringtree auto (tcp)', 'ringtree', 'tcp', 'auto', 2),
      mk('ringtree ring (tcp)', 'ringtree', 'tcp', 'ring', 2), mk('ringtree tree (tcp)', 'ringtree', 'tcp', 'tree', 1.5),
      mk('MPI shm', 'mpi', 'shm', 'default', 2), mk('MPI tcp', 'mpi', 'tcp', 'default', 1),
    ],
    latency: {}, ratios: [], targets: [], busyRuns: [], wrongTotal: 0,
  };
}

test('vs-mpi SVG has the expected series and is well-formed', (t) => {
  const r = fakeVsMpi();
  const names = (svg: string): string[] => allElements(parseXml(svg)).filter((e) => e.attrs.class === 'series').map((e) => e.attrs['data-name']!);
  t.deepEqual(names(vsMpiSvg(r, 'shm')), [
    'ringtree ring (shm)', 'ringtree tree (shm)', 'ringtree auto (shm)', 'ringtree auto (tcp)', 'MPI shm', 'MPI tcp', 'memory-bound ceiling',
  ]);
  t.deepEqual(names(vsMpiSvg(r, 'tcp')), ['ringtree ring (tcp)', 'ringtree tree (tcp)', 'ringtree auto (tcp)', 'MPI tcp', 'TCP loopback (1 stream)']);
  // JSON round trip keeps the shape
  const back = JSON.parse(JSON.stringify(r)) as VsMpiResult;
  t.is(back.series.length, 8);
  t.deepEqual(Object.keys(back.series[0]!.points[0]!).sort(), ['busbw', 'mean', 'size', 'time_us', 'wrong']);
});

test('issue targets cover the sizes the issue names', (t) => {
  t.deepEqual(issueTargets(2, ['shm', 'tcp']).map((x) => `${x.transport}:${x.size}:${x.ratio}`),
    [`shm:${256 * 2 ** 20}:3`, `shm:${16 * 2 ** 20}:2`, `shm:${2 ** 20}:1`, `tcp:${16 * 2 ** 20}:1.2`]);
  t.deepEqual(issueTargets(2, ['tcp']).length, 1);
  t.deepEqual(issueTargets(4, ['shm', 'tcp']).map((x) => x.ratio), [1]);
});

test('vs-mpi report: ratio tables, per-repeat target ratios', (t) => {
  const r = fakeVsMpi();
  const md = renderVsMpi(r);
  t.regex(md, /### Shared memory, 2 ranks/);
  t.regex(md, /### TCP loopback, 2 ranks/);
  t.regex(md, /\| size \| MPI shm \| ringtree ring \| ringtree tree \| ringtree auto \| ring \/ MPI \| tree \/ MPI \| auto \/ MPI \|/);
  t.is(r.targets.length, 4);
  const shm256 = r.targets.find((x) => x.transport === 'shm' && x.size === 256 * 2 ** 20)!;
  t.is(shm256.auto.toFixed(2), '3.00');
  t.deepEqual(shm256.perRepeat.map((x) => x.toFixed(2)), ['3.00', '3.00']);
  t.true(shm256.met);
  t.is(r.ratios.filter((x) => x.transport === 'shm').length, 5);
});
