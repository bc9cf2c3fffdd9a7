/** Where the headers of a FLAC, MP3, Ogg Vorbis or M4A file are, and which of their bytes are length and count fields: what the fuzzer aims at. */

const u32be = (b, o) => (o + 4 <= b.length ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0 : 0);
const u32le = (b, o) => (o + 4 <= b.length ? ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0 : 0);
const ascii = (b, o, n) => String.fromCharCode(...b.subarray(o, o + n));

function indexOf(b, text, from = 0, to = b.length) {
  const needle = Buffer.from(text, 'latin1');
  const at = Buffer.from(b.buffer, b.byteOffset, Math.min(to, b.length)).indexOf(needle, from);
  return at;
}

/**
 * What a mutation aims at in a file of `format`: `fields` (length and count fields, each
 * {offset, width, endian, what}), `ranges` (the header bytes, [start, end) pairs) and
 * `headerEnd` (where the audio starts after the valid header). Parsed leniently: a source
 * is a real file, and anything odd just ends the walk.
 */
export function structure(format, b) {
  const fields = [];
  const ranges = [[0, Math.min(4096, b.length)]];
  let headerEnd = Math.min(4096, b.length);
  const field = (offset, width, what, endian = 'be') => {
    if (offset >= 0 && offset + width <= b.length) fields.push({ offset, width, endian, what });
  };
  if (format === 'flac' && ascii(b, 0, 4) === 'fLaC') {
    let o = 4;
    let metadataEnd = 4;
    while (o + 4 <= b.length) {
      const type = b[o] & 0x7f;
      const last = (b[o] & 0x80) !== 0;
      const length = (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
      const d = o + 4;
      field(o + 1, 3, `metadata block ${type} length`);
      if (type === 0) {
        field(d, 2, 'STREAMINFO min block size');
        field(d + 2, 2, 'STREAMINFO max block size');
        field(d + 4, 3, 'STREAMINFO min frame size');
        field(d + 7, 3, 'STREAMINFO max frame size');
        field(d + 10, 3, 'STREAMINFO sample rate and channels');
        field(d + 13, 5, 'STREAMINFO bits per sample and total samples');
      } else if (type === 4) {
        const vendor = u32le(b, d);
        field(d, 4, 'VORBIS_COMMENT vendor length', 'le');
        field(d + 4 + vendor, 4, 'VORBIS_COMMENT comment count', 'le');
        field(d + 8 + vendor, 4, 'VORBIS_COMMENT first comment length', 'le');
      } else if (type === 3) {
        field(d, 8, 'SEEKTABLE first point sample');
        field(d + 8, 8, 'SEEKTABLE first point offset');
      }
      if (type !== 1) metadataEnd = d + length;
      o = d + length;
      if (last) break;
    }
    headerEnd = Math.min(o, b.length);
    field(headerEnd + 2, 1, 'first frame block size and sample rate codes');
    ranges.push([0, Math.min(metadataEnd, b.length)], [headerEnd, Math.min(headerEnd + 4096, b.length)]);
  } else if (format === 'mp3') {
    let tagEnd = 0;
    if (ascii(b, 0, 3) === 'ID3') {
      field(6, 4, 'ID3v2 tag size (syncsafe)', 'syncsafe');
      field(14, 4, 'first ID3v2 frame size');
      tagEnd = 10 + ((b[6] & 0x7f) << 21) + ((b[7] & 0x7f) << 14) + ((b[8] & 0x7f) << 7) + (b[9] & 0x7f);
    }
    // MPEG-1 Layer III frames (the fixture's kind), walked to find the first few frame boundaries.
    const BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const RATES = [44100, 48000, 32000];
    let o = tagEnd;
    while (o + 1 < b.length && !(b[o] === 0xff && (b[o + 1] & 0xe0) === 0xe0)) o++;
    const firstFrame = o;
    for (let frame = 0; frame < 3 && o + 4 <= b.length; frame++) {
      field(o + 2, 1, `frame ${frame} bitrate and sample rate codes`);
      const bitrate = BITRATES[b[o + 2] >> 4];
      const rate = RATES[(b[o + 2] >> 2) & 3];
      if (!bitrate || !rate) break;
      o += Math.floor((144000 * bitrate) / rate) + ((b[o + 2] >> 1) & 1);
    }
    headerEnd = Math.min(o, b.length);
    for (const tag of ['Xing', 'Info']) {
      const x = indexOf(b, tag, firstFrame, firstFrame + 64);
      if (x >= 0) {
        field(x + 8, 4, `${tag} frame count`);
        field(x + 12, 4, `${tag} byte count`);
      }
    }
    const vbri = indexOf(b, 'VBRI', firstFrame, firstFrame + 64);
    if (vbri >= 0) {
      field(vbri + 10, 4, 'VBRI byte count');
      field(vbri + 14, 4, 'VBRI frame count');
      field(vbri + 18, 2, 'VBRI TOC entries');
      field(vbri + 22, 2, 'VBRI TOC entry size');
    }
    ranges.push([firstFrame, Math.min(headerEnd + 1024, b.length)]);
  } else if (format === 'vorbis') {
    let audioPage = -1;
    for (const page of oggPages(b)) {
      field(page.offset + 26, 1, 'page segment count');
      if (page.segments > 0) field(page.offset + 27 + (page.offset % page.segments), 1, 'page lacing value');
      field(page.offset + 6, 8, 'page granule position', 'le');
      if (audioPage < 0 && page.granule !== 0n) audioPage = page.offset;
      if (fields.length > 60) break;
    }
    headerEnd = audioPage > 0 ? audioPage : headerEnd;
    const id = indexOf(b, '\x01vorbis', 0, 4096);
    if (id >= 0) {
      field(id + 11, 1, 'identification channels');
      field(id + 12, 4, 'identification sample rate', 'le');
      field(id + 28, 1, 'identification block sizes');
    }
    const comment = indexOf(b, '\x03vorbis', 0, 8192);
    if (comment >= 0) {
      const vendor = u32le(b, comment + 7);
      field(comment + 7, 4, 'comment vendor length', 'le');
      field(comment + 11 + vendor, 4, 'comment count', 'le');
      field(comment + 15 + vendor, 4, 'first comment length', 'le');
    }
    const setup = indexOf(b, '\x05vorbis', 0, 8192);
    if (setup >= 0) {
      field(setup + 7, 1, 'setup codebook count');
      if (ascii(b, setup + 8, 3) === 'BCV') {
        field(setup + 11, 2, 'first codebook dimensions', 'le');
        field(setup + 13, 3, 'first codebook entries', 'le');
      }
    }
    ranges.push([0, Math.min(headerEnd, b.length)]);
  } else if (format === 'm4a') {
    const boxes = [];
    mp4Boxes(b, 0, b.length, boxes, 0);
    for (const box of boxes) {
      field(box.offset, 4, `${box.type} box size`);
      const o = box.offset;
      if (['stsd', 'stts', 'stsc', 'stco', 'co64', 'stss', 'ctts', 'elst', 'dref'].includes(box.type)) field(o + 12, 4, `${box.type} entry count`);
      if (box.type === 'stsz') {
        field(o + 12, 4, 'stsz sample size');
        field(o + 16, 4, 'stsz sample count');
      }
      if (box.type === 'mdhd' || box.type === 'mvhd') {
        field(o + 20, 4, `${box.type} timescale`);
        field(o + 24, 4, `${box.type} duration`);
      }
      if (box.type === 'mp4a') {
        field(o + 24, 2, 'mp4a channel count');
        field(o + 26, 2, 'mp4a sample size');
        field(o + 32, 4, 'mp4a sample rate');
      }
      if (box.type === 'esds') field(o + 13, 4, 'esds ES descriptor length');
      if (box.type === 'moov') ranges.push([o, Math.min(o + box.size, b.length)]);
    }
    const mdat = boxes.find((box) => box.type === 'mdat');
    headerEnd = mdat ? mdat.offset + 8 : headerEnd;
  }
  return { fields, ranges: ranges.filter(([start, end]) => end > start), headerEnd, mdat: format === 'm4a' ? mp4Mdat(b) : undefined };
}

function* oggPages(b) {
  let o = 0;
  while (o + 27 <= b.length && ascii(b, o, 4) === 'OggS') {
    const segments = b[o + 26];
    if (o + 27 + segments > b.length) return;
    let body = 0;
    for (let i = 0; i < segments; i++) body += b[o + 27 + i];
    const granule = Buffer.from(b.buffer, b.byteOffset + o + 6, 8).readBigUInt64LE(0);
    const length = 27 + segments + body;
    yield { offset: o, segments, granule, length };
    o += length;
  }
}

const OGG_CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Recomputes the CRC of every Ogg page that still parses, so a mutation inside one is not caught by the checksum alone. */
export function fixOggCrcs(b) {
  for (const page of oggPages(b)) {
    if (page.offset + page.length > b.length) break;
    b.fill(0, page.offset + 22, page.offset + 26);
    let crc = 0;
    for (let i = page.offset; i < page.offset + page.length; i++) crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ b[i]) & 0xff]) >>> 0;
    b[page.offset + 22] = crc & 0xff;
    b[page.offset + 23] = (crc >>> 8) & 0xff;
    b[page.offset + 24] = (crc >>> 16) & 0xff;
    b[page.offset + 25] = crc >>> 24;
  }
}

const MP4_CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'udta', 'edts', 'dinf', 'mvex', 'moof', 'traf', 'ilst']);

function mp4Boxes(b, start, end, out, depth) {
  if (depth >= 12) return;
  let o = start;
  while (o + 8 <= end) {
    let size = u32be(b, o);
    const type = ascii(b, o + 4, 4);
    const header = size === 1 ? 16 : 8;
    if (size === 1) size = Number(Buffer.from(b.buffer, b.byteOffset + o + 8, 8).readBigUInt64BE(0));
    else if (size === 0) size = end - o;
    if (size < header || o + size > end) return;
    out.push({ offset: o, type, size });
    if (MP4_CONTAINERS.has(type)) mp4Boxes(b, o + header, o + size, out, depth + 1);
    if (type === 'meta') mp4Boxes(b, o + header + 4, o + size, out, depth + 1);
    if (type === 'stsd') mp4Boxes(b, o + 16, o + size, out, depth + 1);
    if (type === 'mp4a') mp4Boxes(b, o + 36, o + size, out, depth + 1);
    o += size;
  }
}

function mp4Mdat(b) {
  const boxes = [];
  mp4Boxes(b, 0, b.length, boxes, 0);
  const mdat = boxes.find((box) => box.type === 'mdat');
  return mdat ? [mdat.offset + 8, mdat.offset + mdat.size] : undefined;
}
