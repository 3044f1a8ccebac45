/* The WebRTC C VAD exported by libwebrtc_audio_processing.so.1 (Debian's libwebrtc-audio-processing-dev
 * 0.3). The package ships only C++ headers, so the prototypes are declared here, as the library defines
 * them (webrtc/common_audio/vad/include/webrtc_vad.h). An internal interface of that build: pinned by
 * scripts/install-deps.sh installing that package. */
#ifndef FORMI_WEBRTC_VAD_SHIM_H
#define FORMI_WEBRTC_VAD_SHIM_H
#include <stddef.h>
#include <stdint.h>

typedef struct WebRtcVadInst VadInst;

VadInst *WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst *handle);
int WebRtcVad_Init(VadInst *handle);
int WebRtcVad_set_mode(VadInst *handle, int mode);           /* 0..3, 3 the most aggressive */
int WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length); /* 1, 0, -1 */
int WebRtcVad_ValidRateAndFrameLength(int rate, size_t frame_length);
#endif
