"""Value types shared by the API: audio formats, event kinds, roles, and the dataclasses copied out of
the library's structs (events, messages, playback figures)."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

__all__ = ["Encoding", "Format", "EventKind", "Role", "Event", "Message", "Playback", "AudioChunk", "FormatLike"]


class Encoding(enum.IntEnum):
    """FORMI_ENCODING_*: how samples are stored on the wire."""

    ULAW = 1     #: G.711 mu-law, 1 byte per sample.
    ALAW = 2     #: G.711 A-law, 1 byte per sample.
    PCM16LE = 3  #: Signed 16-bit little-endian.
    PCM16BE = 4  #: Signed 16-bit big-endian ("L16").
    PCM8 = 5     #: Unsigned 8-bit, silence 128.
    F32LE = 6    #: IEEE float32 little-endian, full scale +-1.

    @property
    def sample_bytes(self) -> int:
        """Bytes per sample of one channel."""
        return {Encoding.PCM16LE: 2, Encoding.PCM16BE: 2, Encoding.F32LE: 4}.get(self, 1)

    @classmethod
    def parse(cls, value: Union["Encoding", int, str]) -> "Encoding":
        """An Encoding from itself, its number, or its name in any case ("ulaw", "PCM16LE")."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"unknown encoding {value!r}; known: "
                                 + ", ".join(e.name.lower() for e in cls)) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"encoding must be an Encoding, int or str, not {type(value).__name__}")
        return cls(value)


@dataclass(frozen=True)
class Format:
    """An audio format (`formi_format`): encoding, sample rate in Hz, channels (1 or 2, interleaved).

    Rates: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 (the library checks).
    """

    encoding: Encoding
    sample_rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoding", Encoding.parse(self.encoding))
        for name in ("sample_rate", "channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Format.{name} must be an int, not {type(value).__name__}")

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame (one sample of every channel)."""
        return self.encoding.sample_bytes * self.channels

    def bytes_for(self, ms: int) -> int:
        """Bytes of `ms` milliseconds of audio in this format."""
        return self.sample_rate * ms // 1000 * self.frame_bytes

    @classmethod
    def coerce(cls, value: "FormatLike") -> "Format":
        """A Format from a Format, an (encoding, sample_rate[, channels]) tuple or a dict of those keys."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if isinstance(value, (tuple, list)) and len(value) in (2, 3):
            return cls(*value)
        raise TypeError("a format is a formi.Format, an (encoding, sample_rate[, channels]) tuple or a dict, "
                        f"not {type(value).__name__}")


FormatLike = Union[Format, Tuple[Any, int], Tuple[Any, int, int], Dict[str, Any]]


class EventKind(enum.IntEnum):
    """FORMI_EVENT_*: what a provider message meant."""

    CONNECTED = 1  #: The provider's handshake.
    START = 2      #: Call metadata: ids, direction, caller, media format, custom parameters.
    MEDIA = 3      #: Caller audio.
    DTMF = 4       #: A key press.
    MARK = 5       #: A mark echoed back once the audio before it played.
    CLEAR = 6      #: Queued audio was cleared.
    STOP = 7       #: The call's stream ended.
    ERROR = 8      #: Not mappable: `error` says why.
    IGNORED = 9    #: Known to the template but of no interest.

    def __str__(self) -> str:
        return self.name


class Role(enum.IntEnum):
    """FORMI_ROLE_*: which end of the call a session is."""

    AGENT_SERVER = 1  #: Provider messages in, agent audio out (the /ws-adapter side).
    TELEPHONY = 2     #: Speaks as the provider to an agent server (a PBX module, a SIP stack).

    @classmethod
    def parse(cls, value: Union["Role", int, str]) -> "Role":
        """A Role from itself, its number, or its name ("agent_server", "agent-server", "telephony")."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper().replace("-", "_")]
            except KeyError:
                raise ValueError(f"unknown role {value!r}; known: agent_server, telephony") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"role must be a Role, int or str, not {type(value).__name__}")
        return cls(value)


@dataclass(frozen=True)
class Event:
    """One event, copied out of a `formi_event` (so it stays valid after the next call).

    Absent numbers are None (the library's -1), absent texts None. `audio` is the MEDIA payload
    (decoded from base64; in a session, converted to the session's local format). `from_` is the C
    field `from`. `custom_parameters` is the START event's object, parsed.
    """

    kind: EventKind
    format: Optional[Format]
    audio: Optional[bytes]
    sequence: Optional[int]
    timestamp: Optional[int]
    chunk: Optional[int]
    duration_ms: Optional[int]
    stream_id: Optional[str]
    call_id: Optional[str]
    account_id: Optional[str]
    track: Optional[str]
    digit: Optional[str]
    mark: Optional[str]
    direction: Optional[str]
    from_: Optional[str]
    to: Optional[str]
    reason: Optional[str]
    custom_parameters: Optional[Dict[str, Any]]
    error: Optional[str]
    pattern: Optional[str]

    @property
    def name(self) -> str:
        """The kind's name in lower case: "connected", "start", "media", "dtmf", "mark", ... (the number
        as text for a kind newer than these bindings)."""
        return self.kind.name.lower() if isinstance(self.kind, EventKind) else str(int(self.kind))

    def audio_array(self) -> Any:
        """The audio as a numpy array of the format's sample type (int16 for PCM16, uint8 for G.711 and
        PCM8, float32 for F32LE). Needs numpy; None when the event has no audio."""
        if self.audio is None or self.format is None:
            return None
        import numpy as np  # type: ignore[import-not-found, unused-ignore]

        dtype = {Encoding.PCM16LE: "<i2", Encoding.PCM16BE: ">i2", Encoding.F32LE: "<f4"}.get(self.format.encoding,
                                                                                              "u1")
        return np.frombuffer(self.audio, dtype=dtype)


class Message(NamedTuple):
    """A message to send on the call's transport (`formi_message`): a binary frame when `binary`.
    (A named tuple: made once per frame, it costs a third of a frozen dataclass.)"""

    data: bytes
    binary: bool

    @property
    def text(self) -> str:
        """The message as text (UTF-8); for text frames."""
        return self.data.decode("utf-8")

    def json(self) -> Any:
        """The text message parsed as JSON."""
        return json.loads(self.data)


@dataclass(frozen=True)
class Playback:
    """What the caller heard of the current (or last interrupted) agent utterance (`formi_playback`)."""

    utterance: int      #: Utterances counted from 1; 0 before any agent audio was sent.
    sent_ms: int        #: Agent audio of the utterance handed out to send.
    confirmed_ms: int   #: Of it, confirmed played by the provider's mark echoes.
    estimated_ms: int   #: Of it, played by the host's clock.
    interrupted: bool   #: Cut by interrupt(); the figures are those of that instant.
    queued_ms: int      #: Converted but not yet taken with next_output().


class AudioChunk(NamedTuple):
    """What Session.read_audio returns: `data` (always the length asked for, padded with silence) and
    `real`, how many of its bytes are real agent audio."""

    data: bytes
    real: int
