/*
 * bench/fixwire.h: the FIX 4.4 wire helpers of the compiled benchmark tools (header-only, static functions).
 *
 * Why a header: the tools are single C files built with one compiler call each (bench/native_tools.py); what
 * they share (a growable byte buffer, integer formatting, the checksum, field lookup, a framer that finds
 * whole messages by BodyLength and resynchronises on garbage, the SendingTime text, a generic encoder) lives
 * here so that it is written and fixed once.  bench/fillpath.c uses it; bench/loadgen.c and
 * bench/echo_server.c still carry their own copies (their hot paths are specialised templates).
 */
#ifndef METAORDER_FIXWIRE_H
#define METAORDER_FIXWIRE_H

#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FW_SOH '\x01'
#define FW_MAX_BODY_LENGTH (1 << 20)
#define FW_NS 1000000000LL

static inline int64_t fw_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FW_NS + ts.tv_nsec;
}

/* ---- a growable byte buffer ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} FwBuf;

static void fw_reserve(FwBuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        fputs("out of memory\n", stderr);
        exit(2);
    }
    b->data = data;
    b->cap = cap;
}

static void fw_put(FwBuf *b, const void *p, size_t n) {
    fw_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void fw_consume(FwBuf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static unsigned fw_sum(const char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += (unsigned char)p[i];
    return s;
}

/* ---- reading ---------------------------------------------------------------------------------------- */

/* Value of `tag` (given as "\x01NN=") in msg[0:n]: pointer and length, or NULL. */
static const char *fw_field(const char *msg, size_t n, const char *tag, size_t *vlen) {
    size_t tl = strlen(tag);
    const char *p = memmem(msg, n, tag, tl);
    if (!p) return NULL;
    p += tl;
    const char *e = memchr(p, FW_SOH, (size_t)(msg + n - p));
    if (!e) return NULL;
    *vlen = (size_t)(e - p);
    return p;
}

/* A field's value as a NUL-terminated string in out (empty when absent or too long). */
static void fw_field_str(const char *msg, size_t n, const char *tag, char *out, size_t cap) {
    size_t vl;
    const char *v = fw_field(msg, n, tag, &vl);
    if (!v || vl >= cap) vl = 0;
    if (v) memcpy(out, v, vl);
    out[vl] = 0;
}

/* A field's value as a non-negative integer, or -1. */
static long long fw_field_int(const char *msg, size_t n, const char *tag) {
    size_t vl;
    const char *v = fw_field(msg, n, tag, &vl);
    if (!v || !vl || vl > 18) return -1;
    long long x = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] == '.') { /* "100.0" is 100; a fraction is not a whole number */
            for (size_t j = i + 1; j < vl; j++) if (v[j] != '0') return -1;
            return x;
        }
        if (!isdigit((unsigned char)v[i])) return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* A decimal field in units of 10^-4 (prices), or -1 when absent, negative or not a plain decimal. */
static long long fw_field_e4(const char *msg, size_t n, const char *tag) {
    size_t vl;
    const char *v = fw_field(msg, n, tag, &vl);
    if (!v || !vl || vl > 24) return -1;
    long long whole = 0, frac = 0;
    int digits = -1; /* fraction digits seen; -1: no point yet */
    for (size_t i = 0; i < vl; i++) {
        if (v[i] == '.' && digits < 0) {
            digits = 0;
        } else if (!isdigit((unsigned char)v[i])) {
            return -1;
        } else if (digits < 0) {
            whole = whole * 10 + (v[i] - '0');
        } else if (digits < 4) {
            frac = frac * 10 + (v[i] - '0');
            digits++;
        } else if (v[i] != '0') {
            return -1; /* finer than 10^-4 */
        }
    }
    for (int d = digits < 0 ? 0 : digits; d < 4; d++) frac *= 10;
    return whole * 10000 + frac;
}

/* The next whole message in buf[*pos:n]: returns 1 with [*start, *start + *len) set and *pos past it, or 0
 * when more bytes are needed.  Bytes that cannot start a message are skipped and counted in *garbage. */
static int fw_next(const char *buf, size_t n, size_t *pos, size_t *start, size_t *len, int64_t *garbage) {
    for (;;) {
        size_t p = *pos;
        if (n - p < 16) return 0;
        if (memcmp(buf + p, "8=FIX.4.4\x01", 10)) {
            const char *nxt = memmem(buf + p + 1, n - p - 1, "8=FIX.4.4\x01", 10);
            size_t skip_to = nxt ? (size_t)(nxt - buf) : n - 9;
            *garbage += (int64_t)(skip_to - p);
            *pos = skip_to;
            continue;
        }
        size_t lim = p + 24 < n ? p + 24 : n;
        const char *j = p + 12 < lim ? memchr(buf + p + 12, FW_SOH, lim - p - 12) : NULL;
        if (!j) {
            if (n - p >= 24) {
                *garbage += 10;
                *pos = p + 10;
                continue;
            }
            return 0;
        }
        size_t body = (size_t)(j - buf) + 1;
        long body_length = 0;
        int ok = buf[p + 10] == '9' && buf[p + 11] == '=' && j > buf + p + 12;
        for (const char *d = buf + p + 12; ok && d < j; d++) {
            if (*d < '0' || *d > '9' || body_length > FW_MAX_BODY_LENGTH) ok = 0;
            else body_length = body_length * 10 + (*d - '0');
        }
        if (!ok || body_length <= 0 || body_length > FW_MAX_BODY_LENGTH) {
            *garbage += 10;
            *pos = p + 10;
            continue;
        }
        size_t end = body + (size_t)body_length + 7;
        if (end > n) return 0;
        const char *tr = buf + end - 7;
        if (memcmp(tr, "10=", 3) || tr[6] != FW_SOH) {
            *garbage += 10;
            *pos = p + 10;
            continue;
        }
        *start = p;
        *len = end - p;
        *pos = end;
        return 1;
    }
}

/* MsgType of a framed message into out (NUL-terminated, at most 7 characters); 0 when there is none. */
static int fw_msg_type(const char *msg, size_t n, char out[8]) {
    size_t vl;
    const char *v = fw_field(msg, n, "\x01" "35=", &vl);
    if (!v || !vl || vl > 7) return 0;
    memcpy(out, v, vl);
    out[vl] = 0;
    return 1;
}

/* ---- writing ---------------------------------------------------------------------------------------- */

/* SendingTime text: UTC with milliseconds, reformatted only when the millisecond changes. */
typedef struct {
    int64_t ms;
    char text[32];
    int len;
} FwStamp;

static void fw_stamp(FwStamp *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (ms == s->ms && s->len) return;
    s->ms = ms;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    s->len = (int)strftime(s->text, sizeof s->text, "%Y%m%d-%H:%M:%S", &tm);
    s->len += snprintf(s->text + s->len, sizeof s->text - (size_t)s->len, ".%03d", (int)(ms % 1000));
}

/* Appends one message to out: the standard header (type, seq, sender, stamp, target), then `fields`
 * ("tag=value\x01..." already formatted, `flen` bytes), BodyLength and CheckSum computed here. */
static void fw_encode(FwBuf *out, const char *type, uint64_t seq, const char *sender, const char *target,
                      const FwStamp *ts, const char *fields, size_t flen) {
    char head[256];
    int hl = snprintf(head, sizeof head, "35=%s\x01" "34=%llu\x01" "49=%s\x01" "52=%.*s\x01" "56=%s\x01", type,
                      (unsigned long long)seq, sender, ts->len, ts->text, target);
    if (hl < 0 || (size_t)hl >= sizeof head) {
        fputs("header too long\n", stderr);
        exit(2);
    }
    char begin[32];
    int bl = snprintf(begin, sizeof begin, "8=FIX.4.4\x01" "9=%zu\x01", (size_t)hl + flen);
    unsigned cs = (fw_sum(begin, (size_t)bl) + fw_sum(head, (size_t)hl) + fw_sum(fields, flen)) & 0xFF;
    char tail[8];
    snprintf(tail, sizeof tail, "10=%03u\x01", cs);
    fw_reserve(out, (size_t)bl + (size_t)hl + flen + 7);
    fw_put(out, begin, (size_t)bl);
    fw_put(out, head, (size_t)hl);
    fw_put(out, fields, flen);
    fw_put(out, tail, 7);
}

/* Writes "%lld.%04lld"-style text of a 10^-4 amount, trailing zeros of the fraction kept to two places. */
static int fw_fmt_e4(char *out, size_t cap, long long v) {
    long long whole = v / 10000, frac = v % 10000;
    if (frac % 100 == 0) return snprintf(out, cap, "%lld.%02lld", whole, frac / 100);
    return snprintf(out, cap, "%lld.%04lld", whole, frac);
}

#endif
