/*
 * bench/fixwire.h: what the compiled benchmark tools share (header-only, static functions): the FIX 4.4 wire
 * helpers, and the few pieces of plumbing every tool has (its messages, its command line, its percentiles).
 *
 * Why a header: the tools are single C files built with one compiler call each (bench/native_tools.py, which
 * rebuilds a tool when this file changes); what they share (a growable byte buffer, the checksum, field
 * lookup, a framer that finds whole messages by BodyLength and resynchronises on garbage, the SendingTime
 * text, a generic encoder, a non-blocking reader and writer) lives here so that it is written and fixed once.
 * bench/loadgen.c, bench/echo_server.c and bench/fillpath.c include it; loadgen keeps its own NewOrderSingle
 * template (its hot path), built on these pieces.
 *
 * Before including it a tool defines FW_TOOL, its name (the prefix of its messages on stderr), and, if it
 * parses options with fw_parse_int/fw_parse_double, FW_USAGE, its usage text.
 */
#ifndef METAORDER_FIXWIRE_H
#define METAORDER_FIXWIRE_H

#ifndef FW_TOOL
#error "define FW_TOOL (the tool's name, for its messages) before including fixwire.h"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#define FW_SOH '\x01'
#define FW_MAX_BODY_LENGTH (1 << 20)
#define FW_NS 1000000000LL

/* Plain static (not inline: the compiler decides as for the tool's own functions); a tool uses only some. */
#define FW_API static __attribute__((unused))

static inline int64_t fw_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FW_NS + ts.tv_nsec;
}

/* One line on stderr, prefixed with the tool's name. */
FW_API void fw_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(FW_TOOL ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- a growable byte buffer ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} FwBuf;

FW_API void fw_reserve(FwBuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        fw_log("out of memory");
        exit(2);
    }
    b->data = data;
    b->cap = cap;
}

FW_API void fw_put(FwBuf *b, const void *p, size_t n) {
    fw_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

FW_API void fw_consume(FwBuf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Writes what the socket takes of b now; returns -1 when the connection is dead (b is then emptied). */
FW_API int fw_flush(int fd, FwBuf *b) {
    while (b->len) {
        ssize_t n = send(fd, b->data, b->len, MSG_NOSIGNAL);
        if (n > 0) {
            fw_consume(b, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            b->len = 0;
            return -1;
        }
    }
    return 0;
}

/* Reads once from fd into b (64 KiB of room made first), retrying EINTR.  Returns the bytes read, with *full
 * set when they filled the room (more may be waiting: read again); 0 when nothing is waiting now; -1 when
 * the connection is over (the peer closed it, or an error). */
FW_API ssize_t fw_recv(int fd, FwBuf *b, int *full) {
    fw_reserve(b, 65536);
    size_t room = b->cap - b->len;
    for (;;) {
        ssize_t got = recv(fd, b->data + b->len, room, 0);
        if (got > 0) {
            b->len += (size_t)got;
            *full = (size_t)got == room;
            return got;
        }
        if (got < 0 && errno == EINTR) continue;
        return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

FW_API unsigned fw_sum(const char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += (unsigned char)p[i];
    return s;
}

/* ---- reading ---------------------------------------------------------------------------------------- */

/* Value of `tag` (given as "\x01NN=") in msg[0:n]: pointer and length, or NULL. */
FW_API const char *fw_field(const char *msg, size_t n, const char *tag, size_t *vlen) {
    size_t tl = strlen(tag);
    const char *p = memmem(msg, n, tag, tl);
    if (!p) return NULL;
    p += tl;
    const char *e = memchr(p, FW_SOH, (size_t)(msg + n - p));
    if (!e) return NULL;
    *vlen = (size_t)(e - p);
    return p;
}

/* The same for printf's "%.*s": the value, or "" (length 0) when absent. */
FW_API const char *fw_value(const char *msg, size_t n, const char *tag, int *vlen) {
    size_t vl;
    const char *v = fw_field(msg, n, tag, &vl);
    *vlen = v ? (int)vl : 0;
    return v ? v : "";
}

/* A field's value as a NUL-terminated string in out (empty when absent or too long). */
FW_API void fw_field_str(const char *msg, size_t n, const char *tag, char *out, size_t cap) {
    size_t vl;
    const char *v = fw_field(msg, n, tag, &vl);
    if (!v || vl >= cap) vl = 0;
    if (v) memcpy(out, v, vl);
    out[vl] = 0;
}

/* A field's value as a non-negative integer, or -1. */
FW_API long long fw_field_int(const char *msg, size_t n, const char *tag) {
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
FW_API long long fw_field_e4(const char *msg, size_t n, const char *tag) {
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
FW_API int fw_next(const char *buf, size_t n, size_t *pos, size_t *start, size_t *len, int64_t *garbage) {
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
        if (memcmp(tr, "10=", 3) || tr[6] != FW_SOH || !isdigit((unsigned char)tr[3]) ||
            !isdigit((unsigned char)tr[4]) || !isdigit((unsigned char)tr[5])) { /* BodyLength leads nowhere */
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

/* Offset in a message framed by fw_next of its body (the byte after BodyLength's SOH: "35=..."). */
FW_API size_t fw_body(const char *msg, size_t len) {
    return (size_t)((const char *)memchr(msg + 12, FW_SOH, len - 12) - msg) + 1;
}

/* The CheckSum a framed message states (its last 7 bytes are "10=NNN\x01"). */
FW_API unsigned fw_stated_sum(const char *msg, size_t len) {
    const char *t = msg + len - 4;
    return (unsigned)((t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0'));
}

/* MsgType of a framed message into out (NUL-terminated, at most 7 characters); 0 when there is none. */
FW_API int fw_msg_type(const char *msg, size_t n, char out[8]) {
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
    unsigned sum; /* fw_sum of text: a template adds it rather than summing the stamp again */
} FwStamp;

FW_API void fw_stamp(FwStamp *s) {
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
    s->sum = fw_sum(s->text, (size_t)s->len);
}

/* Appends one message to out: BeginString and BodyLength, then `head` (the header fields after them) and
 * `fields` ("tag=value\x01..." already formatted), then the CheckSum computed here. */
FW_API void fw_frame(FwBuf *out, const char *head, size_t hl, const char *fields, size_t flen) {
    char begin[32];
    int bl = snprintf(begin, sizeof begin, "8=FIX.4.4\x01" "9=%zu\x01", hl + flen);
    unsigned cs = (fw_sum(begin, (size_t)bl) + fw_sum(head, hl) + fw_sum(fields, flen)) & 0xFF;
    char tail[8];
    snprintf(tail, sizeof tail, "10=%03u\x01", cs);
    fw_reserve(out, (size_t)bl + hl + flen + 7);
    fw_put(out, begin, (size_t)bl);
    fw_put(out, head, hl);
    fw_put(out, fields, flen);
    fw_put(out, tail, 7);
}

/* Appends one message to out: the standard header (type, seq, sender, stamp, target), then `fields`
 * ("tag=value\x01..." already formatted, `flen` bytes), BodyLength and CheckSum computed here. */
FW_API void fw_encode(FwBuf *out, const char *type, uint64_t seq, const char *sender, const char *target,
                      const FwStamp *ts, const char *fields, size_t flen) {
    char head[1024];
    int hl = snprintf(head, sizeof head, "35=%s\x01" "34=%llu\x01" "49=%s\x01" "52=%.*s\x01" "56=%s\x01", type,
                      (unsigned long long)seq, sender, ts->len, ts->text, target);
    if (hl < 0 || (size_t)hl >= sizeof head) {
        fw_log("session message too long");
        exit(2);
    }
    fw_frame(out, head, (size_t)hl, fields, flen);
}

/* Writes "%lld.%04lld"-style text of a 10^-4 amount, trailing zeros of the fraction kept to two places. */
FW_API int fw_fmt_e4(char *out, size_t cap, long long v) {
    long long whole = v / 10000, frac = v % 10000;
    if (frac % 100 == 0) return snprintf(out, cap, "%lld.%02lld", whole, frac / 100);
    return snprintf(out, cap, "%lld.%04lld", whole, frac);
}

/* ---- command line ----------------------------------------------------------------------------------- */

#ifdef FW_USAGE
/* A bad command line: the usage, then "TOOL: error: ..." (argparse's form), exit status 2. */
FW_API void fw_bad_args(const char *fmt, const char *value) {
    fputs(FW_USAGE, stderr);
    fputs(FW_TOOL ": error: ", stderr);
    fprintf(stderr, fmt, value);
    fputc('\n', stderr);
    exit(2);
}

FW_API double fw_parse_double(const char *name, const char *text) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) fw_bad_args("argument %s: not a number", name);
    return v;
}

FW_API long long fw_parse_int(const char *name, const char *text) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end) fw_bad_args("argument %s: not an integer", name);
    return v;
}
#endif

/* ---- results ---------------------------------------------------------------------------------------- */

FW_API int fw_cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile (q in tenths of a percent) of an ascending array of ns, in µs. */
FW_API double fw_pct_us(const int64_t *v, int64_t n, int64_t q10) {
    int64_t rank = (q10 * n + 999) / 1000;
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1] / 1e3;
}

/* The JSON members PRE{p50,p90,p99,p99.9,max}_us of an ascending array of ns (null when it is empty). */
FW_API void fw_print_pcts(FILE *f, const char *pre, const int64_t *v, int64_t n) {
    static const struct { const char *name; int64_t q10; } qs[] = {
        {"p50", 500}, {"p90", 900}, {"p99", 990}, {"p99.9", 999}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        if (n) fprintf(f, ", \"%s%s_us\": %.1f", pre, qs[i].name, fw_pct_us(v, n, qs[i].q10));
        else fprintf(f, ", \"%s%s_us\": null", pre, qs[i].name);
    }
    if (n) fprintf(f, ", \"%smax_us\": %.1f", pre, (double)v[n - 1] / 1e3);
    else fprintf(f, ", \"%smax_us\": null", pre);
}

#endif
