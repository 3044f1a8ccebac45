/* transcode_wav: converts a WAV file to another encoding, sample rate and channel count with libformi's
 * streaming transcoder, 20 ms at a time, as a media gateway converts a call.
 *
 *   transcode_wav IN.wav OUT.wav ENCODING RATE [CHANNELS]
 *
 *   ENCODING  ulaw (pcmu), alaw (pcma), pcm16 (s16le), pcm8 (u8) or f32 (float)
 *   RATE      8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000
 *   CHANNELS  1 or 2 (default: the input's)
 *
 * e.g. a 16 kHz recording for a Twilio prompt:  transcode_wav prompt.wav prompt-ulaw.wav ulaw 8000 1
 *
 * Input: RIFF/WAVE with PCM (format 1: 8 or 16 bits), IEEE float (3: 32 bits), A-law (6) or mu-law (7),
 * also inside WAVE_FORMAT_EXTENSIBLE (0xFFFE). Chunks are walked by the RIFF rules: unknown ones (LIST,
 * cue, bext...) are skipped, odd sizes are followed by a pad byte, every length is checked against the
 * file, and a truncated or malformed file is refused before any output is written.
 *
 * Output: a canonical WAV for the output encoding. PCM gets the 16-byte fmt chunk; non-PCM formats
 * (float, A-law, mu-law) get the 18-byte fmt chunk (cbSize 0) and the fact chunk with the sample count,
 * as the RIFF specification requires for them. The data chunk is padded to an even size.
 *
 * The transcoder's resampling filter delays the signal by its latency (printed in the summary): the
 * output begins with that much filter delay and drain adds that much tail, so it is the latency longer
 * than the input's duration. A call leg never notices; trim it yourself if you need sample alignment.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra transcode_wav.c -o transcode_wav $(pkg-config --cflags --libs formi)
 */
#define _POSIX_C_SOURCE 200809L /* fseeko, ftello, fstat */
#define _FILE_OFFSET_BITS 64    /* WAV files up to 4 GiB on 32-bit hosts too */
#include <formi.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define WAVE_FORMAT_PCM        0x0001
#define WAVE_FORMAT_IEEE_FLOAT 0x0003
#define WAVE_FORMAT_ALAW       0x0006
#define WAVE_FORMAT_MULAW      0x0007
#define WAVE_FORMAT_EXTENSIBLE 0xFFFE

#define CHUNK_MS 20

static const char *program = "transcode_wav";

/* What the input's chunks say. */
typedef struct wav_info {
    int have_fmt, have_data, have_fact;
    uint16_t tag;            /* format tag; for WAVE_FORMAT_EXTENSIBLE, the subformat's */
    int extensible;
    uint16_t channels;
    uint32_t sample_rate;
    uint32_t byte_rate;
    uint16_t block_align;
    uint16_t bits;
    uint32_t fact_frames;
    off_t data_offset;       /* of the data chunk's first byte */
    uint32_t data_size;
    char skipped[256];       /* the chunks skipped, for the summary */
} wav_info;

/* ---- little helpers ------------------------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* A chunk id for messages: printable ASCII as it is, other bytes as '?'. `out` holds 5 bytes. */
static const char *fourcc(const uint8_t *id, char *out) {
    for (int i = 0; i < 4; i++) out[i] = (id[i] >= 0x20 && id[i] < 0x7F) ? (char)id[i] : '?';
    out[4] = '\0';
    return out;
}

/* A failed libformi call: its status and the library's own detail. */
static void library_error(const char *what, int status) {
    fprintf(stderr, "%s: %s: %s (%d): %s\n", program, what, formi_strerror(status), status, formi_last_error());
}

/* Reads exactly `size` bytes at `offset`, or says why not. */
static int read_at(FILE *f, const char *path, off_t offset, void *buf, size_t size) {
    if (fseeko(f, offset, SEEK_SET) != 0) {
        fprintf(stderr, "%s: %s: cannot seek to offset %lld: %s\n", program, path, (long long)offset, strerror(errno));
        return -1;
    }
    if (fread(buf, 1, size, f) != size) {
        if (ferror(f)) fprintf(stderr, "%s: %s: read error at offset %lld: %s\n", program, path, (long long)offset, strerror(errno));
        else fprintf(stderr, "%s: %s: truncated: the file ends inside the %zu bytes at offset %lld\n", program, path, size, (long long)offset);
        return -1;
    }
    return 0;
}

static const char *tag_name(uint16_t tag) {
    switch (tag) {
    case WAVE_FORMAT_PCM: return "PCM";
    case 0x0002: return "Microsoft ADPCM";
    case WAVE_FORMAT_IEEE_FLOAT: return "IEEE float";
    case WAVE_FORMAT_ALAW: return "A-law";
    case WAVE_FORMAT_MULAW: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0031: return "GSM 6.10";
    case 0x0055: return "MPEG layer 3";
    case 0x0064: return "G.726 ADPCM";
    case WAVE_FORMAT_EXTENSIBLE: return "extensible";
    default: return "unknown";
    }
}

static const char *encoding_name(int encoding) {
    switch (encoding) {
    case FORMI_ENCODING_ULAW: return "ulaw";
    case FORMI_ENCODING_ALAW: return "alaw";
    case FORMI_ENCODING_PCM16LE: return "pcm16";
    case FORMI_ENCODING_PCM16BE: return "pcm16be";
    case FORMI_ENCODING_PCM8: return "pcm8";
    case FORMI_ENCODING_F32LE: return "f32";
    default: return "?";
    }
}

/* The WAV format tag and bits per sample of a libformi encoding; 0 when WAV cannot carry it. */
static uint16_t wav_tag(int encoding, uint16_t *bits) {
    switch (encoding) {
    case FORMI_ENCODING_ULAW: *bits = 8; return WAVE_FORMAT_MULAW;
    case FORMI_ENCODING_ALAW: *bits = 8; return WAVE_FORMAT_ALAW;
    case FORMI_ENCODING_PCM16LE: *bits = 16; return WAVE_FORMAT_PCM;
    case FORMI_ENCODING_PCM8: *bits = 8; return WAVE_FORMAT_PCM;
    case FORMI_ENCODING_F32LE: *bits = 32; return WAVE_FORMAT_IEEE_FLOAT;
    default: *bits = 0; return 0; /* big-endian PCM: WAV is little-endian */
    }
}

static int parse_encoding(const char *s) {
    static const struct { const char *name; int encoding; } names[] = {
        {"ulaw", FORMI_ENCODING_ULAW},     {"mulaw", FORMI_ENCODING_ULAW},  {"pcmu", FORMI_ENCODING_ULAW},
        {"alaw", FORMI_ENCODING_ALAW},     {"pcma", FORMI_ENCODING_ALAW},   {"pcm16", FORMI_ENCODING_PCM16LE},
        {"s16le", FORMI_ENCODING_PCM16LE}, {"pcm16le", FORMI_ENCODING_PCM16LE}, {"pcm8", FORMI_ENCODING_PCM8},
        {"u8", FORMI_ENCODING_PCM8},       {"f32", FORMI_ENCODING_F32LE},   {"float", FORMI_ENCODING_F32LE},
        {"f32le", FORMI_ENCODING_F32LE},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return names[i].encoding;
    return 0;
}

/* A whole decimal number in [min, max], or -1. */
static long parse_number(const char *s, long min, long max) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
    return v;
}

/* ---- reading ------------------------------------------------------------------------------------- */

/* Parses the fmt chunk (`size` bytes, `p` holding the first min(size, 40)). */
static int parse_fmt(const char *path, const uint8_t *p, uint32_t size, wav_info *w) {
    if (size < 16) {
        fprintf(stderr, "%s: %s: malformed: the fmt chunk has %" PRIu32 " bytes, at least 16 are needed\n", program, path, size);
        return -1;
    }
    w->tag = get16(p);
    w->channels = get16(p + 2);
    w->sample_rate = get32(p + 4);
    w->byte_rate = get32(p + 8);
    w->block_align = get16(p + 12);
    w->bits = get16(p + 14);
    if (w->tag == WAVE_FORMAT_EXTENSIBLE) {
        /* cbSize 22: valid bits, channel mask, and a GUID whose first two bytes are the real format tag. */
        static const uint8_t guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
        if (size < 40 || get16(p + 16) < 22) {
            fprintf(stderr, "%s: %s: malformed: a WAVE_FORMAT_EXTENSIBLE fmt chunk needs 40 bytes with cbSize 22 (it has %" PRIu32 ")\n",
                    program, path, size);
            return -1;
        }
        if (memcmp(p + 26, guid_tail, sizeof guid_tail) != 0) {
            fprintf(stderr, "%s: %s: unsupported: the extensible format's subformat GUID is not a standard WAVE format\n", program, path);
            return -1;
        }
        uint16_t valid_bits = get16(p + 18);
        w->extensible = 1;
        w->tag = get16(p + 24);
        if (valid_bits != 0 && valid_bits != w->bits) {
            fprintf(stderr, "%s: %s: unsupported: %u valid bits in %u-bit samples\n", program, path, valid_bits, w->bits);
            return -1;
        }
    }
    w->have_fmt = 1;
    return 0;
}

/* Walks the RIFF chunks of `f` into *w; checks every length against the file. 0 or -1 (said why). */
static int read_wav_header(FILE *f, const char *path, wav_info *w) {
    memset(w, 0, sizeof *w);
    if (fseeko(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "%s: %s: cannot seek (a regular file is needed): %s\n", program, path, strerror(errno));
        return -1;
    }
    off_t file_size = ftello(f);
    if (file_size < 0) {
        fprintf(stderr, "%s: %s: cannot tell the file's size: %s\n", program, path, strerror(errno));
        return -1;
    }
    if (file_size < 12) {
        fprintf(stderr, "%s: %s: truncated: %lld bytes is too short for a RIFF/WAVE header (12 bytes)\n", program, path,
                (long long)file_size);
        return -1;
    }
    uint8_t h[12];
    char id[5];
    if (read_at(f, path, 0, h, sizeof h) != 0) return -1;
    if (memcmp(h, "RIFF", 4) != 0) {
        if (memcmp(h, "RIFX", 4) == 0 || memcmp(h, "RF64", 4) == 0)
            fprintf(stderr, "%s: %s: unsupported: a %s file (only little-endian RIFF/WAVE)\n", program, path, fourcc(h, id));
        else fprintf(stderr, "%s: %s: not a WAV file: it starts with \"%s\", not \"RIFF\"\n", program, path, fourcc(h, id));
        return -1;
    }
    if (memcmp(h + 8, "WAVE", 4) != 0) {
        fprintf(stderr, "%s: %s: not a WAV file: a RIFF file of form \"%s\", not \"WAVE\"\n", program, path, fourcc(h + 8, id));
        return -1;
    }
    off_t riff_end = (off_t)8 + get32(h + 4);
    if (riff_end < 12) {
        fprintf(stderr, "%s: %s: malformed: the RIFF chunk's size %" PRIu32 " is below 4\n", program, path, get32(h + 4));
        return -1;
    }
    if (riff_end > file_size) {
        fprintf(stderr, "%s: %s: truncated: the RIFF header says the file has %lld bytes, it has %lld\n", program, path,
                (long long)riff_end, (long long)file_size);
        return -1;
    }
    if (riff_end < file_size)
        fprintf(stderr, "%s: %s: warning: %lld bytes after the RIFF chunk ignored\n", program, path, (long long)(file_size - riff_end));

    size_t skipped_len = 0;
    for (off_t pos = 12; pos < riff_end;) {
        if (riff_end - pos < 8) {
            fprintf(stderr, "%s: %s: malformed: %lld stray bytes at offset %lld, too few for a chunk header\n", program, path,
                    (long long)(riff_end - pos), (long long)pos);
            return -1;
        }
        uint8_t ch[8];
        if (read_at(f, path, pos, ch, sizeof ch) != 0) return -1;
        fourcc(ch, id);
        for (int i = 0; i < 4; i++)
            if (ch[i] < 0x20 || ch[i] > 0x7E) {
                fprintf(stderr, "%s: %s: malformed: the chunk id at offset %lld is not text (bytes %02x %02x %02x %02x)\n", program,
                        path, (long long)pos, ch[0], ch[1], ch[2], ch[3]);
                return -1;
            }
        uint32_t size = get32(ch + 4);
        off_t body = pos + 8;
        if ((off_t)size > riff_end - body) {
            fprintf(stderr, "%s: %s: truncated: chunk \"%s\" at offset %lld declares %" PRIu32 " bytes, only %lld remain\n", program,
                    path, id, (long long)pos, size, (long long)(riff_end - body));
            return -1;
        }
        if (memcmp(ch, "fmt ", 4) == 0) {
            uint8_t fmt[40];
            if (w->have_fmt) {
                fprintf(stderr, "%s: %s: malformed: a second fmt chunk at offset %lld\n", program, path, (long long)pos);
                return -1;
            }
            if (read_at(f, path, body, fmt, size < sizeof fmt ? size : sizeof fmt) != 0) return -1;
            if (parse_fmt(path, fmt, size, w) != 0) return -1;
        } else if (memcmp(ch, "data", 4) == 0) {
            if (w->have_data) {
                fprintf(stderr, "%s: %s: malformed: a second data chunk at offset %lld\n", program, path, (long long)pos);
                return -1;
            }
            w->have_data = 1;
            w->data_offset = body;
            w->data_size = size;
        } else if (memcmp(ch, "fact", 4) == 0 && size >= 4) {
            uint8_t fact[4];
            if (read_at(f, path, body, fact, sizeof fact) != 0) return -1;
            w->have_fact = 1;
            w->fact_frames = get32(fact);
        } else {
            int n = snprintf(w->skipped + skipped_len, sizeof w->skipped - skipped_len, "%s%s (%" PRIu32 " bytes)",
                             skipped_len ? ", " : "", id, size);
            if (n > 0 && (size_t)n < sizeof w->skipped - skipped_len) skipped_len += (size_t)n;
        }
        /* The next chunk starts on an even offset: odd sizes are followed by a pad byte (which some
         * writers leave out after the last chunk: that is tolerated). */
        pos = body + size + (size & 1);
        if (pos > riff_end && pos - riff_end == 1) pos = riff_end;
    }

    if (!w->have_fmt || !w->have_data) {
        fprintf(stderr, "%s: %s: malformed: no %s chunk\n", program, path, w->have_fmt ? "data" : "fmt");
        return -1;
    }
    if (w->channels == 0 || w->block_align == 0 || w->bits == 0) {
        fprintf(stderr, "%s: %s: malformed: fmt says %u channels, %u-byte blocks, %u bits\n", program, path, w->channels,
                w->block_align, w->bits);
        return -1;
    }
    if ((uint32_t)w->block_align != (uint32_t)w->channels * ((w->bits + 7u) / 8u)) {
        fprintf(stderr, "%s: %s: malformed: block align %u does not match %u channels of %u bits\n", program, path, w->block_align,
                w->channels, w->bits);
        return -1;
    }
    if ((uint64_t)w->byte_rate != (uint64_t)w->sample_rate * w->block_align)
        fprintf(stderr, "%s: %s: warning: byte rate %" PRIu32 " is not %" PRIu32 " Hz x %u bytes (ignored)\n", program, path,
                w->byte_rate, w->sample_rate, w->block_align);
    if (w->data_size % w->block_align != 0) {
        fprintf(stderr, "%s: %s: malformed: the data chunk's %" PRIu32 " bytes are not a whole number of %u-byte frames\n", program,
                path, w->data_size, w->block_align);
        return -1;
    }
    if (w->have_fact && w->fact_frames != w->data_size / w->block_align)
        fprintf(stderr, "%s: %s: warning: the fact chunk says %" PRIu32 " samples, the data chunk holds %" PRIu32 " (using the data)\n",
                program, path, w->fact_frames, w->data_size / w->block_align);
    return 0;
}

/* The libformi format of the WAV's samples, or -1 (said why). */
static int wav_to_format(const char *path, const wav_info *w, formi_format *format) {
    int encoding = 0;
    if (w->tag == WAVE_FORMAT_PCM && w->bits == 16) encoding = FORMI_ENCODING_PCM16LE;
    else if (w->tag == WAVE_FORMAT_PCM && w->bits == 8) encoding = FORMI_ENCODING_PCM8;
    else if (w->tag == WAVE_FORMAT_IEEE_FLOAT && w->bits == 32) encoding = FORMI_ENCODING_F32LE;
    else if (w->tag == WAVE_FORMAT_ALAW && w->bits == 8) encoding = FORMI_ENCODING_ALAW;
    else if (w->tag == WAVE_FORMAT_MULAW && w->bits == 8) encoding = FORMI_ENCODING_ULAW;
    if (encoding == 0) {
        fprintf(stderr, "%s: %s: unsupported: format tag 0x%04x (%s) with %u bits per sample; supported: PCM 8/16-bit, "
                "IEEE float 32-bit, A-law, mu-law\n", program, path, w->tag, tag_name(w->tag), w->bits);
        return -1;
    }
    if (w->sample_rate > INT32_MAX) {
        fprintf(stderr, "%s: %s: unsupported: sample rate %" PRIu32 " Hz\n", program, path, w->sample_rate);
        return -1;
    }
    *format = (formi_format){encoding, (int)w->sample_rate, w->channels};
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------------- */

/* Bytes of the canonical header for `tag`: RIFF/WAVE, fmt (16 bytes for PCM, 18 with cbSize for the
 * others), fact for non-PCM, and the data chunk's header. */
static size_t wav_header_size(uint16_t tag) { return tag == WAVE_FORMAT_PCM ? 44 : 58; }

/* Writes the header for `data_bytes` of `format`'s samples at the start of `f`. */
static int write_wav_header(FILE *f, const char *path, const formi_format *format, uint32_t data_bytes) {
    uint16_t bits;
    uint16_t tag = wav_tag(format->encoding, &bits);
    uint16_t block = (uint16_t)(format->channels * (bits / 8));
    uint8_t h[58], *p = h;
    size_t header = wav_header_size(tag);
    uint32_t riff_size = (uint32_t)(header - 8) + data_bytes + (data_bytes & 1);
    memcpy(p, "RIFF", 4);
    put32(p + 4, riff_size);
    memcpy(p + 8, "WAVE", 4);
    p += 12;
    memcpy(p, "fmt ", 4);
    put32(p + 4, tag == WAVE_FORMAT_PCM ? 16 : 18);
    put16(p + 8, tag);
    put16(p + 10, (uint16_t)format->channels);
    put32(p + 12, (uint32_t)format->sample_rate);
    put32(p + 16, (uint32_t)format->sample_rate * block);
    put16(p + 20, block);
    put16(p + 22, bits);
    p += 24;
    if (tag != WAVE_FORMAT_PCM) {
        put16(p, 0); /* cbSize: no extra format bytes */
        p += 2;
        memcpy(p, "fact", 4);
        put32(p + 4, 4);
        put32(p + 8, data_bytes / block); /* dwSampleLength: samples per channel */
        p += 12;
    }
    memcpy(p, "data", 4);
    put32(p + 4, data_bytes);
    p += 8;
    if ((size_t)(p - h) != header) return -1; /* cannot happen: the layout above is fixed */
    if (fseeko(f, 0, SEEK_SET) != 0 || fwrite(h, 1, header, f) != header) {
        fprintf(stderr, "%s: %s: cannot write the header: %s\n", program, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: %s IN.wav OUT.wav ENCODING RATE [CHANNELS]\n"
                    "  ENCODING  ulaw (pcmu), alaw (pcma), pcm16 (s16le), pcm8 (u8), f32 (float)\n"
                    "  RATE      8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000\n"
                    "  CHANNELS  1 or 2 (default: the input's)\n", program);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        usage();
        return 2;
    }
    const char *in_path = argv[1], *out_path = argv[2];
    int out_encoding = parse_encoding(argv[3]);
    long out_rate = parse_number(argv[4], 1, INT32_MAX);
    long out_channels = argc == 6 ? parse_number(argv[5], 1, 65535) : 0;
    if (out_encoding == 0) {
        fprintf(stderr, "%s: unknown encoding \"%s\"%s\n", program, argv[3],
                strcmp(argv[3], "pcm16be") == 0 || strcmp(argv[3], "l16") == 0 ? " (WAV holds little-endian samples only)" : "");
        usage();
        return 2;
    }
    if (out_rate < 0 || out_channels < 0) {
        fprintf(stderr, "%s: bad %s \"%s\"\n", program, out_rate < 0 ? "rate" : "channel count", out_rate < 0 ? argv[4] : argv[5]);
        usage();
        return 2;
    }

    int rc = 1, out_created = 0, status;
    FILE *in = NULL, *out = NULL;
    formi_transcoder *t = NULL;
    uint8_t *in_buf = NULL, *out_buf = NULL;
    wav_info w;
    formi_format in_format, out_format;

    in = fopen(in_path, "rb");
    if (in == NULL) {
        fprintf(stderr, "%s: %s: %s\n", program, in_path, strerror(errno));
        goto done;
    }
    if (read_wav_header(in, in_path, &w) != 0 || wav_to_format(in_path, &w, &in_format) != 0) goto done;
    out_format = (formi_format){out_encoding, (int)out_rate, out_channels ? (int)out_channels : in_format.channels};

    /* The transcoder checks both formats (rates, channels) and says what it does not support. */
    t = formi_transcoder_new(&in_format, &out_format, FORMI_RESAMPLER_QUALITY_DEFAULT, 0, &status);
    if (t == NULL) {
        library_error("formi_transcoder_new", status);
        goto done;
    }
    int latency = formi_transcoder_latency(t);
    if (latency < 0) {
        library_error("formi_transcoder_latency", latency);
        goto done;
    }

    /* Input 20 ms at a time; one output buffer sized for the largest chunk also holds what drain writes. */
    size_t chunk_frames = (size_t)in_format.sample_rate * CHUNK_MS / 1000;
    if (chunk_frames == 0) chunk_frames = 1;
    size_t chunk_bytes = chunk_frames * w.block_align;
    size_t out_capacity = formi_transcoder_max_output(t, chunk_bytes);
    if (out_capacity == 0) {
        fprintf(stderr, "%s: formi_transcoder_max_output: 0 for %zu bytes\n", program, chunk_bytes);
        goto done;
    }
    in_buf = malloc(chunk_bytes);
    out_buf = malloc(out_capacity);
    if (in_buf == NULL || out_buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", program);
        goto done;
    }

    /* Refuse to overwrite the input with the output (fopen "wb" would truncate it before it is read). */
    struct stat in_stat, out_stat;
    if (fstat(fileno(in), &in_stat) == 0 && stat(out_path, &out_stat) == 0 && in_stat.st_dev == out_stat.st_dev &&
        in_stat.st_ino == out_stat.st_ino) {
        fprintf(stderr, "%s: %s: the output is the input file\n", program, out_path);
        goto done;
    }
    out = fopen(out_path, "wb");
    if (out == NULL) {
        fprintf(stderr, "%s: %s: %s\n", program, out_path, strerror(errno));
        goto done;
    }
    out_created = 1;
    if (write_wav_header(out, out_path, &out_format, 0) != 0) goto done; /* placeholder, rewritten at the end */

    uint16_t out_bits;
    uint16_t out_tag = wav_tag(out_format.encoding, &out_bits);
    size_t out_block = (size_t)out_format.channels * (out_bits / 8);
    uint64_t out_bytes = 0, max_data = UINT32_MAX - wav_header_size(out_tag); /* RIFF sizes are 32-bit */
    uint32_t remaining = w.data_size;
    size_t chunks = 0;
    if (fseeko(in, w.data_offset, SEEK_SET) != 0) {
        fprintf(stderr, "%s: %s: cannot seek to the data: %s\n", program, in_path, strerror(errno));
        goto done;
    }
    for (int draining = 0; !draining;) {
        size_t n = remaining < chunk_bytes ? remaining : chunk_bytes, written = 0;
        if (n > 0) {
            if (fread(in_buf, 1, n, in) != n) {
                fprintf(stderr, "%s: %s: %s while reading the data\n", program, in_path, ferror(in) ? strerror(errno) : "unexpected end of file");
                goto done;
            }
            remaining -= (uint32_t)n;
            chunks++;
            status = formi_transcoder_process(t, in_buf, n, out_buf, out_capacity, &written);
            if (status != FORMI_OK) {
                library_error("formi_transcoder_process", status);
                goto done;
            }
        } else {
            draining = 1; /* the end of the data: the filter's tail */
            status = formi_transcoder_drain(t, out_buf, out_capacity, &written);
            if (status != FORMI_OK) {
                library_error("formi_transcoder_drain", status);
                goto done;
            }
        }
        if (written > max_data - out_bytes) {
            fprintf(stderr, "%s: %s: the output would exceed the 4 GiB a WAV file can hold\n", program, out_path);
            goto done;
        }
        if (written > 0 && fwrite(out_buf, 1, written, out) != written) {
            fprintf(stderr, "%s: %s: write error: %s\n", program, out_path, strerror(errno));
            goto done;
        }
        out_bytes += written;
    }
    if (out_bytes % out_block != 0) { /* the transcoder writes whole frames: this would be a library bug */
        fprintf(stderr, "%s: the transcoder wrote %" PRIu64 " bytes, not a whole number of %zu-byte frames\n", program, out_bytes, out_block);
        goto done;
    }
    if ((out_bytes & 1) && fputc(0, out) == EOF) { /* the data chunk's pad byte */
        fprintf(stderr, "%s: %s: write error: %s\n", program, out_path, strerror(errno));
        goto done;
    }
    if (write_wav_header(out, out_path, &out_format, (uint32_t)out_bytes) != 0) goto done;
    int closed = fclose(out);
    out = NULL;
    if (closed != 0) {
        fprintf(stderr, "%s: %s: %s\n", program, out_path, strerror(errno));
        goto done;
    }

    uint32_t in_frames = w.data_size / w.block_align;
    uint64_t out_frames = out_bytes / out_block;
    printf("in:  %s: %s %d Hz, %d channel%s (format tag 0x%04x%s, %u bits): %" PRIu32 " samples per channel, %.3f s\n", in_path,
           encoding_name(in_format.encoding), in_format.sample_rate, in_format.channels, in_format.channels == 1 ? "" : "s", w.tag,
           w.extensible ? " in WAVE_FORMAT_EXTENSIBLE" : "", w.bits, in_frames, (double)in_frames / in_format.sample_rate);
    if (w.skipped[0]) printf("     skipped chunks: %s\n", w.skipped);
    printf("out: %s: %s %d Hz, %d channel%s (format tag 0x%04x, %u bits%s): %" PRIu64 " samples per channel, %.3f s\n", out_path,
           encoding_name(out_format.encoding), out_format.sample_rate, out_format.channels, out_format.channels == 1 ? "" : "s",
           out_tag, out_bits, out_tag == WAVE_FORMAT_PCM ? "" : ", fact chunk", out_frames, (double)out_frames / out_format.sample_rate);
    printf("transcoder: %zu chunk%s of %d ms, latency %d samples (%.3f ms) at %d Hz\n", chunks, chunks == 1 ? "" : "s", CHUNK_MS, latency,
           1000.0 * latency / out_format.sample_rate, out_format.sample_rate);
    rc = 0;

done:
    if (out != NULL) fclose(out);
    if (rc != 0 && out_created) remove(out_path); /* no half-written output left behind */
    if (in != NULL) fclose(in);
    formi_transcoder_free(t);
    free(in_buf);
    free(out_buf);
    return rc;
}
