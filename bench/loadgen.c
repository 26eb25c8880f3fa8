/*
 * bench/loadgen.c: the compiled FIX 4.4 load generator (same command line and JSON line as bench/loadgen.py,
 * plus a few options of its own).
 *
 * Why C: a Python load generator's own jitter (its event loop, its GC, its interpreter) ends up in the
 * latency it reports.  This one is single-threaded, allocation-free while it runs, stamps with
 * CLOCK_MONOTONIC, and sends on schedule to within a few µs: it reports its own lateness (send_lag_*), and
 * the same run against bench/echo_server.c (the floor) shows what it and the kernel cost together.
 *
 * It logs on, then either
 *   --mode saturate --count N --window W
 *       keeps up to W NewOrderSingles outstanding (refilled after every read, one write per refill) until
 *       N replies have come back; reports replies/s; latency runs from the write that carried an order;
 *   --mode rate --rate R --duration S
 *       sends R orders/s on a schedule (order i is due at t0 + i/R) for S seconds; each order is stamped
 *       with its *scheduled* time, so a late send (the server pushed back, or we were descheduled) counts
 *       from the schedule (no coordinated omission);
 * matches each reply by ClOrdID (tag 11: the echo of a reflector, the ack ExecutionReport of an intake),
 * answers TestRequests, gap-fills ResendRequests, logs out, and prints one line of JSON on stdout.
 * Exit status: 0 every reply received, 1 replies missing (including a session the peer ended early),
 * 2 no session (connect or logon failed, or a bad command line).
 * Without --reset-seq it starts at MsgSeqNum 1 (or --seq-start); a Logout saying "expecting N" makes it
 * log on once more from N.
 *
 * Pacing (rate mode): ppoll with a 1 ns timer slack until shortly before the next send, then polling
 * without sleeping (see pace()); --busy-poll never sleeps.  --realtime asks for SCHED_FIFO (root or
 * CAP_SYS_NICE; refused with a message otherwise, "realtime": false in the JSON): other processes then
 * cannot make the load generator late, but it also runs before the server under test whenever it wants a
 * CPU, which on a 2-core machine slows that server: an option, not the default of bench/run.py.
 *
 * Build: cc -O2 -o build/bench/loadgen bench/loadgen.c -lm (bench/native_tools.py does it for make bench).
 */
#define FW_TOOL "loadgen"
#define FW_USAGE \
    "usage: loadgen --port PORT --mode {saturate,rate} [--host H] [--sender-comp-id ID]\n" \
    "               [--target-comp-id ID] [--reset-seq] [--seq-start N] [--heartbeat S]\n" \
    "               [--count N] [--window W] [--rate R] [--duration S] [--warmup S] [--timeout S]\n" \
    "               [--symbol SYM] [--price PX] [--reply-type {D,8}] [--clordid-prefix P]\n" \
    "               [--no-verify-checksum] [--spin-us US] [--busy-poll]\n" \
    "               [--realtime]\n"
#include "fixwire.h"

#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NS FW_NS

/* Decimal digits of v into out (no terminator); returns the count. */
static int fmt_u64(char *out, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* ---------------------------------------------------------------------------------------------------- */
/* command line                                                                                           */

typedef struct {
    const char *host;
    int port;
    const char *sender, *target;
    int reset_seq;
    long long seq_start;
    int heartbeat;
    int saturate;
    long long count, window;
    double rate, duration, warmup, timeout;
    const char *symbol, *price;
    char reply_type;
    const char *prefix;
    int verify_checksum;
    double spin_us; /* < 0: adaptive */
    int busy_poll;
    int realtime;
} Args;

enum {
    OPT_HOST = 1000, OPT_PORT, OPT_SENDER, OPT_TARGET, OPT_RESET, OPT_SEQ, OPT_HB, OPT_MODE, OPT_COUNT,
    OPT_WINDOW, OPT_RATE, OPT_DURATION, OPT_WARMUP, OPT_TIMEOUT, OPT_SYMBOL, OPT_PRICE, OPT_REPLY, OPT_PREFIX,
    OPT_NOVERIFY, OPT_NOUVLOOP, OPT_SPIN, OPT_BUSY, OPT_RT, OPT_HELP
};

static void parse_args(int argc, char **argv, Args *a) {
    static const struct option opts[] = {
        {"host", required_argument, 0, OPT_HOST},
        {"port", required_argument, 0, OPT_PORT},
        {"sender-comp-id", required_argument, 0, OPT_SENDER},
        {"target-comp-id", required_argument, 0, OPT_TARGET},
        {"reset-seq", no_argument, 0, OPT_RESET},
        {"seq-start", required_argument, 0, OPT_SEQ},
        {"heartbeat", required_argument, 0, OPT_HB},
        {"mode", required_argument, 0, OPT_MODE},
        {"count", required_argument, 0, OPT_COUNT},
        {"window", required_argument, 0, OPT_WINDOW},
        {"rate", required_argument, 0, OPT_RATE},
        {"duration", required_argument, 0, OPT_DURATION},
        {"warmup", required_argument, 0, OPT_WARMUP},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"symbol", required_argument, 0, OPT_SYMBOL},
        {"price", required_argument, 0, OPT_PRICE},
        {"reply-type", required_argument, 0, OPT_REPLY},
        {"clordid-prefix", required_argument, 0, OPT_PREFIX},
        {"no-verify-checksum", no_argument, 0, OPT_NOVERIFY},
        {"no-uvloop", no_argument, 0, OPT_NOUVLOOP},
        {"spin-us", required_argument, 0, OPT_SPIN},
        {"busy-poll", no_argument, 0, OPT_BUSY},
        {"realtime", no_argument, 0, OPT_RT},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    *a = (Args){.host = "127.0.0.1", .port = -1, .sender = "LOADGEN", .target = "ISLD", .seq_start = 1,
                .heartbeat = 30, .saturate = -1, .count = 100000, .window = 100, .rate = 2000.0,
                .duration = 10.0, .warmup = 0.0, .timeout = 10.0, .symbol = "MSFT", .price = "10.25",
                .reply_type = 'D', .verify_checksum = 1, .spin_us = -1.0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HOST: a->host = optarg; break;
        case OPT_PORT: a->port = (int)fw_parse_int("--port", optarg); break;
        case OPT_SENDER: a->sender = optarg; break;
        case OPT_TARGET: a->target = optarg; break;
        case OPT_RESET: a->reset_seq = 1; break;
        case OPT_SEQ: a->seq_start = fw_parse_int("--seq-start", optarg); break;
        case OPT_HB: a->heartbeat = (int)fw_parse_int("--heartbeat", optarg); break;
        case OPT_MODE:
            if (!strcmp(optarg, "saturate")) a->saturate = 1;
            else if (!strcmp(optarg, "rate")) a->saturate = 0;
            else fw_bad_args("argument --mode: invalid choice: '%s' (choose from 'saturate', 'rate')", optarg);
            break;
        case OPT_COUNT: a->count = fw_parse_int("--count", optarg); break;
        case OPT_WINDOW: a->window = fw_parse_int("--window", optarg); break;
        case OPT_RATE: a->rate = fw_parse_double("--rate", optarg); break;
        case OPT_DURATION: a->duration = fw_parse_double("--duration", optarg); break;
        case OPT_WARMUP: a->warmup = fw_parse_double("--warmup", optarg); break;
        case OPT_TIMEOUT: a->timeout = fw_parse_double("--timeout", optarg); break;
        case OPT_SYMBOL: a->symbol = optarg; break;
        case OPT_PRICE: a->price = optarg; break;
        case OPT_REPLY:
            if (strcmp(optarg, "D") && strcmp(optarg, "8"))
                fw_bad_args("argument --reply-type: invalid choice: '%s' (choose from 'D', '8')", optarg);
            a->reply_type = optarg[0];
            break;
        case OPT_PREFIX: a->prefix = optarg; break;
        case OPT_NOVERIFY: a->verify_checksum = 0; break;
        case OPT_NOUVLOOP: break; /* accepted for bench/loadgen.py's command line; nothing to choose here */
        case OPT_SPIN: a->spin_us = fw_parse_double("--spin-us", optarg); break;
        case OPT_BUSY: a->busy_poll = 1; break;
        case OPT_RT: a->realtime = 1; break;
        case OPT_HELP: case 'h': fputs(FW_USAGE, stdout); exit(0);
        default: fw_bad_args("unrecognized argument: %s", argv[optind - 1]);
        }
    }
    if (optind < argc) fw_bad_args("unrecognized argument: %s", argv[optind]);
    if (a->port < 0) fw_bad_args("the following arguments are required: --port%s", "");
    if (a->saturate < 0) fw_bad_args("the following arguments are required: --mode%s", "");
    if (a->saturate && (a->count <= 0 || a->window <= 0)) fw_bad_args("--count and --window must be positive%s", "");
    if (!a->saturate && (a->rate <= 0 || a->duration <= 0)) fw_bad_args("--rate and --duration must be positive%s", "");
    if (a->heartbeat <= 0 || a->timeout <= 0) fw_bad_args("--heartbeat and --timeout must be positive%s", "");
}

/* ---------------------------------------------------------------------------------------------------- */
/* the NewOrderSingle template: constant parts summed once; an order only adds its few variable bytes     */

static const char HEAD_PREFIX[] = "8=FIX.4.4\x01" "9=";

typedef struct {
    char *parts[5];
    size_t plen[5];
    size_t fixed_len; /* body bytes that never change */
    unsigned fixed_sum; /* checksum of every constant byte, including the head's */
} Template;

static char *cat(const char *a, const char *b, const char *c, const char *d, const char *e) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + strlen(e);
    char *s = malloc(n + 1);
    if (!s) exit(2);
    snprintf(s, n + 1, "%s%s%s%s%s", a, b, c, d, e);
    return s;
}

static void template_init(Template *t, const Args *a, const char *prefix) {
    t->parts[0] = cat("35=D\x01" "34=", "", "", "", "");                               /* seq */
    t->parts[1] = cat("\x01" "49=", a->sender, "\x01" "52=", "", "");                  /* sending time */
    t->parts[2] = cat("\x01" "56=", a->target, "\x01" "11=", prefix, "");              /* counter */
    t->parts[3] = cat("\x01" "21=1\x01" "55=", a->symbol, "\x01" "54=1\x01" "60=", "", ""); /* transact time */
    t->parts[4] = cat("\x01" "38=100\x01" "40=2\x01" "44=", a->price, "\x01" "59=0\x01", "", "");
    t->fixed_len = 0;
    t->fixed_sum = fw_sum(HEAD_PREFIX, strlen(HEAD_PREFIX)) + FW_SOH;
    for (int i = 0; i < 5; i++) {
        t->plen[i] = strlen(t->parts[i]);
        t->fixed_len += t->plen[i];
        t->fixed_sum += fw_sum(t->parts[i], t->plen[i]);
    }
}

/* Appends one NewOrderSingle (MsgSeqNum seq, ClOrdID prefix+num) to out. */
static void template_put(const Template *t, FwBuf *out, uint64_t seq, uint64_t num, const FwStamp *ts) {
    char sq[24], nm[24], bl[24], tail[8];
    int sql = fmt_u64(sq, seq), nml = fmt_u64(nm, num);
    int bll = fmt_u64(bl, t->fixed_len + 2 * (size_t)ts->len + (size_t)sql + (size_t)nml);
    unsigned cs = (t->fixed_sum + 2 * ts->sum + fw_sum(sq, (size_t)sql) + fw_sum(nm, (size_t)nml) +
                   fw_sum(bl, (size_t)bll)) & 0xFF;
    fw_reserve(out, 256 + t->fixed_len);
    char *p = out->data + out->len;
#define PUT(src, n) do { memcpy(p, (src), (n)); p += (n); } while (0)
    PUT(HEAD_PREFIX, sizeof HEAD_PREFIX - 1);
    PUT(bl, (size_t)bll);
    *p++ = FW_SOH;
    PUT(t->parts[0], t->plen[0]);
    PUT(sq, (size_t)sql);
    PUT(t->parts[1], t->plen[1]);
    PUT(ts->text, (size_t)ts->len);
    PUT(t->parts[2], t->plen[2]);
    PUT(nm, (size_t)nml);
    PUT(t->parts[3], t->plen[3]);
    PUT(ts->text, (size_t)ts->len);
    PUT(t->parts[4], t->plen[4]);
    snprintf(tail, sizeof tail, "10=%03u", cs);
    PUT(tail, 6);
    *p++ = FW_SOH;
#undef PUT
    out->len = (size_t)(p - out->data);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the session                                                                                            */

typedef struct {
    const Args *a;
    int fd;
    FwBuf in, out;
    Template tpl;
    FwStamp ts;
    const char *prefix;
    size_t prefix_len;
    uint64_t seq; /* next outgoing MsgSeqNum */
    int64_t total, sent, received;
    int64_t *sent_ns, *recv_ns, *lag_ns; /* lag: rate mode, actual write - schedule */
    int64_t duplicates, unmatched, rejects, other_app, bad_checksum, garbage_bytes;
    int logon, logout, closed, we_logged_out, peer_logout, running;
    char logout_text[512];
    int64_t last_send_ns, first_send_ns, last_recv_ns;
} Client;

static void flush(Client *c) {
    if (!c->closed && fw_flush(c->fd, &c->out) < 0) c->closed = 1;
}

static void send_admin(Client *c, const char *type, const char *fields) {
    fw_stamp(&c->ts);
    fw_encode(&c->out, type, c->seq++, c->a->sender, c->a->target, &c->ts, fields, strlen(fields));
    flush(c);
    c->last_send_ns = fw_now_ns();
}

/* Sends orders [sent, upto) in one write.  sched_t0 >= 0: rate mode, order i is stamped with its scheduled
 * time sched_t0 + i/rate; otherwise with the time of the write. */
static void send_orders(Client *c, int64_t upto, int64_t sched_t0) {
    if (upto > c->total) upto = c->total;
    if (upto <= c->sent) return;
    fw_stamp(&c->ts);
    for (int64_t i = c->sent; i < upto; i++) template_put(&c->tpl, &c->out, c->seq++, (uint64_t)i, &c->ts);
    int64_t stamp = fw_now_ns();
    if (!c->first_send_ns) c->first_send_ns = sched_t0 >= 0 ? sched_t0 : stamp;
    for (int64_t i = c->sent; i < upto; i++) {
        if (sched_t0 >= 0) {
            int64_t due = sched_t0 + (int64_t)((double)i * 1e9 / c->a->rate);
            c->sent_ns[i] = due;
            c->lag_ns[i] = stamp - due;
        } else {
            c->sent_ns[i] = stamp;
        }
    }
    c->sent = upto;
    flush(c);
    c->last_send_ns = stamp;
}

static void fill_window(Client *c) {
    int64_t outstanding = c->sent - c->received;
    if (outstanding < c->a->window) send_orders(c, c->sent + (c->a->window - outstanding), -1);
}

static void on_echo(Client *c, const char *msg, size_t n, int64_t now) {
    size_t vl;
    const char *v = fw_field(msg, n, "\x01" "11=", &vl);
    if (!v || vl <= c->prefix_len || memcmp(v, c->prefix, c->prefix_len)) {
        c->unmatched++;
        return;
    }
    int64_t index = 0;
    for (size_t i = c->prefix_len; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9' || index > (INT64_MAX - 9) / 10) {
            c->unmatched++;
            return;
        }
        index = index * 10 + (v[i] - '0');
    }
    if (index >= c->sent) {
        c->unmatched++;
        return;
    }
    if (c->recv_ns[index]) {
        c->duplicates++;
        return;
    }
    c->recv_ns[index] = now;
    c->received++;
    c->last_recv_ns = now;
}

static void on_other(Client *c, const char *msg, size_t n, size_t body) {
    const char *type = msg + body + 3;
    const char *type_end = memchr(type, FW_SOH, n - body - 3);
    if (!type_end) return;
    size_t tl = (size_t)(type_end - type);
    size_t vl;
    const char *v;
    if (tl != 1) {
        c->other_app++;
        return;
    }
    char fields[256];
    switch (*type) {
    case '0': break;
    case '1': /* TestRequest -> Heartbeat carrying its TestReqID */
        v = fw_field(msg, n, "\x01" "112=", &vl);
        snprintf(fields, sizeof fields, "112=%.*s\x01", v ? (int)(vl > 200 ? 200 : vl) : 0, v ? v : "");
        send_admin(c, "0", fields);
        break;
    case 'A': c->logon = 1; break;
    case '5':
        v = fw_field(msg, n, "\x01" "58=", &vl);
        if (v) snprintf(c->logout_text, sizeof c->logout_text, "%.*s", (int)vl, v);
        if (!c->we_logged_out) {
            c->peer_logout = 1;
            fw_log("peer logged us out: '%s'", c->logout_text);
            send_admin(c, "5", ""); /* complete the handshake */
        }
        c->logout = 1;
        break;
    case '2': { /* ResendRequest: no store here, so gap-fill everything up to now */
        v = fw_field(msg, n, "\x01" "7=", &vl);
        unsigned long long begin = 1;
        if (v) begin = strtoull(v, NULL, 10);
        fw_stamp(&c->ts);
        snprintf(fields, sizeof fields, "43=Y\x01" "122=%.*s\x01" "123=Y\x01" "36=%llu\x01", c->ts.len, c->ts.text,
                 (unsigned long long)c->seq);
        fw_encode(&c->out, "4", begin, c->a->sender, c->a->target, &c->ts, fields, strlen(fields));
        flush(c);
        break;
    }
    case '3': case 'j':
        if (++c->rejects <= 5) {
            char text[512];
            size_t m = n < sizeof text - 1 ? n : sizeof text - 1;
            for (size_t i = 0; i < m; i++) text[i] = msg[i] == FW_SOH ? '|' : msg[i];
            text[m] = 0;
            fw_log("reject: %s", text);
        }
        break;
    case '4': break;
    default: c->other_app++;
    }
}

/* Frames and dispatches every complete message in the input buffer; `now` is the time of the read. */
static void on_data(Client *c, int64_t now) {
    size_t pos = 0, start, len;
    const char reply_head[5] = {'3', '5', '=', c->a->reply_type, FW_SOH};
    while (fw_next(c->in.data, c->in.len, &pos, &start, &len, &c->garbage_bytes)) {
        const char *msg = c->in.data + start;
        size_t body = fw_body(msg, len);
        if (c->a->verify_checksum && (fw_sum(msg, len - 7) & 0xFF) != fw_stated_sum(msg, len)) {
            c->bad_checksum++;
        } else if (!memcmp(msg + body, reply_head, 5)) {
            on_echo(c, msg, len, now);
        } else if (!memcmp(msg + body, "35=", 3)) {
            on_other(c, msg, len, body);
        } else {
            c->garbage_bytes += (int64_t)len;
        }
    }
    fw_consume(&c->in, pos);
}

/* One turn of the loop: wait up to wait_ns for input (or for room to write), read what there is, answer. */
static void pump(Client *c, int64_t wait_ns) {
    if (c->closed) return;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (c->out.len ? POLLOUT : 0)};
    if (wait_ns < 0) wait_ns = 0;
    struct timespec tmo = {.tv_sec = wait_ns / NS, .tv_nsec = wait_ns % NS};
    int r = ppoll(&pfd, 1, &tmo, NULL);
    if (r < 0 && errno != EINTR) {
        c->closed = 1;
        return;
    }
    if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
        for (;;) { /* while a read fills the buffer's room: most likely drained otherwise, no extra syscall */
            int full;
            ssize_t got = fw_recv(c->fd, &c->in, &full);
            if (got < 0) c->closed = 1;
            if (got <= 0) break;
            on_data(c, fw_now_ns());
            if (!full) break;
        }
        if (c->running && !c->closed) fill_window(c);
    }
    if (c->out.len) flush(c);
    int64_t t = fw_now_ns();
    if (!c->closed && t - c->last_send_ns >= (int64_t)c->a->heartbeat * NS) send_admin(c, "0", "");
}

static int done(const Client *c) { return c->closed || c->logout; }

/* Until every order has its reply, the session ends, or nothing arrives for --timeout seconds. */
static void wait_for_replies(Client *c) {
    int64_t last = c->received, idle_since = fw_now_ns(), idle = (int64_t)(c->a->timeout * 1e9);
    while (c->received < c->total && !done(c)) {
        pump(c, 250000000);
        int64_t t = fw_now_ns();
        if (c->received != last) {
            last = c->received;
            idle_since = t;
        } else if (t - idle_since >= idle) {
            return;
        }
    }
}

/* Rate mode: order i is due at t0 + i/rate.  Between sends it sleeps in ppoll (reading replies meanwhile)
 * until shortly before the next order is due, then polls without sleeping until it is.  "Shortly": by
 * default the typical lateness of a timed wake-up on this machine, learnt as it goes (a running average of
 * the overshoot of sleeps that ended on their timeout; overshoots over 200 µs are preemptions, not wake-up
 * latency, and are left out), at most 30 µs: sends leave within a few µs of their schedule for a few µs of
 * spinning each, and the spinning never grows into a busy loop (which, under --realtime, the kernel would
 * throttle for tens of ms).  --spin-us fixes it (0: never spin); --busy-poll never sleeps (a whole core). */
static void pace(Client *c, int64_t t0) {
    const double per_ns = c->a->rate / 1e9;
    const int adaptive = c->a->spin_us < 0;
    const int64_t cap = 30000;
    int64_t early = adaptive ? 10000 : (int64_t)(c->a->spin_us * 1e3);
    while (c->sent < c->total && !done(c)) {
        int64_t t = fw_now_ns();
        int64_t due = (int64_t)((double)(t - t0) * per_ns) + 1;
        if (due > c->sent) send_orders(c, due, t0);
        if (c->sent >= c->total) break;
        int64_t next = t0 + (int64_t)((double)c->sent * 1e9 / c->a->rate);
        t = fw_now_ns();
        if (c->a->busy_poll || next - t <= early) {
            pump(c, 0);
            continue;
        }
        int64_t until = next - early;
        int64_t before = c->received;
        pump(c, until - t);
        int64_t over = fw_now_ns() - until;
        if (adaptive && c->received == before && over >= 0 && over < 200000) { /* woke on the timeout */
            early += (over + 2000 - early) / 16;
            if (early > cap) early = cap;
            if (early < 1000) early = 1000;
        }
    }
}

static int expecting(const char *text, unsigned long long *wanted) {
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, "expect", 6)) continue;
        const char *q = p + 6;
        while (isalpha((unsigned char)*q) || *q == '_') q++;
        for (int k = 0; k < 21 && *q; k++, q++) {
            if (isdigit((unsigned char)*q)) {
                *wanted = strtoull(q, NULL, 10);
                return 1;
            }
        }
    }
    return 0;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static int realtime_on; /* SCHED_FIFO granted (--realtime) */

static void summarise(Client *c, int64_t t0, int64_t send_end, int64_t end, FILE *f) {
    const Args *a = c->a;
    int64_t skip = t0 + (int64_t)(a->warmup * 1e9);
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)(c->sent + 1));
    int64_t *lag = malloc(sizeof(int64_t) * (size_t)(c->sent + 1));
    if (!lat || !lag) exit(2);
    int64_t nl = 0, ng = 0;
    for (int64_t i = 0; i < c->sent; i++) {
        if (c->sent_ns[i] < skip) continue;
        if (c->recv_ns[i]) lat[nl++] = c->recv_ns[i] - c->sent_ns[i];
        if (!a->saturate) lag[ng++] = c->lag_ns[i];
    }
    qsort(lat, (size_t)nl, sizeof *lat, fw_cmp_i64);
    qsort(lag, (size_t)ng, sizeof *lag, fw_cmp_i64);
    int64_t first = c->first_send_ns ? c->first_send_ns : t0;
    double elapsed = (double)((c->last_recv_ns ? c->last_recv_ns : end) - first) / 1e9;
    double send_elapsed = (double)(send_end - first) / 1e9;
    fprintf(f, "{\"mode\": \"%s\", \"sent\": %lld, \"received\": %lld, \"missing\": %lld",
            a->saturate ? "saturate" : "rate", (long long)c->sent, (long long)c->received, (long long)(c->sent - c->received));
    if (elapsed > 0) fprintf(f, ", \"msgs_per_s\": %.1f", (double)c->received / elapsed);
    else fputs(", \"msgs_per_s\": null", f);
    if (!a->saturate) {
        fprintf(f, ", \"target_rate\": %.1f", a->rate);
        if (send_elapsed > 0) fprintf(f, ", \"send_rate\": %.1f", (double)c->sent / send_elapsed);
        else fputs(", \"send_rate\": null", f);
    } else {
        fprintf(f, ", \"window\": %lld", (long long)a->window);
    }
    fprintf(f, ", \"elapsed_s\": %.3f", elapsed);
    fw_print_pcts(f, "", lat, nl);
    fprintf(f, ", \"latency_samples\": %lld", (long long)nl);
    if (!a->saturate) { /* the load generator's own scheduling error: how late sends left */
        if (ng) {
            fprintf(f, ", \"send_lag_p50_us\": %.1f, \"send_lag_p99_us\": %.1f, \"send_lag_max_us\": %.1f",
                    fw_pct_us(lag, ng, 500), fw_pct_us(lag, ng, 990), (double)lag[ng - 1] / 1e3);
        }
    }
    if (c->peer_logout) {
        fputs(", \"peer_logout\": ", f);
        json_string(f, c->logout_text);
    }
    const struct { const char *k; int64_t v; } extra[] = {
        {"duplicates", c->duplicates}, {"unmatched", c->unmatched}, {"rejects", c->rejects},
        {"other_app", c->other_app}, {"bad_checksum", c->bad_checksum}, {"garbage_bytes", c->garbage_bytes}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i].v) fprintf(f, ", \"%s\": %lld", extra[i].k, (long long)extra[i].v);
    fprintf(f, ", \"loadgen\": \"c\", \"realtime\": %s}\n", realtime_on ? "true" : "false");
    fflush(f);
    free(lat);
    free(lag);
}

static int connect_to(const Args *a, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    char port[16];
    snprintf(port, sizeof port, "%d", a->port);
    int rc = getaddrinfo(a->host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "connect failed: %s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r = poll(&pfd, 1, (int)(a->timeout * 1000));
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
            errno = r == 0 ? ETIMEDOUT : (soerr ? soerr : errno);
        }
        snprintf(err, errlen, "connect failed: %s (%s:%d)", strerror(errno), a->host, a->port);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void client_free(Client *c) {
    free(c->sent_ns);
    free(c->recv_ns);
    free(c->lag_ns);
    free(c->in.data);
    free(c->out.data);
    for (int i = 0; i < 5; i++) free(c->tpl.parts[i]);
}

/* One connection. Returns the exit status; *wanted is the MsgSeqNum the peer asked for if it refused ours. */
static int session(const Args *a, const char *prefix, uint64_t seq_start, unsigned long long *wanted, FILE *out) {
    Client c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.prefix = prefix;
    c.prefix_len = strlen(prefix);
    c.seq = seq_start;
    c.ts.ms = -1;
    c.total = a->saturate ? a->count : llround(a->rate * a->duration);
    if (c.total <= 0) c.total = 1;
    c.sent_ns = calloc((size_t)c.total, sizeof(int64_t));
    c.recv_ns = calloc((size_t)c.total, sizeof(int64_t));
    c.lag_ns = calloc((size_t)c.total, sizeof(int64_t));
    if (!c.sent_ns || !c.recv_ns || !c.lag_ns) {
        fw_log("out of memory for %lld orders", (long long)c.total);
        exit(2);
    }
    template_init(&c.tpl, a, prefix);
    const char *mode = a->saturate ? "saturate" : "rate";
    char err[1024];
    c.fd = connect_to(a, err, sizeof err);
    if (c.fd < 0) {
        fprintf(out, "{\"mode\": \"%s\", \"error\": ", mode);
        json_string(out, err);
        fputs("}\n", out);
        client_free(&c);
        return 2;
    }
    char logon[64];
    snprintf(logon, sizeof logon, "98=0\x01" "108=%d\x01%s", a->heartbeat, a->reset_seq ? "141=Y\x01" : "");
    send_admin(&c, "A", logon);
    int64_t deadline = fw_now_ns() + (int64_t)(a->timeout * 1e9);
    while (!c.logon && !done(&c) && fw_now_ns() < deadline) pump(&c, deadline - fw_now_ns());
    if (!c.logon || done(&c)) {
        if (c.logout_text[0]) snprintf(err, sizeof err, "logon failed: peer sent Logout: '%s'", c.logout_text);
        else if (c.closed) snprintf(err, sizeof err, "logon failed: peer closed the connection without a Logon reply");
        else snprintf(err, sizeof err, "logon failed: no Logon reply within %g s", a->timeout);
        fprintf(out, "{\"mode\": \"%s\", \"error\": ", mode);
        json_string(out, err);
        fputs("}\n", out);
        if (!expecting(c.logout_text, wanted)) *wanted = 0;
        close(c.fd);
        client_free(&c);
        return 2;
    }

    int64_t t0 = fw_now_ns();
    if (a->saturate) {
        c.running = 1;
        fill_window(&c);
    } else {
        pace(&c, t0);
    }
    int64_t send_end = fw_now_ns();
    wait_for_replies(&c);
    int64_t end = fw_now_ns();

    c.running = 0;
    c.we_logged_out = 1;
    if (!done(&c)) {
        send_admin(&c, "5", "");
        deadline = fw_now_ns() + (int64_t)(a->timeout * 1e9);
        while (!done(&c) && fw_now_ns() < deadline) pump(&c, deadline - fw_now_ns());
        if (!done(&c)) fw_log("no Logout reply");
    }
    close(c.fd);
    summarise(&c, t0, send_end, end, out);
    int64_t missing = c.sent - c.received;
    int status = missing == 0 && c.sent == c.total ? 0 : 1;
    if (status)
        fw_log("%lld replies missing (%lld of %lld sent)", (long long)missing, (long long)c.sent, (long long)c.total);
    client_free(&c);
    return status;
}

int main(int argc, char **argv) {
    Args a;
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake from ppoll on time, not up to 50 µs late */
    if (a.realtime) { /* other processes on the machine then cannot delay our sends or reads */
        struct sched_param sp = {.sched_priority = 1};
        realtime_on = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
        if (!realtime_on) fw_log("--realtime: SCHED_FIFO refused (%s); running as a normal process", strerror(errno));
    }
    char prefix[64];
    if (a.prefix) {
        snprintf(prefix, sizeof prefix, "%s", a.prefix);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(prefix, sizeof prefix, "C%05d%05d-", (int)(getpid() % 100000), (int)(ts.tv_sec % 100000));
    }
    /* The JSON line of a first attempt refused with "expecting N" is not the result: it is kept aside. */
    unsigned long long wanted = 0;
    char *first = NULL;
    size_t first_len = 0;
    FILE *aside = open_memstream(&first, &first_len);
    if (!aside) return 2;
    int status = session(&a, prefix, (uint64_t)a.seq_start, &wanted, aside);
    fclose(aside);
    if (!a.reset_seq && status == 2 && wanted > (unsigned long long)a.seq_start) {
        fw_log("peer expects MsgSeqNum %llu; logging on again from there", wanted);
        status = session(&a, prefix, wanted, &wanted, stdout);
    } else {
        fwrite(first, 1, first_len, stdout);
    }
    fflush(stdout);
    free(first);
    return status;
}
