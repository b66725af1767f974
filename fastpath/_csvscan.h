/* Structural-character scan of 64 bytes for the CSV kernel (_csvread.pyx).
 *
 * csv_scan64(s, sep, quote, &quotes, &high) returns the bit mask of the bytes of
 * s[0:64] that are `sep` or '\n' (bit i = byte i), and sets `quotes` to the mask
 * of `quote` bytes and `high` to the mask of bytes >= 0x80.  SSE2 (every x86-64)
 * when available, a portable loop otherwise.
 */
#ifndef SIMBOX_CSVSCAN_H
#define SIMBOX_CSVSCAN_H
#include <stdint.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
static inline uint64_t csv_scan64(const uint8_t* s, uint8_t sep, uint8_t quote,
                                  uint64_t* quotes, uint64_t* high)
{
    const __m128i vs = _mm_set1_epi8((char)sep);
    const __m128i vn = _mm_set1_epi8('\n');
    const __m128i vq = _mm_set1_epi8((char)quote);
    uint64_t stop = 0, q = 0, h = 0;
    int i;
    for (i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i*)(s + 16 * i));
        uint64_t ms = (uint32_t)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(x, vs), _mm_cmpeq_epi8(x, vn)));
        uint64_t mq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq));
        uint64_t mh = (uint32_t)_mm_movemask_epi8(x);
        stop |= ms << (16 * i);
        q |= mq << (16 * i);
        h |= mh << (16 * i);
    }
    *quotes = q;
    *high = h;
    return stop;
}
#else
static inline uint64_t csv_scan64(const uint8_t* s, uint8_t sep, uint8_t quote,
                                  uint64_t* quotes, uint64_t* high)
{
    uint64_t stop = 0, q = 0, h = 0;
    int i;
    for (i = 0; i < 64; i++) {
        uint8_t c = s[i];
        stop |= (uint64_t)(c == sep || c == '\n') << i;
        q |= (uint64_t)(c == quote) << i;
        h |= (uint64_t)(c >> 7) << i;
    }
    *quotes = q;
    *high = h;
    return stop;
}
#endif

#if defined(__GNUC__) || defined(__clang__)
#define csv_ctz64(x) __builtin_ctzll(x)
#else
static inline int csv_ctz64(uint64_t x) { int n = 0; while (!(x & 1)) { x >>= 1; n++; } return n; }
#endif

#endif
