/* Codecs through the C ABI: G.711 conformance CRCs over the full ITU sweep, PCM exactness, base64. */
#include <formi.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#define RAMP 65536

static uint32_t crc_words_u8(const uint8_t *codes, size_t n) {
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t word[2] = {codes[i], 0};
        crc = crc32_update(crc, word, 2);
    }
    return crc;
}

static uint32_t crc_words(const int16_t *samples, size_t n) {
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t word[2] = {(uint8_t)((uint16_t)samples[i] & 0xFF), (uint8_t)((uint16_t)samples[i] >> 8)};
        crc = crc32_update(crc, word, 2);
    }
    return crc;
}

static void test_g711(const int16_t *ramp) {
    uint8_t *codes = malloc(RAMP);
    int16_t *decoded = malloc(RAMP * sizeof(int16_t));
    int16_t table[256];
    uint8_t all_codes[256];
    for (int i = 0; i < 256; i++) all_codes[i] = (uint8_t)i;

    CHECK(crc_words(ramp, RAMP) == 0xC8BA7682u);

    CHECK_STATUS(formi_ulaw_encode(ramp, RAMP, codes, RAMP), FORMI_OK);
    CHECK(crc_words_u8(codes, RAMP) == 0xCD170E15u);
    CHECK(crc32_update(0, codes, RAMP) == 0x6399D432u);
    CHECK_STATUS(formi_ulaw_decode(codes, RAMP, decoded, RAMP), FORMI_OK);
    CHECK(crc_words(decoded, RAMP) == 0x63641C01u);
    CHECK_STATUS(formi_ulaw_decode(all_codes, 256, table, 256), FORMI_OK);
    CHECK(crc_words(table, 256) == 0x0C847A9Fu);

    CHECK_STATUS(formi_alaw_encode(ramp, RAMP, codes, RAMP), FORMI_OK);
    CHECK(crc_words_u8(codes, RAMP) == 0x74719FE4u);
    CHECK(crc32_update(0, codes, RAMP) == 0x9133796Eu);
    CHECK_STATUS(formi_alaw_decode(codes, RAMP, decoded, RAMP), FORMI_OK);
    CHECK(crc_words(decoded, RAMP) == 0xABCEAA69u);
    CHECK_STATUS(formi_alaw_decode(all_codes, 256, table, 256), FORMI_OK);
    CHECK(crc_words(table, 256) == 0x9D764657u);

    /* enc(~x) == enc(x) ^ 0x80 for both laws, all inputs. */
    int16_t *complement = malloc(RAMP * sizeof(int16_t));
    uint8_t *codes2 = malloc(RAMP);
    for (int i = 0; i < RAMP; i++) complement[i] = (int16_t)~ramp[i];
    int ok = 1;
    formi_ulaw_encode(ramp, RAMP, codes, RAMP);
    formi_ulaw_encode(complement, RAMP, codes2, RAMP);
    for (int i = 0; i < RAMP; i++) ok &= codes2[i] == (codes[i] ^ 0x80);
    formi_alaw_encode(ramp, RAMP, codes, RAMP);
    formi_alaw_encode(complement, RAMP, codes2, RAMP);
    for (int i = 0; i < RAMP; i++) ok &= codes2[i] == (codes[i] ^ 0x80);
    CHECK(ok);
    free(complement);
    free(codes2);
    free(codes);
    free(decoded);
}

static void test_pcm(const int16_t *ramp) {
    uint8_t *bytes = malloc(2 * RAMP);
    int16_t *back = malloc(RAMP * sizeof(int16_t));
    float *floats = malloc(RAMP * sizeof(float));

    CHECK_STATUS(formi_pcm16le_encode(ramp, RAMP, bytes, 2 * RAMP), FORMI_OK);
    CHECK(bytes[0] == 0x00 && bytes[1] == 0x80);
    CHECK_STATUS(formi_pcm16le_decode(bytes, 2 * RAMP, back, RAMP), FORMI_OK);
    CHECK(memcmp(back, ramp, RAMP * sizeof(int16_t)) == 0);
    CHECK_STATUS(formi_pcm16be_encode(ramp, RAMP, bytes, 2 * RAMP), FORMI_OK);
    CHECK(bytes[0] == 0x80 && bytes[1] == 0x00 && bytes[2] == 0x80 && bytes[3] == 0x01);
    /* Decoding from an odd (unaligned) address works. */
    memmove(bytes + 1, bytes, 2 * RAMP - 1);
    CHECK_STATUS(formi_pcm16be_decode(bytes + 1, 2 * RAMP - 2, back, RAMP), FORMI_OK);
    CHECK(memcmp(back, ramp, (RAMP - 1) * sizeof(int16_t)) == 0);

    CHECK_STATUS(formi_f32_encode(ramp, RAMP, floats, RAMP), FORMI_OK);
    CHECK(floats[0] == -1.0f && floats[32768] == 0.0f);
    CHECK_STATUS(formi_f32_decode(floats, RAMP, back, RAMP), FORMI_OK);
    CHECK(memcmp(back, ramp, RAMP * sizeof(int16_t)) == 0);
    float special[4] = {2.0f, -2.0f, 0.0f / 0.0f, 0.25f};
    int16_t special_out[4];
    CHECK_STATUS(formi_f32_decode(special, 4, special_out, 4), FORMI_OK);
    CHECK(special_out[0] == 32767 && special_out[1] == -32768 && special_out[2] == 0 && special_out[3] == 8192);

    uint8_t u8[256];
    int16_t s16[256];
    for (int i = 0; i < 256; i++) u8[i] = (uint8_t)i;
    CHECK_STATUS(formi_pcm8_decode(u8, 256, s16, 256), FORMI_OK);
    CHECK(s16[0] == -32768 && s16[128] == 0 && s16[255] == 32512);
    uint8_t u8_back[256];
    CHECK_STATUS(formi_pcm8_encode(s16, 256, u8_back, 256), FORMI_OK);
    CHECK(memcmp(u8, u8_back, 256) == 0);

    int16_t stereo[6] = {100, 200, -3, 0, 32767, 32767};
    int16_t mono[3];
    CHECK_STATUS(formi_stereo_to_mono(stereo, 3, mono, 3), FORMI_OK);
    CHECK(mono[0] == 150 && mono[1] == -2 && mono[2] == 32767);
    int16_t stereo_back[6];
    CHECK_STATUS(formi_mono_to_stereo(mono, 3, stereo_back, 6), FORMI_OK);
    CHECK(stereo_back[0] == 150 && stereo_back[1] == 150 && stereo_back[5] == 32767);

    free(bytes);
    free(back);
    free(floats);
}

static void test_base64(void) {
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char text[16];
    uint8_t data[16];
    size_t len = 99;
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(plain[i]);
        CHECK_STATUS(formi_base64_encode(plain[i], n, text, sizeof text, &len), FORMI_OK);
        CHECK(len == strlen(coded[i]) && memcmp(text, coded[i], len) == 0);
        CHECK(len == FORMI_BASE64_ENCODED_SIZE(n));
        CHECK_STATUS(formi_base64_decode(coded[i], strlen(coded[i]), data, sizeof data, &len), FORMI_OK);
        CHECK(len == n && memcmp(data, plain[i], n) == 0);
    }

    /* A 20 ms mu-law frame, as Twilio sends it: 160 bytes -> 216 characters and back. */
    uint8_t frame[160], again[160];
    char frame_text[FORMI_BASE64_ENCODED_SIZE(160)];
    for (int i = 0; i < 160; i++) frame[i] = (uint8_t)(i * 37 + 11);
    CHECK_STATUS(formi_base64_encode(frame, 160, frame_text, sizeof frame_text, &len), FORMI_OK);
    CHECK(len == 216);
    CHECK_STATUS(formi_base64_decode(frame_text, len, again, sizeof again, &len), FORMI_OK);
    CHECK(len == 160 && memcmp(frame, again, 160) == 0);

    /* Strictness, with the message naming the problem. */
    CHECK_STATUS(formi_base64_decode("QU%D", 4, data, sizeof data, &len), FORMI_EBASE64);
    CHECK(strstr(formi_last_error(), "offset 2") != NULL && strstr(formi_last_error(), "'%'") != NULL);
    CHECK_STATUS(formi_base64_decode("QQ=A", 4, data, sizeof data, &len), FORMI_EBASE64);
    CHECK(strstr(formi_last_error(), "padding") != NULL);
    CHECK_STATUS(formi_base64_decode("QR==", 4, data, sizeof data, &len), FORMI_EBASE64);
    CHECK_STATUS(formi_base64_decode("QUJDR", 5, data, sizeof data, &len), FORMI_EBASE64);
    CHECK(strstr(formi_last_error(), "multiple of 4") != NULL);
}

int main(void) {
    int16_t *ramp = malloc(RAMP * sizeof(int16_t));
    for (int i = 0; i < RAMP; i++) ramp[i] = (int16_t)(i - 32768);
    test_g711(ramp);
    test_pcm(ramp);
    test_base64();
    free(ramp);
    return check_report("test_codecs");
}
