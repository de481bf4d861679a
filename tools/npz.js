// Minimal npy/npz reader and writer for the node tools (stored and deflate members).
'use strict';
const zlib = require('zlib');

const DESCR = { '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|u1': 'uint8',
  '|i1': 'int8', '|b1': 'bool' };
const ARRAY = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  uint8: Uint8Array, int8: Int8Array, bool: Uint8Array };

function readNpy(buf, what) {
  if (buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${what}: not npy`);
  const major = buf.readUInt8(6);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const dtype = DESCR[descr];
  if (!dtype) throw new Error(`${what}: unsupported dtype ${descr}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const T = ARRAY[dtype];
  const start = hstart + hlen;
  const copy = Buffer.from(buf.subarray(start, start + n * T.BYTES_PER_ELEMENT));
  return { dtype, shape, data: new T(copy.buffer, copy.byteOffset, n) };
}

function writeNpy(arr) {
  const descr = Object.keys(DESCR).find((k) => DESCR[k] === arr.dtype);
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.writeUInt8(0x93, 0);
  head.write('NUMPY', 1, 'latin1');
  head.writeUInt8(1, 6);
  head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readNpz(buf, what) {
  let eocd = -1;
  for (let p = buf.length - 22; p >= 0; p--) if (buf.readUInt32LE(p) === 0x06054b50) { eocd = p; break; }
  if (eocd < 0) throw new Error(`${what}: not a zip archive`);
  const entries = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = {};
  for (let e = 0; e < entries; e++) {
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nlen);
    p += 46 + nlen + xlen + clen;
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    let raw = buf.subarray(data, data + csize);
    if (method === 8) raw = zlib.inflateRawSync(raw);
    out[name.replace(/\.npy$/, '')] = readNpy(raw, `${what}:${name}`);
  }
  return out;
}

function writeNpz(arrays) {
  const parts = [], central = [];
  let offset = 0;
  for (const [key, arr] of Object.entries(arrays)) {
    const npy = writeNpy(arr);
    const name = Buffer.from(`${key}.npy`, 'utf8');
    const crc = crc32(npy);
    const mk = (isCentral) => {
      const h = Buffer.alloc(isCentral ? 46 : 30);
      let o = 0;
      h.writeUInt32LE(isCentral ? 0x02014b50 : 0x04034b50, o); o += 4;
      if (isCentral) { h.writeUInt16LE(20, o); o += 2; }
      h.writeUInt16LE(20, o); o += 2;
      h.writeUInt16LE(0, o); o += 2;
      h.writeUInt16LE(0, o); o += 2;
      h.writeUInt16LE(0, o); o += 2;
      h.writeUInt16LE(0x21, o); o += 2;
      h.writeUInt32LE(crc, o); o += 4;
      h.writeUInt32LE(npy.length, o); o += 4;
      h.writeUInt32LE(npy.length, o); o += 4;
      h.writeUInt16LE(name.length, o); o += 2;
      h.writeUInt16LE(0, o); o += 2;
      if (isCentral) { o += 10; h.writeUInt32LE(offset, o); }
      return Buffer.concat([h, name]);
    };
    const local = mk(false);
    central.push(mk(true));
    parts.push(local, npy);
    offset += local.length + npy.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length, 8);
  end.writeUInt16LE(central.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

module.exports = { readNpy, writeNpy, readNpz, writeNpz };
