"""A pipecat FrameSerializer for every provider libformi speaks (the optional extra `formi[pipecat]`).

Drop it in where a pipecat pipeline uses TwilioFrameSerializer, TelnyxFrameSerializer,
PlivoFrameSerializer, ExotelFrameSerializer or VonageFrameSerializer; it also serves jambonz and
Asterisk's chan_websocket, which pipecat lacks::

    from formi.pipecat import FormiFrameSerializer

    serializer = FormiFrameSerializer("twilio")   # or "telnyx", "plivo", "exotel", "vonage", "jambonz", "asterisk"
    transport = FastAPIWebsocketTransport(websocket, FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, serializer=serializer))

Vonage takes exactly 20 ms per message: give the output transport 20 ms chunks (audio_out_10ms_chunks=2),
or with pipecat's FastAPI transport fixed_audio_packet_size=640, as pipecat's own Vonage serializer needs.

Behind it is one agent-server `formi.Session` per call: the provider's exact message shapes and frame
sizes (Vonage's 20 ms, Exotel's multiples of 320 bytes; elsewhere one message per pipeline chunk, so no
audio waits), media put back in order (Telnyx), other tracks of a both-tracks stream dropped, the
provider's clear on pipecat's InterruptionFrame, DTMF as InputDTMFFrame, the hang-up message where the
provider has one (jambonz, Asterisk) on EndFrame, and playback truth: `last_interruption` says how much
of the interrupted utterance the caller heard (and `on_interruption` is called with it). The pipeline's
input and output rates are honoured separately (hear at 16 kHz, speak at 24 kHz).

Unlike pipecat's Twilio serializer it does not hang up through the provider's REST API: it speaks only
the media stream (end the call from your provider's API, or close the WebSocket).
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, List, Optional

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    AudioRawFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from ._types import EventKind, Playback
from .errors import FormiError, StateError
from .resample import Resampler
from .session import Session

__all__ = ["FormiFrameSerializer"]


class FormiFrameSerializer(FrameSerializer):
    """Serializes pipecat frames to and from one telephony provider's media stream, through libformi."""

    class InputParams(FrameSerializer.InputParams):
        """Configuration of FormiFrameSerializer.

        Parameters:
            sample_rate: the rate of the audio handed to the pipeline (default: the pipeline's input rate).
            frame_ms: the duration of each media message where the provider takes any size: set it to
                the output transport's chunk (audio_out_10ms_chunks x 10 ms; pipecat's default is 40).
            reorder_window: media frames held to restore the provider's order (Telnyx); 0 to deliver as
                received.
            caller_track: the track of the caller's media in a both-tracks stream (default "inbound").
        """

        sample_rate: Optional[int] = None
        frame_ms: int = 40
        reorder_window: int = 4
        caller_track: Optional[str] = None

    def __init__(self, provider: str, params: Optional["FormiFrameSerializer.InputParams"] = None,
                 on_interruption: Optional[Callable[[Playback], Any]] = None, **kwargs: Any) -> None:
        """provider: a built-in provider's name (or a formi.Provider). on_interruption: called with the
        Playback of each utterance an InterruptionFrame cut (what the caller heard of it)."""
        params = params or FormiFrameSerializer.InputParams()
        super().__init__(params, **kwargs)
        self._params: FormiFrameSerializer.InputParams = params
        self._provider = provider
        self._session: Optional[Session] = None
        self._rate = 0                       # the pipeline's input rate: the session's local format
        self._send_rate = 0                  # its output rate: the session's send format
        self._out: Optional[Resampler] = None  # a frame at another rate -> the send format
        self._out_rate = 0
        self._clock0 = time.monotonic()
        self._on_interruption = on_interruption
        #: The Playback of the last utterance an InterruptionFrame cut, or None.
        self.last_interruption: Optional[Playback] = None
        #: The call's START event (stream and call ids, format, custom parameters), once it came.
        self.start = None
        self._pending: List[Any] = []       # text messages waiting for the next payload (see _joined)
        self._warned = False
        #: ERROR events the session reported (malformed or out-of-order provider messages), most recent last.
        self.errors: List[str] = []

    # -- set-up ----------------------------------------------------------------------------------

    async def setup(self, setup: FrameProcessorSetup) -> None:
        """Creates the call's session at the pipeline's input rate."""
        self._rate = self._params.sample_rate or setup.audio_in_sample_rate
        self._send_rate = setup.audio_out_sample_rate or self._rate
        options: dict = {"local_format": ("pcm16le", self._rate), "send_format": ("pcm16le", self._send_rate),
                         "frame_ms": self._params.frame_ms,
                         "reorder_window": self._params.reorder_window,
                         # Playback truth from the clock: one message per chunk leaves no room for marks.
                         "mark_interval_ms": 0}
        if self._params.caller_track is not None:
            options["caller_track"] = self._params.caller_track
        self._session = Session(self._provider, **options)

    @property
    def session(self) -> Session:
        """The call's session (after setup)."""
        if self._session is None:
            raise RuntimeError("FormiFrameSerializer: setup() has not run (the transport runs it)")
        return self._session

    def _tick(self) -> None:
        self.session.set_time(int((time.monotonic() - self._clock0) * 1000))

    # -- pipeline -> provider --------------------------------------------------------------------

    async def serialize(self, frame: Frame) -> Optional[Any]:
        """A pipecat frame as the provider's message (str or bytes), or None when it sends nothing."""
        session = self.session
        self._tick()
        if isinstance(frame, InterruptionFrame):
            try:
                self.last_interruption = session.interrupt()
            except FormiError:  # no call streaming yet
                return None
            if self._out is not None:
                self._out.reset()
            if self._on_interruption is not None:
                self._on_interruption(self.last_interruption)
            return self._joined()
        if isinstance(frame, AudioRawFrame):
            return self._serialize_audio(frame)
        if isinstance(frame, (EndFrame, CancelFrame)):
            session.end("pipeline ended")
            return self._joined()
        if isinstance(frame, (OutputTransportMessageFrame, OutputTransportMessageUrgentFrame)):
            return None if self.should_ignore_frame(frame) else json.dumps(frame.message)
        return None

    def _serialize_audio(self, frame: AudioRawFrame) -> Optional[Any]:
        session = self.session
        pcm = frame.audio
        if frame.num_channels != 1:
            pcm = _mono(pcm, frame.num_channels)
        if frame.sample_rate != self._send_rate:  # a frame at neither of the pipeline's rates
            if self._out is None or self._out_rate != frame.sample_rate:
                self._out, self._out_rate = Resampler(frame.sample_rate, self._send_rate), frame.sample_rate
            pcm = self._out.process(pcm)
        if not pcm:
            return None
        try:
            session.send_audio(pcm)
        except StateError:  # before the provider's start (or after its stop) there is no call to speak to
            return None
        return self._joined()

    def _joined(self) -> Optional[Any]:
        """The session's pending messages as one payload: one message, or binary frames joined (the
        transport's fixed_audio_packet_size splits them again where a provider wants exact frames, as
        Vonage does). pipecat sends one payload per frame, so when one frame gives several text messages
        (frame_ms below the pipeline's chunk) the first goes now and the rest with the next payload."""
        messages = list(self.session.outputs())
        if self._pending:
            messages, self._pending = self._pending + messages, []
        if not messages:
            return None
        if len(messages) == 1:
            message = messages[0]
            return message.data if message.binary else message.data.decode("utf-8")
        if all(m.binary for m in messages):
            data = b"".join(m.data for m in messages)
            return data if messages[0].binary else data.decode("utf-8")
        if not self._warned:
            self._warned = True
            logger.warning(f"FormiFrameSerializer: {len(messages)} messages for one frame; "
                           "set InputParams.frame_ms to the output transport's chunk (audio_out_10ms_chunks x 10)")
        self._pending = messages[1:]
        return messages[0].text

    # -- provider -> pipeline --------------------------------------------------------------------

    async def deserialize(self, data: Any) -> Optional[Frame]:
        """A provider message as a pipecat frame: audio (InputAudioRawFrame at the pipeline's rate), a key
        press (InputDTMFFrame), or None (start, marks, errors: kept on the serializer)."""
        session = self.session
        self._tick()
        audio = session.receive_audio(data, binary=isinstance(data, (bytes, bytearray, memoryview)))
        result: Optional[Frame] = None
        # receive_audio took every event out of the library; those that were not audio wait in the
        # session's own queue (rare, so an Event each is fine, and none is looked for when it is empty).
        for event in (session.events() if session._held else ()):
            if event.kind is EventKind.DTMF and event.digit:
                try:
                    result = InputDTMFFrame(KeypadEntry(event.digit))
                except ValueError:  # A-D: no pipecat keypad entry
                    pass
            elif event.kind is EventKind.START:
                self.start = event
            elif event.kind is EventKind.ERROR and event.error:
                self.errors = (self.errors + [event.error])[-100:]
        if audio:
            return InputAudioRawFrame(audio=audio, num_channels=1, sample_rate=self._rate)
        return result


def _mono(pcm: bytes, channels: int) -> bytes:
    """Interleaved 16-bit PCM down to its first channel."""
    step = 2 * channels
    return b"".join(pcm[i:i + 2] for i in range(0, len(pcm) - step + 1, step))
