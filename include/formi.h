/* libformi: telephony <-> voice-AI adapter library.
 *
 * The C API of libformi.so. Conventions that hold for every function unless its comment says otherwise:
 *
 *  - Status: functions return an int status, FORMI_OK (0) on success or a negative FORMI_E* code.
 *    formi_strerror() names a code; formi_last_error() gives the message of the last failed call on the
 *    calling thread, with the detail (which argument, which offset).
 *  - Buffers: a (pointer, length) pair may have a NULL pointer only when the length is 0. Lengths are
 *    counts of elements of the pointed-to type (samples for int16_t and float, bytes for uint8_t, char
 *    and void). An output buffer too small for the whole result gives FORMI_EBUFFER and no partial
 *    result. Nothing is ever written past the length given. Input and output must not overlap.
 *  - Ownership: the caller owns every buffer it passes; the library keeps no pointer to it after the call
 *    returns. Strings the library allocates for the caller are released with formi_free(); strings it
 *    returns as `const char *` are static or owned by a handle, as documented.
 *  - Threads: the stateless functions (codecs, base64, version, strerror) may be called from any number
 *    of threads at once. Handles (later: resampler, session, ...) are not internally locked: use one from
 *    one thread at a time.
 *  - Robustness: no input makes the library abort or trap; every bad input is a status code.
 *  - Samples: "pcm" is signed 16-bit linear PCM in host byte order, interleaved when stereo.
 */
#ifndef FORMI_H
#define FORMI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------------------------------ */

#define FORMI_VERSION_MAJOR 0
#define FORMI_VERSION_MINOR 1
#define FORMI_VERSION_PATCH 0
#define FORMI_VERSION "0.1.0"
/** FORMI_VERSION as one number: major * 10000 + minor * 100 + patch. */
#define FORMI_VERSION_NUMBER (FORMI_VERSION_MAJOR * 10000 + FORMI_VERSION_MINOR * 100 + FORMI_VERSION_PATCH)

/** The version of the loaded library, e.g. "0.1.0". Static string; never NULL. */
const char *formi_version(void);

/** The version of the loaded library as FORMI_VERSION_NUMBER computes it (compare with the header's). */
int formi_version_number(void);

/* ---- Status codes ------------------------------------------------------------------------------- */

#define FORMI_OK            0   /**< Success. */
#define FORMI_EINVAL      (-1)  /**< Invalid argument: NULL pointer with a non-zero length, value out of range. */
#define FORMI_ENOMEM      (-2)  /**< Out of memory. */
#define FORMI_EBUFFER     (-3)  /**< Output buffer too small; nothing was written. */
#define FORMI_ELENGTH     (-4)  /**< Input length not a whole number of samples or frames (e.g. odd bytes of 16-bit PCM). */
#define FORMI_EOVERFLOW   (-5)  /**< A length or size overflows (count * element size beyond the address space). */
#define FORMI_EBASE64     (-6)  /**< Invalid base64: bad character, bad length or bad padding. */
#define FORMI_EJSON       (-7)  /**< Malformed JSON, or JSON of the wrong shape. */
#define FORMI_EUNSUPPORTED (-8) /**< Unsupported format, sample rate, channel count or option. */
#define FORMI_ESTATE      (-9)  /**< Not allowed in the current state (e.g. an event out of order). */
#define FORMI_ENOTFOUND   (-10) /**< No such name or id (e.g. an unknown provider). */
#define FORMI_ELIMIT      (-11) /**< A configured limit was exceeded (size, depth, queue). */
#define FORMI_ETEMPLATE   (-12) /**< Invalid template or definition. */
#define FORMI_ESTORAGE    (-13) /**< Storage error. */
#define FORMI_EINTERNAL   (-14) /**< Internal error: a bug in libformi; please report it. */

/** A short fixed description of a status code ("unknown status code" for others). Static; never NULL. */
const char *formi_strerror(int status);

/**
 * The message of the most recent failed call on the calling thread, e.g.
 * "invalid base64: byte 0x25 '%' at offset 17 is not in the alphabet"; "" if none has failed.
 * Like errno, a successful call leaves it unchanged. The string belongs to the library and stays valid
 * until the next failed call on the same thread, or the thread's exit; copy it to keep it.
 */
const char *formi_last_error(void);

/** Releases memory the library allocated for the caller. NULL is a no-op. */
void formi_free(void *ptr);

/* ---- G.711 --------------------------------------------------------------------------------------
 * ITU-T G.711, bit-exact to the G.191 reference (verified by CRC-32 over all 65536 inputs).
 * One code byte per sample. Silence is 0xFF in mu-law and 0xD5 in A-law.
 * Errors: FORMI_EINVAL (NULL with a non-zero length), FORMI_EBUFFER (output smaller than the input
 * count), FORMI_EOVERFLOW (a count beyond the address space).
 */

/** Encodes `samples` pcm samples to mu-law (PCMU): `out` must hold `samples` bytes. */
int formi_ulaw_encode(const int16_t *pcm, size_t samples, uint8_t *out, size_t out_size);

/** Decodes `size` mu-law bytes to pcm: `out` must hold `size` samples. */
int formi_ulaw_decode(const uint8_t *ulaw, size_t size, int16_t *out, size_t out_samples);

/** Encodes `samples` pcm samples to A-law (PCMA): `out` must hold `samples` bytes. */
int formi_alaw_encode(const int16_t *pcm, size_t samples, uint8_t *out, size_t out_size);

/** Decodes `size` A-law bytes to pcm: `out` must hold `size` samples. */
int formi_alaw_decode(const uint8_t *alaw, size_t size, int16_t *out, size_t out_samples);

/* ---- PCM sample formats -------------------------------------------------------------------------
 * "encode" turns host pcm into the wire format, "decode" the reverse. Wire bytes need no alignment.
 * Errors as for G.711, plus FORMI_ELENGTH when 16-bit wire data has an odd number of bytes.
 */

/** pcm to 16-bit little-endian bytes (s16le): `out` must hold 2 * `samples` bytes. */
int formi_pcm16le_encode(const int16_t *pcm, size_t samples, void *out, size_t out_size);

/** 16-bit little-endian bytes to pcm: `size` must be even; `out` must hold `size` / 2 samples. */
int formi_pcm16le_decode(const void *bytes, size_t size, int16_t *out, size_t out_samples);

/** pcm to 16-bit big-endian bytes (s16be, network order, RFC 3551 "L16"): `out` must hold 2 * `samples` bytes. */
int formi_pcm16be_encode(const int16_t *pcm, size_t samples, void *out, size_t out_size);

/** 16-bit big-endian bytes to pcm: `size` must be even; `out` must hold `size` / 2 samples. */
int formi_pcm16be_decode(const void *bytes, size_t size, int16_t *out, size_t out_samples);

/** pcm to unsigned 8-bit (silence 128), rounded to nearest and saturated: `out` must hold `samples` bytes. */
int formi_pcm8_encode(const int16_t *pcm, size_t samples, uint8_t *out, size_t out_size);

/** Unsigned 8-bit to pcm, (u - 128) << 8: `out` must hold `samples` samples. */
int formi_pcm8_decode(const uint8_t *pcm8, size_t samples, int16_t *out, size_t out_samples);

/** pcm to float32 in [-1, 1): sample / 32768, exact. `out` must hold `samples` floats. */
int formi_f32_encode(const int16_t *pcm, size_t samples, float *out, size_t out_samples);

/**
 * float32 to pcm: value * 32768 rounded to nearest (ties to even) and saturated to [-32768, 32767];
 * NaN becomes 0. `out` must hold `samples` samples. pcm -> f32 -> pcm is exact.
 */
int formi_f32_decode(const float *f32, size_t samples, int16_t *out, size_t out_samples);

/* ---- Channels ------------------------------------------------------------------------------------ */

/**
 * Interleaved stereo pcm (`frames` left/right pairs, 2 * `frames` samples) to mono: the mean of the two
 * channels, rounded half away from zero. `out` must hold `frames` samples.
 */
int formi_stereo_to_mono(const int16_t *stereo, size_t frames, int16_t *out, size_t out_samples);

/** Mono pcm to interleaved stereo, each sample on both channels. `out` must hold 2 * `samples` samples. */
int formi_mono_to_stereo(const int16_t *mono, size_t samples, int16_t *out, size_t out_samples);

/* ---- Base64 (RFC 4648 section 4: standard alphabet, '=' padding, no line breaks) ----------------- */

/** The base64 length of `n` bytes (no NUL terminator counted). */
#define FORMI_BASE64_ENCODED_SIZE(n) ((((size_t)(n) + 2) / 3) * 4)
/** An upper bound on the bytes that `n` base64 characters decode to. */
#define FORMI_BASE64_DECODED_MAX(n) (((size_t)(n) / 4) * 3)

/**
 * Encodes `size` bytes of `data` as base64 text into `out` (not NUL-terminated).
 * On success *out_len is the text length, FORMI_BASE64_ENCODED_SIZE(size). On FORMI_EBUFFER nothing is
 * written to `out` and *out_len is the size needed. `out_len` must not be NULL.
 */
int formi_base64_encode(const void *data, size_t size, char *out, size_t out_size, size_t *out_len);

/**
 * Decodes `length` characters of strict base64 `text` into `out`; *out_len is the number of bytes.
 * Strict: the length must be a multiple of 4, every character in the alphabet, '=' only as the final
 * padding ("xx==" or "xxx="), and the bits under the padding zero, so each byte string has exactly one
 * accepted text. Errors: FORMI_EBASE64 with the offending offset in formi_last_error(); FORMI_EBUFFER
 * with *out_len set to the size needed (FORMI_BASE64_DECODED_MAX(length) always suffices).
 * On error the contents of `out` are unspecified (but nothing is written past `out_size`).
 */
int formi_base64_decode(const char *text, size_t length, void *out, size_t out_size, size_t *out_len);

/* ---- Handles -------------------------------------------------------------------------------------
 * Stateful objects are opaque handles: created by formi_X_new (which returns NULL and sets *status on
 * failure; `status` may be NULL), used from one thread at a time, released by formi_X_free (NULL is a
 * no-op; using a handle after freeing it is undefined). Handles of different objects are independent.
 */
#ifdef FORMI_DRIFT_CHECK /* set only by the build's header check: Swift sees handles as void pointers */
#define FORMI_HANDLE(name) typedef void name
#else
#define FORMI_HANDLE(name) typedef struct name name
#endif

/* ---- Audio formats ------------------------------------------------------------------------------- */

#define FORMI_ENCODING_ULAW    1 /**< G.711 mu-law, 1 byte per sample. */
#define FORMI_ENCODING_ALAW    2 /**< G.711 A-law, 1 byte per sample. */
#define FORMI_ENCODING_PCM16LE 3 /**< Signed 16-bit little-endian. */
#define FORMI_ENCODING_PCM16BE 4 /**< Signed 16-bit big-endian (network order, "L16"). */
#define FORMI_ENCODING_PCM8    5 /**< Unsigned 8-bit, silence 128. */
#define FORMI_ENCODING_F32LE   6 /**< IEEE float32 little-endian, full scale +-1. */

/**
 * An audio format: one of FORMI_ENCODING_*, a sample rate among 8000, 11025, 12000, 16000, 22050,
 * 24000, 32000, 44100 and 48000 Hz, and 1 or 2 channels (interleaved).
 */
typedef struct formi_format {
    int encoding;
    int sample_rate;
    int channels;
} formi_format;

/* ---- Resampler (libspeexdsp) ---------------------------------------------------------------------
 * A streaming sample-rate converter for interleaved pcm. State carries across calls: a signal fed in one
 * call or in any chunking gives the same samples, and it never resets itself (not on silence either).
 * Output is never held back while the filter fills: the filter's delay is in the signal, as
 * formi_resampler_latency() frames. Equal rates are an exact pass-through with no delay.
 * Memory: about 20 KB per resampler at the default quality, allocated at creation.
 */

/** Quality 0...10 (speexdsp's scale). The default, 5: flat to 3.4 kHz, 16k->8k aliases 90+ dB down, 5 ms delay. */
#define FORMI_RESAMPLER_QUALITY_DEFAULT 5

FORMI_HANDLE(formi_resampler);

/**
 * A resampler for `channels` (1 or 2) from `in_rate` to `out_rate` Hz (rates as for formi_format).
 * Errors in *status: FORMI_EUNSUPPORTED (rate or channels), FORMI_EINVAL (quality outside 0...10),
 * FORMI_ENOMEM.
 */
formi_resampler *formi_resampler_new(int channels, int in_rate, int out_rate, int quality, int *status);

/** The most frames formi_resampler_process() can write for `in_frames` input frames; 0 if `r` is NULL or it overflows. */
size_t formi_resampler_max_output(const formi_resampler *r, size_t in_frames);

/**
 * Converts all `in_frames` frames of `in` and writes the result to `out` (room for `out_frames` frames);
 * *written receives the frames written. All or nothing: if `out_frames` is below
 * formi_resampler_max_output(r, in_frames), returns FORMI_EBUFFER with *written set to that size, and
 * consumes nothing.
 */
int formi_resampler_process(formi_resampler *r, const int16_t *in, size_t in_frames, int16_t *out, size_t out_frames,
                            size_t *written);

/**
 * Ends the stream: writes the filter's tail (the last formi_resampler_latency() frames of audio), then
 * resets for a new stream. `out` needs room for formi_resampler_max_output(r, 0) + latency frames;
 * FORMI_EBUFFER otherwise (with *written set to the size needed).
 */
int formi_resampler_drain(formi_resampler *r, int16_t *out, size_t out_frames, size_t *written);

/**
 * The filter's delay in output frames: an impulse at input frame i peaks at output frame
 * i * out_rate / in_rate + latency (to half a frame where that delay is fractional). FORMI_EINVAL for NULL.
 */
int formi_resampler_latency(const formi_resampler *r);

/** Forgets the history, for a new, unrelated stream. */
int formi_resampler_reset(formi_resampler *r);

void formi_resampler_free(formi_resampler *r);

/* ---- Transcoder -----------------------------------------------------------------------------------
 * One streaming conversion from any formi_format to any other (encoding x rate x channels), optionally
 * cut into exact frames: `frame_bytes` > 0 makes every output a whole number of frames of that size
 * (Twilio: 160 for mu-law 8 kHz; Vonage: 640 for L16 16 kHz; Exotel: 320), keeping the remainder for the
 * next call; drain pads the last one with the encoding's silence (mu-law 0xFF, A-law 0xD5, PCM 0).
 * Input must be whole frames of samples (FORMI_ELENGTH otherwise, nothing consumed). Identical formats
 * pass through bit-exactly. No allocation after creation (about 30 KB plus the resampler).
 */

FORMI_HANDLE(formi_transcoder);

/**
 * Errors in *status: FORMI_EINVAL (NULL format, quality outside 0...10, `frame_bytes` not a multiple of
 * the output's bytes per frame or above 1 MiB), FORMI_EUNSUPPORTED (encoding, rate or channels), FORMI_ENOMEM.
 */
formi_transcoder *formi_transcoder_new(const formi_format *in, const formi_format *out, int quality, size_t frame_bytes,
                                       int *status);

/**
 * The most bytes formi_transcoder_process() writes for `in_bytes` of input, which also covers what
 * formi_transcoder_drain() writes: size the output buffer once with the largest input you will pass.
 * 0 if `t` is NULL or it overflows.
 */
size_t formi_transcoder_max_output(const formi_transcoder *t, size_t in_bytes);

/**
 * Converts all `in_bytes` of `in` into `out`; *out_len receives the bytes written (a multiple of
 * frame_bytes when framing). All or nothing: FORMI_ELENGTH for a partial input frame, FORMI_EBUFFER
 * (with *out_len set to the size needed) when `out_size` is below formi_transcoder_max_output().
 */
int formi_transcoder_process(formi_transcoder *t, const void *in, size_t in_bytes, void *out, size_t out_size,
                             size_t *out_len);

/** Ends the stream: the filter's tail and the padded last frame; then resets for a new stream. */
int formi_transcoder_drain(formi_transcoder *t, void *out, size_t out_size, size_t *out_len);

/** The conversion's delay in output frames (see formi_resampler_latency). FORMI_EINVAL for NULL. */
int formi_transcoder_latency(const formi_transcoder *t);

/** Forgets all state (filter history, held-back bytes), for a new, unrelated stream. */
int formi_transcoder_reset(formi_transcoder *t);

void formi_transcoder_free(formi_transcoder *t);

/* ---- Provider events -----------------------------------------------------------------------------
 * A provider is a JSON template (seed format: `detection_pattern` / `extraction_map`, extended with the
 * outgoing direction, the audio format and the transport) that maps each WebSocket message of one
 * telephony provider to one internal event. Built-in: twilio, exotel, plivo, telnyx, vonage, jambonz,
 * asterisk (chan_websocket, JSON control), asterisk-text (plain-text control), audiosocket.
 */

#define FORMI_EVENT_CONNECTED 1 /**< The provider's handshake. */
#define FORMI_EVENT_START     2 /**< Call metadata: ids, direction, caller, media format, custom parameters. */
#define FORMI_EVENT_MEDIA     3 /**< Caller audio: `audio`, in `format`. */
#define FORMI_EVENT_DTMF      4 /**< A key press: `digit`. */
#define FORMI_EVENT_MARK      5 /**< A mark echoed back once the audio before it played: `mark`. */
#define FORMI_EVENT_CLEAR     6 /**< The provider confirms that queued audio was cleared. */
#define FORMI_EVENT_STOP      7 /**< The call's stream ended. */
#define FORMI_EVENT_ERROR     8 /**< Not mappable: `error` says why (the message is otherwise ignored). */
#define FORMI_EVENT_IGNORED   9 /**< Known to the template but of no interest (e.g. Asterisk MEDIA_XOFF). */

/** A text view: `len` bytes at `data`, not NUL-terminated; `data` is NULL when the field is absent. */
typedef struct formi_text {
    const char *data;
    size_t len;
} formi_text;

/**
 * One mapped provider message. Views (formi_text, `audio`) point into the message or into the provider
 * handle's buffers: they stay valid until the next mapping call on the same handle, and only while the
 * message bytes are alive and unchanged. Integer fields are -1 when absent.
 */
typedef struct formi_event {
    int kind;                     /**< FORMI_EVENT_* */
    formi_format format;          /**< `audio`'s format; for START, the call's format (start's fields over the template's defaults). */
    const uint8_t *audio;         /**< MEDIA: the audio bytes, decoded from base64 where the provider sends text. */
    size_t audio_len;
    int64_t sequence;             /**< The provider's message sequence number. */
    int64_t timestamp;            /**< Media timestamp in ms, as the provider counts it. */
    int64_t chunk;                /**< Media chunk number. */
    int64_t duration_ms;          /**< DTMF duration. */
    formi_text stream_id, call_id, account_id, track, digit, mark, direction, from, to, reason;
    formi_text custom_parameters; /**< START: a JSON object of the call's custom parameters. */
    formi_text error;             /**< ERROR: what was wrong, e.g. "media: audio at media.payload: invalid base64 ...". */
    formi_text pattern;           /**< The name of the template pattern that matched. */
} formi_event;

FORMI_HANDLE(formi_provider);

/**
 * A built-in provider by name (see above). FORMI_ENOTFOUND (with the known names in
 * formi_last_error()) for an unknown name.
 */
formi_provider *formi_provider_builtin(const char *name, int *status);

/**
 * A provider from a JSON template (`len` bytes). The template is validated as a whole: FORMI_ETEMPLATE
 * (or FORMI_EJSON) with every problem, each naming its field, in formi_last_error().
 */
formi_provider *formi_provider_from_json(const char *json, size_t len, int *status);

/**
 * Every problem of a template as a JSON array of {"field","message"} objects ("[]" when valid), in
 * *report (free with formi_free). Returns FORMI_OK when the template is valid, FORMI_ETEMPLATE or
 * FORMI_EJSON when not (the report is set either way).
 */
int formi_provider_validate_json(const char *json, size_t len, char **report);

/** The provider's name (owned by the handle). */
const char *formi_provider_name(const formi_provider *provider);

/**
 * Maps one message (a text frame, or a binary frame with `is_binary` non-zero) to `*event`. Returns
 * FORMI_OK for every message, mappable or not: an unmappable one (malformed JSON, unknown event, missing
 * field, bad base64, binary where the provider sends text) gives a FORMI_EVENT_ERROR event. Errors are
 * only for bad arguments. No allocation once warm. One thread at a time per handle.
 */
int formi_provider_map(formi_provider *provider, const void *message, size_t len, int is_binary, formi_event *event);

/**
 * The same mapping as JSON, e.g. {"event":"media","pattern":"media","stream_id":"MZ1","sequence":3,
 * "audio":{"bytes":160,"base64":"..."},"format":{"encoding":"ulaw","sample_rate":8000,"channels":1}},
 * in *out_json (NUL-terminated; free with formi_free).
 */
int formi_provider_map_json(formi_provider *provider, const void *message, size_t len, int is_binary, char **out_json);

void formi_provider_free(formi_provider *provider);

#ifdef __cplusplus
}
#endif

#endif /* FORMI_H */
