/*
 * app_formistream -- connect a channel to a voice-agent server over WebSocket, through libformi.
 *
 * This module is deliberately thin: it moves bytes between the channel, Asterisk's own WebSocket
 * client and a libformi session in the telephony role. Everything protocol-shaped (the provider's
 * messages, codecs, resampling, framing, the playback queue, clear, mark echoes, stop) lives in
 * libformi and is tested there. See README.md beside this file for how to build and load it.
 *
 * This program is free software, distributed under the terms of the GNU General Public License
 * Version 2, like the Asterisk it is loaded into.
 */

/*! \file
 *
 * \brief FormiStream() -- stream a call to a Twilio-compatible (or other) voice agent via libformi
 *
 * \ingroup applications
 */

/*** MODULEINFO
	<depend>res_http_websocket</depend>
	<support_level>extended</support_level>
 ***/

#include "asterisk.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <formi.h>

#include "asterisk/app.h"
#include "asterisk/channel.h"
#include "asterisk/format_cache.h"
#include "asterisk/frame.h"
#include "asterisk/http_websocket.h"
#include "asterisk/module.h"
#include "asterisk/pbx.h"
#include "asterisk/strings.h"
#include "asterisk/tcptls.h"
#include "asterisk/utils.h"
#include "asterisk/uuid.h"

/*** DOCUMENTATION
	<application name="FormiStream" language="en_US">
		<synopsis>
			Stream the channel's audio to a voice-agent server over WebSocket, and play the agent's audio back.
		</synopsis>
		<syntax>
			<parameter name="url" required="true">
				<para>The agent server's WebSocket URL, <literal>ws://host[:port]/path</literal> or
				<literal>wss://host[:port]/path</literal>. User information in the URL
				(<literal>ws://user:secret@host/path</literal>) is sent as HTTP basic authentication.</para>
			</parameter>
			<parameter name="provider">
				<para>Whose media-stream protocol to speak to the agent server: a libformi built-in provider
				(<literal>twilio</literal>, the default, <literal>exotel</literal>, <literal>plivo</literal>,
				<literal>telnyx</literal>, <literal>vonage</literal>, <literal>jambonz</literal>,
				<literal>asterisk</literal>, <literal>asterisk-text</literal>, <literal>audiosocket</literal>),
				or the absolute path of a libformi provider template (a JSON file).</para>
			</parameter>
			<parameter name="options">
				<optionlist>
					<option name="r">
						<para>Exchange signed linear audio with the channel at <replaceable>rate</replaceable> Hz
						(8000, 12000, 16000, 24000, 32000, 44100 or 48000). By default 16000 when the channel's
						native codec is wideband, else 8000.</para>
						<argument name="rate" required="true" />
					</option>
					<option name="u">
						<para>Exchange G.711 mu-law with the channel instead of signed linear (no transcoding at
						all when both the channel and the provider use mu-law, as Twilio does).</para>
					</option>
					<option name="t">
						<para>Give up connecting after <replaceable>ms</replaceable> milliseconds (default 10000).</para>
						<argument name="ms" required="true" />
					</option>
					<option name="k">
						<para>With <literal>wss://</literal>, do not verify the server's certificate.</para>
					</option>
				</optionlist>
			</parameter>
		</syntax>
		<description>
			<para>Connects to <replaceable>url</replaceable> with Asterisk's WebSocket client, answers the
			channel if needed, and speaks as the telephony provider to the agent server: it announces the call
			(the provider's connected and start messages), streams the caller's audio in the provider's
			format, plays the agent's audio paced at 20 ms, flushes it when the agent sends a clear, echoes
			marks when the audio before them has played, and passes DTMF. When the caller hangs up, the agent
			server is sent the provider's stop and the WebSocket is closed; when the agent server closes the
			WebSocket (or sends a stop), the application returns and the dialplan continues.</para>
			<para>The WebSocket protocol, codecs and events are libformi's; this module only moves bytes.</para>
			<para>These channel variables are read when the application starts:</para>
			<variablelist>
				<variable name="FORMISTREAM_PARAMETERS">
					<para>A JSON object sent as the call's custom parameters (Twilio's
					<literal>customParameters</literal>), e.g. <literal>{"agent_id":"42"}</literal>.</para>
				</variable>
			</variablelist>
			<para>This application sets the following channel variables:</para>
			<variablelist>
				<variable name="FORMISTREAM_STATUS">
					<value name="HANGUP">The caller hung up.</value>
					<value name="AGENT">The agent server ended the stream (a WebSocket Close frame, or the provider's stop).</value>
					<value name="FAILED">The stream could not be set up (bad arguments, no connection).</value>
					<value name="ERROR">The stream broke: the WebSocket connection dropped without a Close frame, or an I/O error.</value>
				</variable>
				<variable name="FORMISTREAM_STATS">
					<para>libformi's session counters as JSON (audio in and out, marks, DTMF, errors...).</para>
				</variable>
			</variablelist>
			<example title="Connect a caller to a Twilio-compatible agent">
			exten => 100,1,Answer()
			 same => n,Set(FORMISTREAM_PARAMETERS={"agent_id":"42"})
			 same => n,FormiStream(wss://agent.example.com/media,twilio)
			 same => n,Hangup()
			</example>
		</description>
	</application>
 ***/

static const char app[] = "FormiStream";

enum {
	OPT_RATE = (1 << 0),
	OPT_ULAW = (1 << 1),
	OPT_TIMEOUT = (1 << 2),
	OPT_INSECURE = (1 << 3),
};

enum {
	OPT_ARG_RATE = 0,
	OPT_ARG_TIMEOUT,
	OPT_ARG_ARRAY_SIZE, /* must stay last */
};

AST_APP_OPTIONS(formistream_options, BEGIN_OPTIONS
	AST_APP_OPTION_ARG('r', OPT_RATE, OPT_ARG_RATE),
	AST_APP_OPTION('u', OPT_ULAW),
	AST_APP_OPTION_ARG('t', OPT_TIMEOUT, OPT_ARG_TIMEOUT),
	AST_APP_OPTION('k', OPT_INSECURE),
END_OPTIONS);

#define FRAME_MS 20
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
/* Messages that arrive in more fragments than res_http_websocket reassembles are rebuilt here, up to this. */
#define MAX_MESSAGE_BYTES (1024 * 1024)
/* WebSocket frames handled in a row before the channel gets its turn again. */
#define MAX_WS_FRAMES_PER_WAKEUP 32
/* Library ERROR events logged as warnings per call; the rest go to the debug log. */
#define MAX_LOGGED_ERRORS 10

enum stream_end {
	END_NONE = 0,
	END_HANGUP,	/* the caller hung up */
	END_AGENT,	/* the agent server closed the WebSocket or sent a stop */
	END_ERROR,	/* I/O failed: the WebSocket broke (no Close frame), or the channel */
};

struct formistream {
	struct ast_channel *chan;
	struct ast_websocket *ws;
	formi_session *session;
	struct ast_format *format;	/* the channel's read and write format while streaming */
	size_t frame_bytes;		/* 20 ms of it */
	int frame_samples;
	unsigned char *play;		/* AST_FRIENDLY_OFFSET + frame_bytes */
	char *message;			/* a fragmented WebSocket message being rebuilt */
	size_t message_len;
	int64_t epoch_ms;
	unsigned int errors_logged;
	enum stream_end end;
};

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*! \brief Sends every message the session has for the agent server. */
static int send_outputs(struct formistream *fs)
{
	formi_message message;
	int res;

	while ((res = formi_session_next_output(fs->session, &message)) == 1) {
		if (ast_websocket_write(fs->ws, message.is_binary ? AST_WEBSOCKET_OPCODE_BINARY : AST_WEBSOCKET_OPCODE_TEXT,
				(char *)message.data, message.len)) {
			ast_debug(1, "%s: FormiStream WebSocket write failed\n", ast_channel_name(fs->chan));
			return -1;
		}
	}
	if (res < 0) {
		ast_log(LOG_WARNING, "%s: FormiStream: %s\n", ast_channel_name(fs->chan), formi_session_last_error(fs->session));
	}
	return 0;
}

/*! \brief Takes the session's events: CLEAR and marks are already done by the library; STOP ends the stream. */
static void take_events(struct formistream *fs)
{
	formi_event event = FORMI_EVENT_INIT;

	while (formi_session_next_event(fs->session, &event) == 1) {
		switch (event.kind) {
		case FORMI_EVENT_STOP:
			ast_verb(3, "%s: FormiStream: the agent server ended the stream\n", ast_channel_name(fs->chan));
			if (fs->end == END_NONE) {
				fs->end = END_AGENT;
			}
			break;
		case FORMI_EVENT_CLEAR:
			ast_debug(2, "%s: FormiStream: the agent server cleared its queued audio\n", ast_channel_name(fs->chan));
			break;
		case FORMI_EVENT_ERROR:
			if (fs->errors_logged++ < MAX_LOGGED_ERRORS) {
				ast_log(LOG_WARNING, "%s: FormiStream: message from the agent server ignored: %.*s\n",
					ast_channel_name(fs->chan), (int)event.error.len, S_OR(event.error.data, ""));
			} else {
				ast_debug(1, "%s: FormiStream: message from the agent server ignored: %.*s\n",
					ast_channel_name(fs->chan), (int)event.error.len, S_OR(event.error.data, ""));
			}
			break;
		default:
			break;
		}
	}
}

static void deliver(struct formistream *fs, const char *data, size_t len, int is_binary)
{
	if (formi_session_receive(fs->session, data, len, is_binary) == FORMI_ELIMIT) {
		take_events(fs); /* 1024 events waiting: take them, then the frame goes in */
		formi_session_receive(fs->session, data, len, is_binary);
	}
	take_events(fs);
}

/*!
 * \brief Reads one WebSocket frame into the session.
 * \retval 0 the frame was taken
 * \retval 1 the agent server closed the WebSocket (a Close frame)
 * \retval -1 the WebSocket broke: the connection dropped without a Close frame, or a read failed
 */
static int read_websocket(struct formistream *fs)
{
	char *payload = NULL;
	uint64_t payload_len = 0;
	enum ast_websocket_opcode opcode;
	int fragmented = 0;
	char *grown;

	if (ast_websocket_read(fs->ws, &payload, &payload_len, &opcode, &fragmented)) {
		/* res_http_websocket reports a dropped connection as a failed read (with opcode CLOSE). */
		ast_log(LOG_WARNING, "%s: FormiStream: the WebSocket broke (no Close frame from the agent server)\n",
			ast_channel_name(fs->chan));
		return -1;
	}
	switch (opcode) {
	case AST_WEBSOCKET_OPCODE_CLOSE:
		ast_verb(3, "%s: FormiStream: the agent server closed the WebSocket\n", ast_channel_name(fs->chan));
		return 1;
	case AST_WEBSOCKET_OPCODE_TEXT:
	case AST_WEBSOCKET_OPCODE_BINARY:
	case AST_WEBSOCKET_OPCODE_CONTINUATION:
		break;
	default:
		return 0; /* PING (answered by res_http_websocket), PONG */
	}
	if (!payload_len) {
		return 0; /* a fragment res_http_websocket keeps until the message is whole */
	}
	if (opcode == AST_WEBSOCKET_OPCODE_CONTINUATION || fs->message_len) {
		/* Longer than res_http_websocket rebuilds: rebuild it here. */
		if (fs->message_len + payload_len > MAX_MESSAGE_BYTES) {
			ast_log(LOG_WARNING, "%s: FormiStream: dropping a WebSocket message of more than %d bytes\n",
				ast_channel_name(fs->chan), MAX_MESSAGE_BYTES);
			ast_free(fs->message);
			fs->message = NULL;
			fs->message_len = 0;
			return 0;
		}
		if (!(grown = ast_realloc(fs->message, fs->message_len + payload_len))) {
			return -1;
		}
		fs->message = grown;
		memcpy(fs->message + fs->message_len, payload, payload_len);
		fs->message_len += payload_len;
		if (opcode == AST_WEBSOCKET_OPCODE_CONTINUATION) {
			return 0;
		}
		deliver(fs, fs->message, fs->message_len, opcode == AST_WEBSOCKET_OPCODE_BINARY);
		fs->message_len = 0;
		return 0;
	}
	deliver(fs, payload, payload_len, opcode == AST_WEBSOCKET_OPCODE_BINARY);
	return 0;
}

/*! \brief Plays the next 20 ms of the agent's audio (silence when there is none). */
static void play_frame(struct formistream *fs)
{
	struct ast_frame frame = {
		.frametype = AST_FRAME_VOICE,
		.src = app,
	};
	size_t real = 0;

	if (formi_session_read_audio(fs->session, fs->play + AST_FRIENDLY_OFFSET, fs->frame_bytes, &real) != FORMI_OK) {
		return;
	}
	frame.subclass.format = fs->format;
	frame.samples = fs->frame_samples;
	AST_FRAME_SET_BUFFER(&frame, fs->play, AST_FRIENDLY_OFFSET, fs->frame_bytes);
	if (ast_write(fs->chan, &frame)) {
		ast_debug(1, "%s: FormiStream: writing a voice frame failed\n", ast_channel_name(fs->chan));
	}
}

/*! \brief A frame from the channel: caller audio and DTMF go to the agent server. */
static void read_channel(struct formistream *fs)
{
	struct ast_frame *f = ast_read(fs->chan);

	if (!f) {
		fs->end = END_HANGUP;
		return;
	}
	switch (f->frametype) {
	case AST_FRAME_VOICE:
		if (ast_format_cmp(f->subclass.format, fs->format) == AST_FORMAT_CMP_NOT_EQUAL) {
			break; /* not translated to our format (should not happen): skip it */
		}
		if (formi_session_send_audio(fs->session, f->data.ptr, f->datalen) != FORMI_OK) {
			ast_debug(1, "%s: FormiStream: %s\n", ast_channel_name(fs->chan), formi_session_last_error(fs->session));
		}
		break;
	case AST_FRAME_DTMF_END:
		if (formi_session_send_dtmf(fs->session, (char)f->subclass.integer, (int)f->len) != FORMI_OK) {
			ast_debug(1, "%s: FormiStream: %s\n", ast_channel_name(fs->chan), formi_session_last_error(fs->session));
		}
		break;
	case AST_FRAME_CONTROL:
		if (f->subclass.integer == AST_CONTROL_HANGUP) {
			fs->end = END_HANGUP;
		}
		break;
	default:
		break;
	}
	ast_frfree(f);
}

/*!
 * \brief Asks the agent server for a Pong, right after the handshake.
 *
 * res_http_websocket reads the reply to its handshake in blocks: whatever the server sent in the same
 * write as its 101 (a Close frame at once, a first message) waits in the stream's own buffer, where
 * poll() cannot see it and ast_websocket_wait_for_input() does not look, and reading with nothing
 * there blocks. The Pong makes the socket readable, and the reads it wakes return the buffered frames
 * first. (A server that answers no Ping once it has sent its Close is noticed when it drops the
 * connection.)
 */
static int ping(struct formistream *fs)
{
	char payload[] = "formistream";

	return ast_websocket_write(fs->ws, AST_WEBSOCKET_OPCODE_PING, payload, sizeof(payload) - 1);
}

/*! \brief The call: runs until either side ends it. */
static void stream(struct formistream *fs)
{
	int64_t now, next_tick;
	int fd, outfd, ms, n, res;
	struct ast_channel *winner;

	next_tick = monotonic_ms() + FRAME_MS;
	while (fs->end == END_NONE) {
		if (ast_check_hangup_locked(fs->chan)) {
			fs->end = END_HANGUP;
			break;
		}
		now = monotonic_ms();
		formi_session_set_time(fs->session, now - fs->epoch_ms);
		if (now >= next_tick) {
			/* The playout clock: 20 ms of the agent's audio per tick, marks echoed as it is read. */
			play_frame(fs);
			next_tick += FRAME_MS;
			if (now - next_tick > 5 * FRAME_MS) {
				next_tick = now + FRAME_MS; /* we were held up: do not rush to catch up */
			}
		} else {
			if ((fd = ast_websocket_fd(fs->ws)) < 0) {
				/* Closed by res_http_websocket itself (a frame too large, an unknown opcode). */
				fs->end = END_ERROR;
				break;
			}
			ms = (int)(next_tick - now);
			outfd = -1;
			winner = ast_waitfor_nandfds(&fs->chan, 1, &fd, 1, NULL, &outfd, &ms);
			if (winner) {
				read_channel(fs);
			} else if (outfd >= 0) {
				/* One frame, and any the TLS layer has already buffered (poll cannot see those). */
				n = 0;
				do {
					if ((res = read_websocket(fs))) {
						if (fs->end == END_NONE) {
							fs->end = res > 0 ? END_AGENT : END_ERROR;
						}
						break;
					}
				} while (fs->end == END_NONE && ++n < MAX_WS_FRAMES_PER_WAKEUP
					&& ast_websocket_wait_for_input(fs->ws, 0) > 0);
			} else if (ms < 0) {
				ast_log(LOG_WARNING, "%s: FormiStream: waiting for the channel failed: %s\n",
					ast_channel_name(fs->chan), strerror(errno));
				fs->end = END_ERROR;
				break;
			}
		}
		if (fs->end == END_NONE && send_outputs(fs)) {
			fs->end = END_ERROR;
		}
	}
}

/*! \brief The channel's format for the stream, and the matching libformi format. */
static int choose_format(struct ast_channel *chan, struct ast_flags *flags, char **opt_args,
	struct ast_format **format, formi_format *local)
{
	static const int rates[] = { 8000, 12000, 16000, 24000, 32000, 44100, 48000 };
	struct ast_format *native;
	unsigned int rate = 8000, i;

	if (ast_test_flag(flags, OPT_ULAW)) {
		*format = ast_format_ulaw;
		*local = (formi_format){ FORMI_ENCODING_ULAW, 8000, 1 };
		return 0;
	}
	if (ast_test_flag(flags, OPT_RATE)) {
		if (ast_strlen_zero(opt_args[OPT_ARG_RATE]) || sscanf(opt_args[OPT_ARG_RATE], "%30u", &rate) != 1) {
			ast_log(LOG_ERROR, "FormiStream: option r needs a sample rate\n");
			return -1;
		}
		for (i = 0; i < ARRAY_LEN(rates) && rates[i] != (int)rate; i++) {
		}
		if (i == ARRAY_LEN(rates)) {
			ast_log(LOG_ERROR, "FormiStream: unsupported sample rate %u\n", rate);
			return -1;
		}
	} else {
		ast_channel_lock(chan);
		native = ast_format_cap_get_best_by_type(ast_channel_nativeformats(chan), AST_MEDIA_TYPE_AUDIO);
		ast_channel_unlock(chan);
		rate = native && ast_format_get_sample_rate(native) > 8000 ? 16000 : 8000;
		ao2_cleanup(native);
	}
	*format = ast_format_cache_get_slin_by_rate(rate);
	if (!*format || ast_format_get_sample_rate(*format) != rate) {
		ast_log(LOG_ERROR, "FormiStream: no signed linear format at %u Hz\n", rate);
		return -1;
	}
	*local = (formi_format){ FORMI_ENCODING_PCM16LE, (int)rate, 1 };
#if __BYTE_ORDER == __BIG_ENDIAN
	local->encoding = FORMI_ENCODING_PCM16BE; /* Asterisk's slin is host order */
#endif
	return 0;
}

static formi_provider *open_provider(const char *name)
{
	formi_provider *provider;
	char *json;
	int status = FORMI_OK;

	if (name[0] != '/') {
		provider = formi_provider_builtin(name, &status);
	} else if (!(json = ast_read_textfile(name))) {
		ast_log(LOG_ERROR, "FormiStream: cannot read the provider template '%s'\n", name);
		return NULL;
	} else {
		provider = formi_provider_from_json(json, strlen(json), &status);
		ast_free(json);
	}
	if (!provider) {
		ast_log(LOG_ERROR, "FormiStream: provider '%s': %s (%s)\n", name, formi_strerror(status), formi_last_error());
	}
	return provider;
}

/*! \brief ast_websocket_result_to_str() is missing from older releases (20.0 to 20.13, 22.0 to 22.3). */
static const char *result_name(enum ast_websocket_result result)
{
	switch (result) {
	case WS_OK: return "OK";
	case WS_ALLOCATE_ERROR: return "allocation failed";
	case WS_KEY_ERROR: return "key error";
	case WS_URI_PARSE_ERROR: return "bad URL";
	case WS_URI_RESOLVE_ERROR: return "cannot resolve the host";
	case WS_BAD_STATUS: return "no HTTP status line";
	case WS_INVALID_RESPONSE: return "not a WebSocket upgrade";
	case WS_BAD_REQUEST: return "400 Bad Request";
	case WS_URL_NOT_FOUND: return "404 Not Found";
	case WS_HEADER_MISMATCH: return "bad handshake header";
	case WS_HEADER_MISSING: return "handshake header missing";
	case WS_NOT_SUPPORTED: return "extension not supported";
	case WS_WRITE_ERROR: return "write failed";
	case WS_CLIENT_START_ERROR: return "cannot connect";
	default: return "refused"; /* WS_UNAUTHORIZED and later additions */
	}
}

static struct ast_websocket *connect_websocket(struct ast_channel *chan, const char *url, struct ast_flags *flags,
	char **opt_args)
{
	static const char *const ca_files[] = {
		"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Ubuntu, Alpine */
		"/etc/pki/tls/certs/ca-bundle.crt",	/* Fedora, RHEL */
		"/etc/ssl/ca-bundle.pem",		/* openSUSE */
	};
	struct ast_websocket_client_options options = {
		.uri = url,
		.protocols = "", /* none offered, and none accepted from the server */
		.timeout = DEFAULT_CONNECT_TIMEOUT_MS,
	};
	enum ast_websocket_result result = WS_OK;
	struct ast_websocket *ws;
	unsigned int i;
	int nodelay = 1;

	if (ast_test_flag(flags, OPT_TIMEOUT) && (ast_strlen_zero(opt_args[OPT_ARG_TIMEOUT])
			|| sscanf(opt_args[OPT_ARG_TIMEOUT], "%30d", &options.timeout) != 1 || options.timeout <= 0)) {
		ast_log(LOG_ERROR, "FormiStream: option t needs a timeout in milliseconds\n");
		return NULL;
	}
	if (!strncasecmp(url, "wss://", 6)) {
		/* Freed by res_http_websocket with the connection. */
		if (!(options.tls_cfg = ast_calloc(1, sizeof(*options.tls_cfg)))) {
			return NULL;
		}
		options.tls_cfg->enabled = 1;
		if (ast_test_flag(flags, OPT_INSECURE)) {
			ast_set_flag(&options.tls_cfg->flags, AST_SSL_DONT_VERIFY_SERVER | AST_SSL_IGNORE_COMMON_NAME);
		} else {
			/* Asterisk's TLS client trusts no CA unless told: use the system's bundle. */
			for (i = 0; i < ARRAY_LEN(ca_files) && access(ca_files[i], R_OK); i++) {
			}
			if (i < ARRAY_LEN(ca_files)) {
				options.tls_cfg->cafile = ast_strdup(ca_files[i]);
			} else {
				options.tls_cfg->capath = ast_strdup("/etc/ssl/certs");
			}
		}
	} else if (strncasecmp(url, "ws://", 5)) {
		ast_log(LOG_ERROR, "FormiStream: '%s' is not a ws:// or wss:// URL\n", url);
		return NULL;
	}

	ws = ast_websocket_client_create_with_options(&options, &result);
	if (!ws || result != WS_OK) {
		ast_log(LOG_WARNING, "%s: FormiStream: cannot connect to %s: %s\n", ast_channel_name(chan), url,
			result_name(result));
		if (options.tls_cfg && (result == WS_URI_PARSE_ERROR || result == WS_KEY_ERROR)) {
			/* Failed before res_http_websocket took the TLS configuration. */
			ast_free(options.tls_cfg->cafile);
			ast_free(options.tls_cfg->capath);
			ast_free(options.tls_cfg);
		}
		ast_websocket_unref(ws);
		return NULL;
	}
	if (setsockopt(ast_websocket_fd(ws), IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay))) {
		ast_debug(1, "FormiStream: TCP_NODELAY: %s\n", strerror(errno));
	}
	return ws;
}

static int formistream_exec(struct ast_channel *chan, const char *data)
{
	struct formistream fs = { .chan = chan, .end = END_NONE };
	struct ast_format *saved_read = NULL, *saved_write = NULL;
	struct ast_flags flags = { 0 };
	char *opt_args[OPT_ARG_ARRAY_SIZE] = { NULL };
	char stream_id[AST_UUID_STR_LEN], call_uuid[AST_UUID_STR_LEN];
	const char *status = "FAILED", *value;
	char *parse, *stats = NULL;
	formi_session_config config;
	formi_provider *provider = NULL;
	int res = 0, rc = FORMI_OK;
	AST_DECLARE_APP_ARGS(args,
		AST_APP_ARG(url);
		AST_APP_ARG(provider);
		AST_APP_ARG(options);
	);

	parse = ast_strdupa(S_OR(data, ""));
	AST_STANDARD_APP_ARGS(args, parse);
	if (ast_strlen_zero(args.url)) {
		ast_log(LOG_ERROR, "FormiStream requires a WebSocket URL: FormiStream(url[,provider[,options]])\n");
		goto done;
	}
	if (!ast_strlen_zero(args.options)
			&& ast_app_parse_options(formistream_options, &flags, opt_args, args.options)) {
		goto done;
	}

	formi_session_config_init(&config, FORMI_ROLE_TELEPHONY);
	if (choose_format(chan, &flags, opt_args, &fs.format, &config.local_format)) {
		goto done;
	}
	if (!(provider = open_provider(S_OR(args.provider, "twilio")))) {
		goto done;
	}

	/* The call announced in the provider's start message. */
	ast_uuid_generate_str(stream_id, sizeof(stream_id));
	ast_uuid_generate_str(call_uuid, sizeof(call_uuid));
	config.stream_id = stream_id;
	ast_channel_lock(chan);
	/* AudioSocket identifies a call by a UUID; every other provider gets the channel's unique id. */
	config.call_id = !strcmp(formi_provider_name(provider), "audiosocket") ? call_uuid
		: ast_strdupa(ast_channel_uniqueid(chan));
	config.from = ast_strdupa(S_COR(ast_channel_caller(chan)->id.number.valid,
		ast_channel_caller(chan)->id.number.str, ""));
	config.to = ast_strdupa(S_OR(ast_channel_exten(chan), ""));
	value = pbx_builtin_getvar_helper(chan, "FORMISTREAM_PARAMETERS");
	config.custom_parameters = ast_strlen_zero(value) ? NULL : ast_strdupa(value);
	ast_channel_unlock(chan);

	if (!(fs.session = formi_session_new(provider, &config, &rc))) {
		ast_log(LOG_ERROR, "%s: FormiStream: %s (%s)\n", ast_channel_name(chan), formi_strerror(rc), formi_last_error());
		goto done;
	}
	formi_provider_free(provider);
	provider = NULL;
	fs.frame_samples = config.local_format.sample_rate * FRAME_MS / 1000;
	fs.frame_bytes = (size_t)fs.frame_samples * (config.local_format.encoding == FORMI_ENCODING_ULAW ? 1 : 2);
	if (!(fs.play = ast_malloc(AST_FRIENDLY_OFFSET + fs.frame_bytes))) {
		goto done;
	}

	/* Connected before answering: when the agent server is down, the dialplan can still route the call. */
	if (!(fs.ws = connect_websocket(chan, args.url, &flags, opt_args))) {
		goto done;
	}
	if (ast_channel_state(chan) != AST_STATE_UP && ast_answer(chan)) {
		status = "HANGUP";
		res = -1;
		goto done;
	}
	saved_read = ao2_bump(ast_channel_readformat(chan));
	saved_write = ao2_bump(ast_channel_writeformat(chan));
	if (ast_set_read_format(chan, fs.format) || ast_set_write_format(chan, fs.format)) {
		ast_log(LOG_ERROR, "%s: FormiStream: cannot set the channel to %s\n", ast_channel_name(chan),
			ast_format_get_name(fs.format));
		goto done;
	}
	ast_verb(3, "%s: FormiStream connected to %s as %s, %s\n", ast_channel_name(chan), args.url,
		S_OR(args.provider, "twilio"), ast_format_get_name(fs.format));

	fs.epoch_ms = monotonic_ms();
	formi_session_set_time(fs.session, 0);
	if (send_outputs(&fs) || ping(&fs)) { /* the provider's connected and start, then the Ping */
		fs.end = END_ERROR;
	} else {
		stream(&fs);
	}

	/* The end, either way: the provider's stop goes out if the WebSocket is still there. */
	formi_session_set_time(fs.session, monotonic_ms() - fs.epoch_ms);
	formi_session_end(fs.session, fs.end == END_HANGUP ? "hangup" : fs.end == END_AGENT ? "agent" : "error");
	if (ast_websocket_fd(fs.ws) >= 0) { /* not closed by the agent server */
		send_outputs(&fs);
		ast_websocket_close(fs.ws, 1000);
	}
	switch (fs.end) {
	case END_HANGUP:
		status = "HANGUP";
		res = -1;
		break;
	case END_AGENT:
		status = "AGENT";
		break;
	default:
		status = "ERROR";
		break;
	}

done:
	if (fs.session && fs.end == END_NONE) {
		/* Never streamed: the stats say the session ended, not "streaming". */
		formi_session_end(fs.session, res ? "hangup" : "failed");
	}
	if (fs.session && formi_session_stats_json(fs.session, &stats) == FORMI_OK) {
		pbx_builtin_setvar_helper(chan, "FORMISTREAM_STATS", stats);
		formi_free(stats);
	}
	pbx_builtin_setvar_helper(chan, "FORMISTREAM_STATUS", status);
	ast_websocket_unref(fs.ws);
	formi_session_free(fs.session);
	formi_provider_free(provider);
	ast_free(fs.play);
	ast_free(fs.message);
	if (saved_read) {
		ast_set_read_format(chan, saved_read);
		ao2_ref(saved_read, -1);
	}
	if (saved_write) {
		ast_set_write_format(chan, saved_write);
		ao2_ref(saved_write, -1);
	}
	return res;
}

static int unload_module(void)
{
	return ast_unregister_application(app);
}

static int load_module(void)
{
	int status = FORMI_OK;
	formi_provider *twilio;

	/* Same major version, and at least the minor one built against (0.x: the same minor one). */
	if (formi_version_number() / 10000 != FORMI_VERSION_MAJOR || formi_version_number() < FORMI_VERSION_NUMBER
			|| (FORMI_VERSION_MAJOR == 0 && formi_version_number() / 100 != FORMI_VERSION_NUMBER / 100)) {
		ast_log(LOG_ERROR, "FormiStream was built for libformi %s but libformi %s is loaded\n",
			FORMI_VERSION, formi_version());
		return AST_MODULE_LOAD_DECLINE;
	}
	/* The library works: its default provider loads. */
	if (!(twilio = formi_provider_builtin("twilio", &status))) {
		ast_log(LOG_ERROR, "FormiStream: libformi: %s\n", formi_last_error());
		return AST_MODULE_LOAD_DECLINE;
	}
	formi_provider_free(twilio);
	return ast_register_application_xml(app, formistream_exec) ? AST_MODULE_LOAD_DECLINE : AST_MODULE_LOAD_SUCCESS;
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_DEFAULT, "FormiStream: calls to voice agents over WebSocket (libformi)",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.requires = "res_http_websocket",
);
