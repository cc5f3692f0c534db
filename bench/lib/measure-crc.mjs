// CRC-32 as nbatch computes it (zlib's native code) against the JavaScript
// table nbatch used before, on one core: whether it can hold back the packer.
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function tableCrc(buf) {
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Best of three, in GB/s. */
function speed(fn, buf) {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    fn(buf);
    best = Math.min(best, performance.now() - start);
  }
  return buf.length / 1e9 / (best / 1000);
}

export function measureCrc({ quick }) {
  const buf = randomBytes((quick ? 16 : 64) * 1024 * 1024);
  if (tableCrc(buf) !== crc32(buf)) throw new Error("the CRC implementations disagree");
  return { nativeGBps: speed(crc32, buf), tableGBps: speed(tableCrc, buf), bytes: buf.length };
}
