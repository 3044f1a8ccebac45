"""formi.pipecat against the real pipecat-ai package: a pipecat pipeline with pipecat's own WebSocket
server transport and FormiFrameSerializer takes a simulated call (formi.sim) in each provider's protocol.
The pipeline echoes what it hears (at its own output rate, 24 kHz, so the serializer converts), presses
its interruption on "#" (the provider's clear goes out and the playback truth is recorded), and records
the keys pressed."""
from __future__ import annotations

import asyncio
import math
import socket
import struct

import pytest
from conftest import write_wav

pytest.importorskip("websockets", minversion="13")
pytest.importorskip("pipecat", reason="pipecat-ai is not installed (pip install formi[pipecat])")

from pipecat.frames.frames import (  # noqa: E402
    CancelFrame,
    EndFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.runner import PipelineRunner  # noqa: E402
from pipecat.pipeline.task import PipelineParams, PipelineTask  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transports.websocket.server import (  # noqa: E402
    SingleClientWebsocketServerParams,
    SingleClientWebsocketServerTransport,
)

from formi import sim  # noqa: E402
from formi.pipecat import FormiFrameSerializer  # noqa: E402

PROVIDERS = ["twilio", "telnyx", "plivo", "exotel", "vonage", "jambonz", "asterisk"]
IN_RATE, OUT_RATE = 16000, 24000


class Echo(FrameProcessor):
    """Says back what it hears, as the agent; '#' interrupts it."""

    def __init__(self) -> None:
        super().__init__()
        self.heard = 0       # bytes of caller audio
        self.keys: list = []

    async def process_frame(self, frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.heard += len(frame.audio)
            assert frame.sample_rate == IN_RATE
            samples = struct.unpack(f"<{len(frame.audio) // 2}h", frame.audio)
            if max(map(abs, samples), default=0) < 500:
                return  # silence is not echoed: the caller's side hangs up once the agent is quiet
            # 16 kHz -> 24 kHz by repeating every other sample: crude, but the serializer must resample it back.
            out = []
            for i, s in enumerate(samples):
                out.append(s)
                if i % 2:
                    out.append(s)
            await self.push_frame(OutputAudioRawFrame(struct.pack(f"<{len(out)}h", *out), OUT_RATE, 1))
        elif isinstance(frame, InputDTMFFrame):
            self.keys.append(frame.button.value)
            if frame.button.value == "#":
                await self.push_frame(InterruptionFrame())
        else:
            await self.push_frame(frame, direction)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory) -> str:
    rate = 16000
    samples = [int(9000 * math.sin(2 * math.pi * 440 * i / rate)) if i < rate * 2 else 0 for i in range(rate * 3)]
    path = tmp_path_factory.mktemp("pipecat") / "caller.wav"
    return write_wav(path, samples, rate)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_pipecat_pipeline_takes_a_call(provider, caller_wav):
    interruptions = []
    serializer = FormiFrameSerializer(provider, on_interruption=interruptions.append)
    port = free_port()
    transport = SingleClientWebsocketServerTransport(
        SingleClientWebsocketServerParams(
            audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=IN_RATE,
            audio_out_sample_rate=OUT_RATE, serializer=serializer,
            # Vonage takes exactly 20 ms per binary message: 20 ms chunks (with pipecat's FastAPI
            # transport, fixed_audio_packet_size=640 does the same).
            audio_out_10ms_chunks=2 if provider == "vonage" else 4),
        host="127.0.0.1", port=port)
    echo = Echo()
    task = PipelineTask(Pipeline([transport.input(), echo, transport.output()]),
                        params=PipelineParams(audio_in_sample_rate=IN_RATE, audio_out_sample_rate=OUT_RATE))

    @transport.event_handler("on_client_disconnected")
    async def disconnected(_transport, _client):
        await task.queue_frame(EndFrame())

    async def call() -> sim.SimReport:
        await asyncio.sleep(1.0)  # the transport's server starts with the pipeline
        url = f"ws://127.0.0.1:{port}/ws-adapter/{provider}/inbound/1/1/+15550100"
        return await sim.simulate(url, caller_wav, dtmf=[(1.0, "1"), (2.2, "#")], tail=1.0)

    async def main() -> sim.SimReport:
        runner = PipelineRunner(handle_sigint=False)
        pipeline = asyncio.create_task(runner.run(task))
        try:
            return await asyncio.wait_for(call(), 60)
        finally:
            await task.queue_frame(CancelFrame())
            await asyncio.wait_for(pipeline, 20)

    report = asyncio.run(main()).calls[0]
    assert report.connected, report.error
    # Audio in: the pipeline heard the caller's 3 s at 16 kHz (and the silence while the caller waited).
    assert echo.heard >= 3 * IN_RATE * 2, echo.heard
    # Audio out: the caller heard the echo, in the provider's own frames (no rule broken).
    assert report.heard_s > 1.5, report.heard_s
    assert report.rules_broken == {}, report.rules_broken
    # DTMF as pipecat's DTMF frames, and '#' interrupted the agent: the provider's clear went out, and the
    # serializer knows how much of the utterance the caller heard.
    assert echo.keys == ["1", "#"]
    assert len(interruptions) == 1 and interruptions[0].interrupted and interruptions[0].sent_ms > 0
    assert serializer.last_interruption is interruptions[0]
    assert serializer.start is not None and serializer.errors == []
