import { crc32, deflateSync } from 'node:zlib';
import type { Locator } from 'playwright-core';

/** An 8-bit RGB PNG of w x h pixels, each coloured by `pixel(x, y)`: seed images for the browser tests. */
export function encodePng(w: number, h: number, pixel: (x: number, y: number) => readonly number[]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body) >>> 0, body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const raw = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (1 + w * 3) + 1 + x * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The colour of a shown image's centre pixel, read through a canvas (same origin, so not tainted). */
export function centrePixel(img: Locator): Promise<number[]> {
  return img.evaluate(async (el: HTMLImageElement) => {
    if (!el.complete || el.naturalWidth === 0) await new Promise((r) => el.addEventListener('load', r, { once: true }));
    const c = document.createElement('canvas');
    c.width = el.naturalWidth;
    c.height = el.naturalHeight;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(el, 0, 0);
    return [...ctx.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3)];
  });
}
