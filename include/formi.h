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
 *    A length that claims more than the buffer holds is the caller's undefined behaviour, as in any C
 *    library; but size limits are checked before the buffer is read, so an oversize length is refused
 *    without reading or copying anything (JSON inputs: 1 MiB for provider templates, mapped messages,
 *    flow run inputs and events and template variables; 16 MiB for flows and flow edits; 32 MiB for
 *    ledger inputs; a session's max_message_bytes).
 *  - Ownership: the caller owns every buffer it passes; the library keeps no pointer to it after the call
 *    returns. Strings the library allocates for the caller are released with formi_free(); strings it
 *    returns as `const char *` are static or owned by a handle, as documented.
 *  - Threads: the stateless functions (codecs, base64, templates, version, strerror) may be called from
 *    any number of threads at once. Handles (resampler, transcoder, provider, session, flow run) are not
 *    internally locked: use one from one thread at a time (flows: see their section).
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
#define FORMI_EBUSY       (-15) /**< Another process held a lock until the timeout; nothing was done: retry. */

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

/* ---- Resampler -----------------------------------------------------------------------------------
 * A streaming sample-rate converter for interleaved pcm. State carries across calls: a signal fed in one
 * call or in any chunking gives the same samples, and it never resets itself (not on silence either).
 * Output is never held back while the filter fills: the filter's delay is in the signal, as
 * formi_resampler_latency() frames. Equal rates are an exact pass-through with no delay.
 *
 * Two engines, chosen by `quality`:
 *  - FORMI_RESAMPLER_QUALITY_DEFAULT (-1): libformi's own polyphase FIR for every pair of 8, 16, 24, 32 and
 *    48 kHz (SIMD, AVX2 where the CPU has it): flat (+-0.001 dB) to 0.425 of the lower rate (3.4 kHz at
 *    8 kHz), 2.6 dB down at 0.475 (3.8 kHz), aliases and images 94+ dB down from 0.55 (4.4 kHz), at most
 *    3 ms of delay; under 8 KB. Any other pair (11.025, 12, 22.05, 44.1 kHz) uses speexdsp at quality 5.
 *  - 0...10: libspeexdsp at that quality (its scale) for every pair. Quality 5: flat to 3.4 kHz, 16k->8k
 *    aliases 90+ dB down, 3.8 kHz 18 dB down, 5 ms delay; about 20 KB.
 */

/** The default: libformi's own FIR where it has one, speexdsp quality 5 elsewhere. 0...10 selects speexdsp. */
#define FORMI_RESAMPLER_QUALITY_DEFAULT (-1)

FORMI_HANDLE(formi_resampler);

/**
 * A resampler for `channels` (1 or 2) from `in_rate` to `out_rate` Hz (rates as for formi_format).
 * Errors in *status: FORMI_EUNSUPPORTED (rate or channels), FORMI_EINVAL (quality outside -1...10),
 * FORMI_ENOMEM.
 * The result is freed with formi_resampler_free(); NULL is a no-op there.
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
 * Errors in *status: FORMI_EINVAL (NULL format, quality outside -1...10, `frame_bytes` not a multiple of
 * the output's bytes per frame or above 1 MiB), FORMI_EUNSUPPORTED (encoding, rate or channels), FORMI_ENOMEM.
 * The result is freed with formi_transcoder_free(); NULL is a no-op there.
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
/*
 * The public structs that may grow (formi_session_config, formi_event, formi_playback) begin with their
 * `size`: the caller sets it (formi_session_config_init does for a config; FORMI_EVENT_INIT and
 * FORMI_PLAYBACK_INIT, or `sizeof`, for the others) and the library reads and writes no field beyond it,
 * so a program built against this header keeps working with a later library whose structs have grown.
 * A size smaller than this version's struct is FORMI_EINVAL.
 */

typedef struct formi_event {
    size_t size;                  /**< sizeof(formi_event), set by the caller: FORMI_EVENT_INIT. */
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

/** An initialiser for a formi_event: `formi_event e = FORMI_EVENT_INIT;` */
#define FORMI_EVENT_INIT { .size = sizeof(formi_event) }

FORMI_HANDLE(formi_provider);

/**
 * A built-in provider by name (see above). FORMI_ENOTFOUND (with the known names in
 * formi_last_error()) for an unknown name.
 * The result is freed with formi_provider_free(); NULL is a no-op there.
 */
formi_provider *formi_provider_builtin(const char *name, int *status);

/**
 * A provider from a JSON template (`len` bytes). The template is validated as a whole: FORMI_ETEMPLATE
 * (or FORMI_EJSON) with every problem, each naming its field, in formi_last_error().
 * The result is freed with formi_provider_free(); NULL is a no-op there.
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

/* ---- Sessions ------------------------------------------------------------------------------------ */

/*
 * A session is one call, at one end of it. It is sans-I/O: it opens no socket, starts no thread and
 * never sleeps. The host feeds in what it receives (formi_session_receive), its own audio
 * (formi_session_send_audio) and its clock (formi_session_set_time), and takes out internal events
 * (formi_session_next_event) and messages to send (formi_session_next_output). The same provider
 * templates serve both roles:
 *
 *  - FORMI_ROLE_AGENT_SERVER, the /ws-adapter side: provider messages in -> events (MEDIA already
 *    decoded and resampled to `local_format`); agent audio in `local_format` -> the provider's media
 *    messages, encoded, resampled and cut into exactly the frames the provider accepts. Marks, barge-in
 *    (formi_session_interrupt sends the provider's clear and drops every unsent agent frame at once) and
 *    playback truth (formi_session_playback: how much of the agent's utterance the caller heard).
 *  - FORMI_ROLE_TELEPHONY, what a PBX module or SIP stack embeds to talk to any agent server: the session
 *    speaks as the provider. It queues the provider's connected/start at creation, turns caller audio into
 *    media messages, puts the agent's audio in a playback queue the host reads at its own 20 ms clock
 *    (formi_session_read_audio), empties it on clear, and echoes marks exactly when the audio before
 *    them has been read.
 *
 * Call lifecycle: awaiting_handshake -> (connected) -> awaiting_start -> (start) -> streaming -> (stop)
 * -> stopped. `start` may stand in for `connected`. Input out of order, by policy:
 *  - media before start: held (up to `early_media_frames`) and delivered once start gives the format;
 *    beyond that an ERROR event, and the held frames are dropped and counted lost;
 *  - a second connected or start: an ERROR event; the message is rejected (the first start stands);
 *  - anything after stop or formi_session_end(): an ERROR event; rejected;
 *  - malformed, unknown, oversize messages, bad base64: an ERROR event; the session carries on.
 * Media with chunk (or sequence) numbers is put back in order within `reorder_window` frames (Telnyx
 * may reorder); frames that come after their turn are dropped as late, gaps past the window are lost;
 * in-order media is never delayed. The counters are in formi_session_stats_json(). A provider that asks
 * for a pause (Asterisk's MEDIA_XOFF, per its template's flow_control) gets no media from next_output
 * until it resumes (MEDIA_XON); the audio waits, counted against max_queued_ms.
 *
 * Memory is bounded per session: about 2 x max_message_bytes for reading messages; the events and
 * messages not yet taken (receive refuses input with FORMI_ELIMIT while 1024 events wait); agent audio
 * up to max_queued_ms (as unsent messages, or as playback in local_format); reorder_window +
 * early_media_frames held frames; and fixed resampler state (tens of KiB). Nothing is allocated per
 * frame once a session is warm.
 *
 * Views returned (event fields, message bytes) stay valid until the next call on the same session.
 * A session is not locked: use it from one thread at a time. It keeps what it needs of the provider,
 * which may be freed once the session exists.
 */

#define FORMI_ROLE_AGENT_SERVER 1 /**< The agent server's end: provider messages in, agent audio out. */
#define FORMI_ROLE_TELEPHONY    2 /**< The telephony end: speaks as the provider to an agent server. */

typedef struct formi_session_config {
    size_t size;                     /**< sizeof(formi_session_config): set by formi_session_config_init. */
    int role;                        /**< FORMI_ROLE_*. */
    formi_format local_format;       /**< The host's audio: the agent's (agent server) or the PBX's (telephony). */
    formi_format call_format;        /**< Telephony role: the format on the wire; encoding 0 = the template's.
                                          The agent-server role learns it from the provider's start. */
    uint32_t max_queued_ms;          /**< Most agent audio waiting: unsent (agent server) or unplayed (telephony). */
    uint32_t max_message_bytes;      /**< Larger messages are ERROR events. 64 ... 16 MiB. */
    uint32_t reorder_window;         /**< Media frames held to restore order; 0 = deliver as received. 0 ... 64. */
    uint32_t early_media_frames;     /**< Media frames held while waiting for start. 0 ... 3000. */
    uint32_t mark_interval_ms;       /**< Agent server: the session's own playback marks every this much agent
                                          audio (0 = none: only your marks and the clock). */
    int32_t output_lead_ms;          /**< Agent server: most audio released ahead of the clock; -1 = the
                                          template's rule (60 ms where the provider plays frames as they come,
                                          as AudioSocket does; unlimited where it buffers). 0 ... 3600000, or -1;
                                          anything else is FORMI_EINVAL. */
    int32_t resampler_quality;       /**< -1 ... 10, as for formi_resampler_new. */
    /* Telephony role: the call announced in the provider's start message. NULL = empty. */
    const char *stream_id;
    const char *call_id;             /**< AudioSocket: a UUID. */
    const char *account_id;
    const char *from;
    const char *to;
    const char *direction;           /**< NULL = "inbound". */
    const char *custom_parameters;   /**< A JSON object's text; NULL = {}. */
    const char *caller_track;        /**< Agent server: the track value of the caller's media (both-tracks
                                          streams also carry the agent's own audio, counted as
                                          other_track_frames and dropped). NULL = the template's
                                          ("inbound"); "" = every track. */
    formi_format agent_format;       /**< The format of the agent's audio on the wire, where the provider
                                          fixes it apart from the call's (Telnyx's bidirectional codec);
                                          encoding 0 = the template's rule, else the call's format. */
    formi_format send_format;        /**< The host's audio for formi_session_send_audio where it differs from
                                          local_format (an agent that hears at 16 kHz and speaks at
                                          24 kHz); encoding 0 = local_format. */
    uint32_t frame_ms;               /**< Agent server: the duration of each media message where the provider
                                          takes any (its template frames by milliseconds, without
                                          strict_frames), e.g. a pipeline's own chunk; 0 = the template's
                                          rule. 0 ... 1000. */
    int strict;                      /**< Telephony: an ERROR event for each provider rule the agent server
                                          breaks (media for another stream, which is dropped as the
                                          provider drops it; frame sizes or encoding names the provider
                                          refuses). Default 1. */
} formi_session_config;

/**
 * Fills `config` with the defaults for `role`: local_format PCM16LE 16 kHz mono, call_format from the
 * template, max_queued_ms 60000, max_message_bytes 262144, reorder_window 4, early_media_frames 50,
 * mark_interval_ms 200, output_lead_ms -1, resampler_quality FORMI_RESAMPLER_QUALITY_DEFAULT, no call
 * metadata, caller_track NULL, agent_format and send_format encoding 0, frame_ms 0, strict 1.
 * FORMI_EINVAL for a NULL config or an unknown role.
 */
int formi_session_config_init(formi_session_config *config, int role);

FORMI_HANDLE(formi_session);

/**
 * A session speaking `provider`'s protocol. Errors in *status: FORMI_EINVAL (NULL argument, value out
 * of range, custom_parameters not a JSON object, AudioSocket call_id not a UUID), FORMI_EUNSUPPORTED
 * (formats, or a template without what the role needs, e.g. no events.telephony), FORMI_ENOMEM. The
 * telephony role has its first messages (connected, start) waiting in formi_session_next_output().
 * The result is freed with formi_session_free(); NULL is a no-op there.
 */
formi_session *formi_session_new(const formi_provider *provider, const formi_session_config *config, int *status);

/**
 * One received frame (text, or binary with `is_binary` non-zero; for AudioSocket, any piece of the TCP
 * stream: frames may straddle calls). Whatever is wrong with it becomes an ERROR event: returns FORMI_OK
 * for every frame, except FORMI_EINVAL (NULL with a length) and FORMI_ELIMIT when 1024 events wait to
 * be taken, or (AudioSocket) when this read's frames would pass that cap (nothing is consumed then: take
 * events and call again, or use formi_session_receive_part).
 */
int formi_session_receive(formi_session *s, const void *data, size_t len, int is_binary);

/**
 * As formi_session_receive, but takes only as much as there is room for: for AudioSocket's byte stream,
 * the frames whose events fit under the 1024-event cap. *consumed gets the bytes taken; when fewer than
 * `len` (or none, while events wait at the cap), returns FORMI_ELIMIT: take events, then pass the rest
 * (data + *consumed). Any other transport's frame is taken whole or not at all. formi_session_receive
 * refuses (consuming nothing, FORMI_ELIMIT) a read that carries more AudioSocket frames than that room.
 * FORMI_EINVAL for NULL `consumed` or NULL `data` with a length.
 */
int formi_session_receive_part(formi_session *s, const void *data, size_t len, int is_binary, size_t *consumed);

/**
 * The next event into *event: returns 1 when one was written, 0 when none waits, or a negative status.
 * Agent server: CONNECTED, START, MEDIA (audio in local_format), DTMF, MARK (your marks, with `reason`
 * "played" or "cleared"), CLEAR, STOP, ERROR. Telephony: CLEAR (the agent interrupted), STOP (it hung
 * up), ERROR; agent audio goes to the playback queue instead of events. Views valid until the next call
 * on the session.
 */
int formi_session_next_event(formi_session *s, formi_event *event);

/** A message to send: `len` bytes at `data`, as a binary frame when `is_binary` (else text). */
typedef struct formi_message {
    const uint8_t *data;
    size_t len;
    int is_binary;
} formi_message;

/**
 * The next message to send into *message: returns 1 when one was written, 0 when nothing is due now (with
 * pacing: call again after formi_session_set_time), or a negative status. Bytes valid until the next call
 * on the session. Agent server: media, marks, clear, hangup; telephony: connected, start, media, DTMF,
 * mark echoes, cleared, stop.
 */
int formi_session_next_output(formi_session *s, formi_message *message);

/**
 * The host's audio in local_format (`len` bytes, whole frames): the agent's (agent server) or the caller's
 * (telephony). Converted and framed at once; the messages wait in next_output. Errors, with nothing
 * sent: FORMI_ESTATE (agent server before start, either role after the end), FORMI_ELENGTH (a partial
 * frame), FORMI_ELIMIT (agent server: more than max_queued_ms would wait unsent).
 */
int formi_session_send_audio(formi_session *s, const void *data, size_t len);

/**
 * Agent server: the end of an utterance. The last partial frame goes out padded with silence, followed
 * by a playback mark; the next audio starts a new utterance. FORMI_ESTATE when not streaming.
 */
int formi_session_flush(formi_session *s);

/**
 * Agent server: a mark named `name` (NUL-terminated, 1 to 256 bytes, not starting "formi-") after the
 * audio sent so far, which is flushed first. A MARK event comes back with reason "played" when the caller
 * has heard that audio (from the provider's echo, or by the clock for providers without marks), or
 * "cleared" when an interrupt discarded it. FORMI_ESTATE when not streaming, FORMI_EINVAL for a bad name.
 */
int formi_session_send_mark(formi_session *s, const char *name);

/** Playback truth of the current utterance (agent server). */
typedef struct formi_playback {
    size_t size;           /**< sizeof(formi_playback), set by the caller: FORMI_PLAYBACK_INIT. */
    int64_t utterance;     /**< Utterances counted from 1; 0 before any agent audio was sent. */
    int64_t sent_ms;       /**< Agent audio of the utterance handed to you to send. */
    int64_t confirmed_ms;  /**< Of it, confirmed played by the provider's mark echoes. */
    int64_t estimated_ms;  /**< Of it, played by your clock: confirmed_ms <= estimated_ms <= sent_ms
                                (equal to confirmed_ms if you never call formi_session_set_time). */
    int interrupted;       /**< 1: cut by formi_session_interrupt; the figures are those of that instant
                                and stay until the next utterance's audio is sent. */
    int64_t queued_ms;     /**< Agent audio converted but not yet taken with next_output (from interrupt: what it dropped). */
} formi_playback;

/** An initialiser for a formi_playback: `formi_playback p = FORMI_PLAYBACK_INIT;` */
#define FORMI_PLAYBACK_INIT { .size = sizeof(formi_playback) }

/**
 * Agent server: barge-in. Every agent frame not yet taken is dropped, the provider's clear message is
 * queued (none for AudioSocket, which has no clear), your outstanding marks come back as MARK events with
 * reason "cleared", and *report (may be NULL) receives what the caller heard of the interrupted
 * utterance. FORMI_ESTATE when not streaming.
 */
int formi_session_interrupt(formi_session *s, formi_playback *report);

/** Agent server: the current (or last interrupted) utterance's playback figures into *report. */
int formi_session_playback(formi_session *s, formi_playback *report);

/** Telephony: a DTMF key press from the caller ('0'-'9', '*', '#', 'A'-'D'). FORMI_EINVAL for another digit. */
int formi_session_send_dtmf(formi_session *s, char digit, int duration_ms);

/**
 * Telephony: fills all `len` bytes of `out` (local_format) with the next agent audio to play, padding with
 * silence when the queue runs short; *real (may be NULL) receives the bytes of real audio. Marks whose
 * audio has now been read are echoed (see next_output). Call it at your playout clock, e.g. every 20 ms.
 */
int formi_session_read_audio(formi_session *s, void *out, size_t len, size_t *real);

/**
 * The host's monotonic clock in milliseconds (any origin; it must not go back). Drives pacing,
 * the playback estimate, marks the provider cannot echo, and the start/end times in the stats.
 * A time before the last one given is clamped to it (the clock stands still); times whose microseconds
 * overflow int64 are ignored.
 */
int formi_session_set_time(formi_session *s, int64_t now_ms);

/**
 * The call ends: the transport closed, or you end it. Agent server: held frames are delivered, a STOP
 * event (with `reason`, may be NULL) is given if the provider sent none, and the provider's hangup message
 * is queued where it has one (Asterisk HANGUP, jambonz disconnect). Telephony: the provider's stop is
 * queued. Afterwards input is rejected. Ending twice is a no-op.
 */
int formi_session_end(formi_session *s, const char *reason);

/**
 * The session's counters as a JSON object in *out_json (free with formi_free): provider, role, state,
 * stream_id, call_id, call_format, local_format, started_at_ms / ended_at_ms / duration_ms (your clock;
 * null when unknown), caller_audio_ms, agent_audio_ms, played_audio_ms (telephony), queued_audio_ms,
 * messages_in/out, bytes_in/out, frames_in/out, early_frames, late_frames, lost_frames, reordered_frames,
 * duplicate_frames, interruptions, interrupted_audio_ms, marks_sent, marks_played, marks_cleared,
 * dtmf_digits, errors, and (agent server) playback.
 */
int formi_session_stats_json(formi_session *s, char **out_json);

/** The message of the last failed call on this session ("" if none). Owned by the session. */
const char *formi_session_last_error(const formi_session *s);

/** Frees the session and everything it holds (views it returned become invalid). NULL is a no-op. */
void formi_session_free(formi_session *s);

/* ---- Agent flows ---------------------------------------------------------------------------------- */

/*
 * A flow is an agent's conversation state machine: states (each with a prompt template) and edges
 * between them. JSON in the seed's field names, with what the seed leaves open added:
 *
 *   {"states": [{"state_id": 1, "name": "greeting", "template_id": 7, "state_prompt": "Greet {{caller|there}}.",
 *                "variables": {"tone": "friendly"}, "initial": true, "terminal": false,
 *                "on_entry": [{"type": "say", "text": "Hello!"}], "on_exit": [...],
 *                "max_turns": 3, "timeout_ms": 30000, "fallback_state": 9}, ...],
 *    "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "prompt": "If the caller wants a table",
 *               "transition_metadata": {}, "priority": 1, "condition": "event.type == \"dtmf\" && event.digit == \"1\"",
 *               "default": false, "global": false, "return_to_previous": false, "assign": {"choice": "event.digit"}}, ...],
 *    "templates": [{"template_id": 7, "name": "greeting", "content": "...", "variables": {...}}],
 *    "variables": {...}, "inputs": ["caller"], "fallback_state": 9, "max_transitions": 256}
 *
 * Edges are tried: the state's own by priority (lower first) then edge_id, then global edges (no
 * from_node; they apply from every state) the same way; first match wins. A condition edge matches when
 * its condition holds; an edge with a plain-language `prompt` matches when the host's transition model
 * says so with a {"type":"judged","edge_id":N} event (and its condition, if any, holds). Then, on a
 * caller turn, the turn limit (to the fallback state); then, on a decision event (user, dtmf, judged), the
 * state's default edge, else the global default (a default's condition, if any, must hold). A timeout
 * moves to the fallback state before any edge is tried. A state's turns and clock restart only when the
 * run enters a different state. Needing more than max_transitions transitions ends the run where it is.
 *
 * Conditions: comparisons (== != < <= > >=), &&, ||, !, `in [...]`, `contains`, `exists`, numbers,
 * strings, true/false/null, over event.<field>, vars.<name>, turns, steps, transitions, state, previous,
 * elapsed_ms. They are parsed and type-checked when the flow loads ("turns == \"3\"" is a load error);
 * evaluating one never fails.
 *
 * Actions ({"type": ...} objects) are handed to the host with their strings rendered; {"type":"set",
 * "name":..,"value":..} is performed by the library.
 *
 * A flow handle is immutable but for formi_flow_edit; it may be read (to_json, to_dot, run_new) from
 * several threads at once, but not while it is edited. Runs keep the flow they started with, unaffected
 * by later edits, and may outlive the flow handle.
 */
FORMI_HANDLE(formi_flow);
FORMI_HANDLE(formi_flow_run);

/**
 * A flow from JSON (`len` bytes). It is validated as a whole: FORMI_EJSON for malformed JSON,
 * FORMI_ETEMPLATE for anything wrong in the flow itself (a field of the wrong type, a broken rule: see
 * formi_flow_validate_json), with the errors in formi_last_error() (cut at 512 bytes: the validation
 * report has them all). Warnings do not stop it.
 * The result is freed with formi_flow_free() (runs made from it may outlive it); NULL is a no-op there.
 */
formi_flow *formi_flow_from_json(const char *json, size_t len, int *status);

/**
 * Every problem of a flow, at once, as JSON in *report (free with formi_free):
 * {"valid": bool, "errors": [...], "warnings": [...]}, each problem {"code", "message", "state_ids",
 * "edge_ids"}. Errors: no_initial_state, several_initial_states, duplicate_state_id, duplicate_edge_id,
 * duplicate_template_id, edge_from_missing_state, edge_to_missing_state, edge_without_source,
 * global_edge_with_source, edge_without_target, return_edge_with_target, terminal_state_with_edges,
 * several_default_edges, invalid_condition, invalid_assignment, fallback_to_missing_state,
 * limit_without_fallback, invalid_template, missing_template_variable, invalid_field, invalid_json.
 * Warnings: unreachable_state, dead_end, edge_never_taken, unknown_template.
 * A field of the wrong type is reported (invalid_field) without the rule checks, which need the fields.
 * Returns FORMI_OK when there is no error, FORMI_ETEMPLATE or FORMI_EJSON when there is (the report is
 * set either way); other codes for bad arguments (then *report is NULL).
 */
int formi_flow_validate_json(const char *json, size_t len, char **report);

/** The flow as JSON (the same shape as formi_flow_from_json reads; unknown fields kept) in *out_json (free with formi_free). */
int formi_flow_to_json(const formi_flow *flow, char **out_json);

/**
 * The flow as Graphviz DOT in *out_dot (free with formi_free), for `dot -Tpng`: the initial state in bold,
 * terminal states doubled, default edges dashed, global edges from an "any state" point, fallbacks dotted.
 */
int formi_flow_to_dot(const formi_flow *flow, char **out_dot);

/**
 * Edits the flow, all or nothing: the edited flow must still load, else nothing changes. One JSON edit:
 *   {"op":"create_state_from_template","template_id":T, "name"?, "state_id"?, "variables"?, other state fields?}
 *   {"op":"update_state","state_id":N, fields...}   {"op":"delete_state","state_id":N} (and its edges)
 *   {"op":"create_edge", "edge_id"?, edge fields...} {"op":"update_edge","edge_id":N, fields...}
 *   {"op":"delete_edge","edge_id":N}
 *   {"op":"merge","states":[...],"edges":[...],"delete_state_ids":[...],"delete_edge_ids":[...]}
 *     (a draft: deletes first, then inserts or replaces whole states and edges by id)
 * A missing id gets the largest plus one. What was done goes to *out_json (may be NULL; free with
 * formi_free), e.g. {"state_id":12,"warnings":[...]}. Errors: FORMI_EJSON (malformed, unknown op),
 * FORMI_ENOTFOUND (no such id or template), FORMI_ETEMPLATE (the result would break a rule).
 * Not while another thread reads the flow. Runs already started are unaffected.
 */
int formi_flow_edit(formi_flow *flow, const char *edit_json, size_t len, char **out_json);

/** Frees the flow handle. Runs started from it stay valid. NULL is a no-op. */
void formi_flow_free(formi_flow *flow);

/* ---- Prompt templates ---------------------------------------------------------------------------- */

/**
 * Renders a template: `{{name}}` is replaced by the variable's value (strings as they are, other JSON
 * values as JSON), `{{name|default}}` falls back to its default, `{{a.b}}` reaches into an object,
 * `\{{` is a literal "{{". One pass: values are never expanded again. `variables_json` is a JSON object
 * (NULL with 0 for none). The text goes to *out_text (free with formi_free). Errors: FORMI_ETEMPLATE (bad
 * syntax, with the column), FORMI_ENOTFOUND naming every variable with neither value nor default,
 * FORMI_EJSON for bad variables. Thread-safe.
 */
int formi_template_render(const char *tmpl, size_t len, const char *variables_json, size_t variables_len, char **out_text);

/**
 * A template's variables, in order of first use, as JSON in *out_json (free with formi_free):
 * [{"name":"caller","default":"there"},{"name":"date","default":null}]. FORMI_ETEMPLATE for bad syntax.
 */
int formi_template_variables(const char *tmpl, size_t len, char **out_json);

/* ---- Flow runs ----------------------------------------------------------------------------------- */

/**
 * Starts a run of `flow` (one conversation) in its initial state. `inputs_json` is a JSON object of
 * variables (NULL with 0 for none); every name in the flow's "inputs" must be given (FORMI_ENOTFOUND).
 * The initial state's entry actions are pending (see formi_flow_run_state). One thread at a time.
 * The result is freed with formi_flow_run_free(); NULL is a no-op there.
 */
formi_flow_run *formi_flow_run_new(const formi_flow *flow, const char *inputs_json, size_t len, int *status);

/**
 * Takes one event, a JSON object with a "type" and an optional "at_ms" (your clock in ms, never going
 * back): "user" {"text"} and "dtmf" {"digit"} (caller turns), "judged" {"edge_id": N or null, "state_id"?}
 * (the transition model's verdict), "interrupted" (barge-in), "actions_done" (the pending entry actions are
 * done), "tick" (for timeouts), or any type of your own (seen by conditions). What the step did goes to
 * *out_json (may be NULL; free with formi_free):
 *   {"step":4,"event":"dtmf","state_id":2,"state":"menu",
 *    "transition":{"edge_id":7,"from":1,"to":2,"reason":"condition|judged|default|timeout|turn_limit",
 *                  "global":false,"returned":false} or null,
 *    "prompt":"<the new state's prompt, rendered>" (after a transition),
 *    "actions":[{"phase":"exit|entry","state_id":1,"action":{...}}],
 *    "interrupted_actions":[...], "cancelled_actions":[...], "ignored_verdict":true, "missing_variables":[...]
 *    (each only when it applies), "ended":false, "end_reason":null|"terminal"|"transition_limit"}
 * A transition is atomic: committed when the call returns. "interrupted" never undoes or loses one: the
 * run stays where it is and the entry actions still pending come back as interrupted_actions. Leaving a
 * state before its entry actions were done reports them as cancelled_actions. A verdict for an edge that
 * does not leave the current state (a stale one, made before a transition) is ignored and reported.
 * Errors change nothing: FORMI_EJSON (malformed event, no type, bad at_ms or edge_id), FORMI_ENOTFOUND
 * (a verdict on an edge the flow does not have), FORMI_ESTATE (the run has ended; the clock went back).
 */
int formi_flow_run_step(formi_flow_run *run, const char *event_json, size_t len, char **out_json);

/**
 * The run now, as JSON in *out_json (free with formi_free): state_id, name, prompt (rendered),
 * missing_variables, turns, steps, transitions, previous_state_id, return_stack, entered_at_ms,
 * pending_actions, variables, ended, end_reason.
 */
int formi_flow_run_state(const formi_flow_run *run, char **out_json);

/**
 * Every transition taken, in order, as JSON in *out_json (free with formi_free):
 * [{"step":4,"at_ms":1200,"event":"dtmf","transition":{...}}]. At most the flow's max_transitions.
 */
int formi_flow_run_history(const formi_flow_run *run, char **out_json);

/** Frees the run. NULL is a no-op. */
void formi_flow_run_free(formi_flow_run *run);

/* ---- Usage ledger --------------------------------------------------------------------------------- */

/*
 * The ledger records finished interactions and credit operations, durably, and answers usage and
 * analytics queries. Everything crosses as JSON; docs/ledger.md is the full contract. In short:
 *
 *   record: {"idempotency_key": "rec-1", "interaction_id": "call-1", "outlet_id": "o1", "agent_id": "a1",
 *            "started_at": "2024-03-20T12:00:00Z", "ended_at": "2024-03-20T12:03:10Z", "outcome": "resolved",
 *            "escalation_reason": null, "sentiment": "positive", "user_corrections": 0,
 *            "messages": {"received": 8, "unhandled": 1, "ambiguous": 0, "mismatched_ambiguous": 0, "interventions": 0},
 *            "counters": {"sms": 1}, "session_stats": {...from formi_session_stats_json...},
 *            "model_usage": [{"kind": "CONVERSATION", "model": "gpt-4o", "input_tokens": 5200, "cached_tokens": 4000,
 *                             "output_tokens": 310, "ttft_ms": 420.5, "tool_calls_ok": 2, "tool_calls_failed": 0}]}
 *   credit: {"op": "add", "idempotency_key": "pay-9", "outlet_id": "o1", "agent_id": "a1", "amount": 50000000}
 *           {"op": "rate_card", "idempotency_key": "rc-1", "outlet_id": "o1", "rate_card":
 *            {"duration": {"rule": "first_block", "first_block_seconds": 60, "increment_seconds": 6,
 *                          "price_per_minute": 1000000}, "tokens": {...}, "low_balance_threshold": 5000000}}
 *   query:  {"query": "usage_stats", "agent_id": "a1", "from_date": "01/04/2024", "to_date": "03/04/2024",
 *            "utc_offset": 19800}   (also credits, interaction_utilisation, model_utilisation,
 *            interaction, agent_statistic, metrics, verify)
 *
 * Money is integer micro-credits; each cost part rounds up once when the interaction is recorded.
 * Every write carries an idempotency key: a retry returns the first result with "duplicate": true and
 * changes nothing. A batch (a JSON array of records) is one transaction: all stored or none.
 *
 * Durability: on disk the ledger is SQLite in WAL mode with synchronous=FULL; a call returns FORMI_OK only
 * once its transaction is on disk, so a crash or kill at any instant loses no acknowledged write and
 * leaves no half-applied one. Several processes may open one file; their writes are serialised: a call
 * waits for another's lock (up to the busy timeout, 30 s unless formi_ledger_set_busy_timeout says
 * otherwise), then fails with FORMI_EBUSY, having changed nothing: retry it. A file deleted, renamed or
 * replaced while the ledger is open is detected before each write, which is refused (FORMI_ESTORAGE):
 * what was acknowledged stays in the file that was moved; close and reopen.
 *
 * Threads: a ledger handle is used by one thread at a time (open one per thread, or lock).
 * Errors change nothing stored: FORMI_EJSON (not JSON), FORMI_EINVAL (missing, misspelt or mistyped
 * field, value out of range, end before start, "To Date cannot be before From Date"), FORMI_ENOTFOUND
 * (unknown query or interaction), FORMI_ELIMIT (a debit beyond the balance, an oversize batch or range),
 * FORMI_ESTATE (an interaction id already recorded under another key), FORMI_ESTORAGE (corrupt or
 * read-only file, full disk, I/O error, the file moved away; SQLite's message follows), FORMI_EBUSY
 * (another process kept the file locked past the busy timeout: retry).
 */
FORMI_HANDLE(formi_ledger);

/**
 * Opens the ledger at `path` (a file, created with its tables if missing), or a private in-memory one
 * when `path` is NULL. A "postgresql://" or "postgres://" URL (libpq's syntax) opens it in that
 * PostgreSQL database instead, shared by every host and process that opens it: tables created on first
 * use, writers of one outlet serialised by a lock, a write that lost a race run again (docs/ledger.md);
 * a lost connection fails the call with FORMI_ESTORAGE, nothing half applied, and the next call
 * reconnects. Returns NULL with *status (may be NULL) set on failure: FORMI_ESTORAGE for a file that is
 * not a ledger, cannot be written or is from a newer version (or a server that cannot be reached);
 * FORMI_EINVAL for an empty path. The result is freed with formi_ledger_close(); NULL is a no-op there.
 */
formi_ledger *formi_ledger_open(const char *path, int *status);

/**
 * Records one interaction (a JSON object) or a batch (an array of up to 10,000). The result in
 * *out_json (free with formi_free): {"success", "duplicate", "interaction_id", "outlet_id", "agent_id",
 * "cost", "charged", "unpaid", "balance", "events": [low_balance | insufficient_credits]}, or for a batch
 * {"success": true, "results": [...]}. *out_json is NULL on failure.
 */
int formi_ledger_record(formi_ledger *l, const char *json, size_t len, char **out_json);

/**
 * Applies a credit operation: "set", "add", "debit" (refused with FORMI_ELIMIT beyond the balance unless
 * the rate card allows a negative one) or "rate_card". The result in *out_json (free with formi_free):
 * balance, total_recharge, total_usage and events.
 */
int formi_ledger_credit(formi_ledger *l, const char *json, size_t len, char **out_json);

/**
 * Answers a query on one consistent snapshot; the answer in *out_json (free with formi_free), in the
 * seeds' field names. Ratios with nothing to divide by are null, never 0.
 */
int formi_ledger_query(formi_ledger *l, const char *json, size_t len, char **out_json);

/**
 * How long a call on this ledger waits for another process's lock on the file before FORMI_EBUSY, in
 * milliseconds (default 30000; 0: fail at once). A waiter that has waited 250 ms tries again every
 * 0.05 to 0.55 ms, so none is starved by busier writers. FORMI_EINVAL for a negative timeout.
 */
int formi_ledger_set_busy_timeout(formi_ledger *l, int timeout_ms);

/** The message of the last failed call on this ledger ("" if none). Owned by the ledger. */
const char *formi_ledger_last_error(const formi_ledger *l);

/** Closes the ledger (every acknowledged write is already on disk). NULL is a no-op. */
void formi_ledger_close(formi_ledger *l);

#ifdef __cplusplus
}
#endif

#endif /* FORMI_H */
