// Reader for the IDX format of (Fashion-)MNIST: magic 0x0000TTDD (TT = element type, DD = number of
// dimensions), DD big-endian uint32 sizes, then the data in big-endian. Gzipped files are unpacked.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: IdxData;
}

const TYPES: Record<number, { bytes: number; name: string }> = {
  0x08: { bytes: 1, name: 'uint8' },
  0x09: { bytes: 1, name: 'int8' },
  0x0b: { bytes: 2, name: 'int16' },
  0x0c: { bytes: 4, name: 'int32' },
  0x0d: { bytes: 4, name: 'float32' },
  0x0e: { bytes: 8, name: 'float64' },
};

export class IdxFormatError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'IdxFormatError';
  }
}

export function parseIdx(input: Uint8Array, file?: string): IdxArray {
  let buf = input;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  if (buf.length < 4) throw new IdxFormatError('too short for an IDX header', file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf[0] !== 0 || buf[1] !== 0) throw new IdxFormatError(`bad magic 0x${view.getUint32(0).toString(16).padStart(8, '0')}`, file);
  const typeCode = buf[2]!;
  const ndim = buf[3]!;
  const type = TYPES[typeCode];
  if (!type) throw new IdxFormatError(`unknown element type 0x${typeCode.toString(16)}`, file);
  if (ndim === 0) throw new IdxFormatError('zero dimensions', file);
  const header = 4 + 4 * ndim;
  if (buf.length < header) throw new IdxFormatError('truncated header', file);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const need = header + count * type.bytes;
  if (buf.length < need) throw new IdxFormatError(`truncated data: ${buf.length - header} bytes for ${count} ${type.name} elements`, file);
  if (buf.length > need) throw new IdxFormatError(`${buf.length - need} trailing bytes after ${count} ${type.name} elements`, file);
  let data: IdxData;
  switch (typeCode) {
    case 0x08: data = buf.slice(header, need); break;
    case 0x09: data = new Int8Array(buf.slice(header, need).buffer); break;
    default: {
      const out = type.name === 'int16' ? new Int16Array(count) : type.name === 'int32' ? new Int32Array(count) : type.name === 'float32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const o = header + i * type.bytes;
        out[i] = type.name === 'int16' ? view.getInt16(o) : type.name === 'int32' ? view.getInt32(o) : type.name === 'float32' ? view.getFloat32(o) : view.getFloat64(o);
      }
      data = out;
    }
  }
  return { dims, data };
}

export async function readIdxFile(path: string): Promise<IdxArray> {
  return parseIdx(await readFile(path), path);
}

/** Encodes an IDX file (uint8 only; used by tests and dataset tools). */
export function encodeIdxUint8(dims: number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new RangeError(`IDX data has ${data.length} elements, dims say ${count}`);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
