/** A tiny PNG encoder (RGB, no dependencies) and the fixture page image. */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encode an RGB image {width, height, pixels: Uint8Array(width*height*3)} as PNG. */
export function encodePng({ width, height, pixels }) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(pixels.buffer, pixels.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function hex(colour) {
  return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
}

/**
 * The fixture: a 1000x750 "printed page" (the canvas is 2000x1500, so the image is half the
 * canvas size and every coordinate must be scaled): text lines, an initial, two illustrations
 * and a round stamp — where the fixture's detector annotations say they are.
 */
export function pageImage() {
  const width = 1000;
  const height = 750;
  const pixels = new Uint8Array(width * height * 3);
  const fill = (x0, y0, w, h, colour, inside = () => true) => {
    const [r, g, b] = hex(colour);
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y += 1) {
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x += 1) {
        if (!inside(x, y)) continue;
        const i = (y * width + x) * 3;
        pixels[i] = r; pixels[i + 1] = g; pixels[i + 2] = b;
      }
    }
  };
  fill(0, 0, width, height, '#f3ead8');
  fill(20, 20, width - 40, height - 40, '#efe3cc');
  for (let y = 70; y < 700; y += 22) fill(150, y, 790, 8, '#6b6357');
  fill(60, 60, 70, 70, '#a02828'); // initial
  fill(80, 220, 360, 260, '#3a6f8f'); // illustration 1
  fill(120, 260, 280, 180, '#6fa3bf');
  fill(540, 300, 380, 300, '#8f5a3a'); // illustration 2
  fill(580, 340, 300, 220, '#c4956a');
  fill(825, 615, 90, 90, '#c0392b', (x, y) => (x - 870) ** 2 + (y - 660) ** 2 <= 45 ** 2); // stamp
  return { width, height, png: encodePng({ width, height, pixels }) };
}
