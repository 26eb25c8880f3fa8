/*
 * bench/fillpath.c: the fill path measured from outside: venue fill -> client ExecutionReports.
 *
 * Issue 17's target: "Venue fill -> client ExecutionReport (allocation to 100 orders of a parent, journal,
 * reports): p99 <= 1 ms at 1,000 fills/s".  This one process plays both ends of `metaorder run`, so that
 * one CLOCK_MONOTONIC stamps both the venue fill it writes and the client reports it reads:
 *
 *   the venue    it listens (--venue-port) as the engine's only venue (an [[execution.venue]], lit),
 *                answers the engine's Logon, answers every MarketDataRequest with a two-sided snapshot
 *                (bid --limit - 0.01, offer --limit + 0.01), acks every child NewOrderSingle (150=0) and
 *                leaves it resting; a cancel is answered 150=4, a status request 150=I;
 *   the client   it logs on to the engine's OMS port (--engine-port) as --sender-comp-id (FILLBENCH) and
 *                sends --orders limit buys (TWAP, one Account each so that the likely-duplicate check
 *                leaves them alone) that aggregate into one parent; the buys' limit is below the offer,
 *                so the engine's children rest at the limit;
 *   the fills    once children covering the whole parent rest at the venue, fill i is due at t0 + i/rate
 *                (--rate, --duration): a 150=F of --fill-qty shares against a resting child, at a LastPx
 *                unique among the fills in flight (slot i mod 1000 of 1,000 prices one cent apart, from
 *                --limit down); the engine allocates it pro-rata to the parent's orders, and each order's
 *                150=F carries that LastPx.  A fill is complete when the LastQty of the client reports at
 *                its price add up to its quantity; its latency runs from the write that carried it to the
 *                read that completed it.  A fill whose price slot is still in flight waits (its lateness
 *                shows as send lag, and in the latency counted from the schedule, "sched_*").
 *
 * One thread, poll(2); allocation-free while fills run but for the buffers' growth.  Prints one JSON line.
 * Exit status: 0 every fill's reports complete, 1 some never completed (within --timeout of the last
 * report), 2 no measurement (connect, logon, orders refused, children never covered the parent, bad usage).
 *
 * Build: cc -O2 -o build/bench/fillpath bench/fillpath.c (bench/native_tools.py does it for make bench).
 */
#define FW_TOOL "fillpath"
#define FW_USAGE \
    "usage: fillpath --engine-port PORT [--venue-port PORT] [--host H] [--venue-comp-id ATLX]\n" \
    "                [--engine-comp-id METAORDER] [--sender-comp-id FILLBENCH] [--symbol ACME]\n" \
    "                [--limit 100.00] [--orders 100] [--order-qty Q] [--fill-qty F] [--rate R]\n" \
    "                [--duration S] [--warmup S] [--timeout S] [--window-s S] [--params 848-TEXT]\n" \
    "                [--heartbeat S] [--verbose]\n"
#include "fixwire.h"

#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SLOTS 1000    /* distinct LastPx values: one cent apart */
#define NS FW_NS

/* ---- command line ----------------------------------------------------------------------------------- */

typedef struct {
    const char *host;
    int venue_port, engine_port;
    const char *venue_comp_id, *engine_comp_id, *sender;
    const char *symbol, *limit, *params;
    long long orders, order_qty, fill_qty;
    double rate, duration, warmup, timeout, window_s;
    int heartbeat, verbose;
} Args;

enum {
    O_HOST = 1000, O_VPORT, O_EPORT, O_VCOMP, O_ECOMP, O_SENDER, O_SYMBOL, O_LIMIT, O_PARAMS, O_ORDERS, O_QTY,
    O_FQTY, O_RATE, O_DURATION, O_WARMUP, O_TIMEOUT, O_WINDOW, O_HB, O_VERBOSE, O_HELP
};

static void parse_args(int argc, char **argv, Args *a) {
    static const struct option opts[] = {
        {"host", required_argument, 0, O_HOST}, {"venue-port", required_argument, 0, O_VPORT},
        {"engine-port", required_argument, 0, O_EPORT}, {"venue-comp-id", required_argument, 0, O_VCOMP},
        {"engine-comp-id", required_argument, 0, O_ECOMP}, {"sender-comp-id", required_argument, 0, O_SENDER},
        {"symbol", required_argument, 0, O_SYMBOL}, {"limit", required_argument, 0, O_LIMIT},
        {"params", required_argument, 0, O_PARAMS}, {"orders", required_argument, 0, O_ORDERS},
        {"order-qty", required_argument, 0, O_QTY}, {"fill-qty", required_argument, 0, O_FQTY},
        {"rate", required_argument, 0, O_RATE}, {"duration", required_argument, 0, O_DURATION},
        {"warmup", required_argument, 0, O_WARMUP}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"window-s", required_argument, 0, O_WINDOW}, {"heartbeat", required_argument, 0, O_HB},
        {"verbose", no_argument, 0, O_VERBOSE}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
    };
    *a = (Args){.host = "127.0.0.1", .venue_port = 0, .engine_port = -1, .venue_comp_id = "ATLX",
                .engine_comp_id = "METAORDER", .sender = "FILLBENCH", .symbol = "ACME", .limit = "100.00",
                .params = "Urgency=HIGH;Aggressiveness=AGGRESSIVE;Routing=BEST", .orders = 100, .order_qty = 0,
                .fill_qty = 0, .rate = 1000.0, .duration = 5.0, .warmup = 0.0, .timeout = 30.0, .window_s = 1.0,
                .heartbeat = 30};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_HOST: a->host = optarg; break;
        case O_VPORT: a->venue_port = (int)fw_parse_int("--venue-port", optarg); break;
        case O_EPORT: a->engine_port = (int)fw_parse_int("--engine-port", optarg); break;
        case O_VCOMP: a->venue_comp_id = optarg; break;
        case O_ECOMP: a->engine_comp_id = optarg; break;
        case O_SENDER: a->sender = optarg; break;
        case O_SYMBOL: a->symbol = optarg; break;
        case O_LIMIT: a->limit = optarg; break;
        case O_PARAMS: a->params = optarg; break;
        case O_ORDERS: a->orders = fw_parse_int("--orders", optarg); break;
        case O_QTY: a->order_qty = fw_parse_int("--order-qty", optarg); break;
        case O_FQTY: a->fill_qty = fw_parse_int("--fill-qty", optarg); break;
        case O_RATE: a->rate = fw_parse_double("--rate", optarg); break;
        case O_DURATION: a->duration = fw_parse_double("--duration", optarg); break;
        case O_WARMUP: a->warmup = fw_parse_double("--warmup", optarg); break;
        case O_TIMEOUT: a->timeout = fw_parse_double("--timeout", optarg); break;
        case O_WINDOW: a->window_s = fw_parse_double("--window-s", optarg); break;
        case O_HB: a->heartbeat = (int)fw_parse_int("--heartbeat", optarg); break;
        case O_VERBOSE: a->verbose = 1; break;
        case O_HELP: case 'h': fputs(FW_USAGE, stdout); exit(0);
        default: fw_bad_args("unrecognized argument: %s", argv[optind - 1]);
        }
    }
    if (optind < argc) fw_bad_args("unrecognized argument: %s", argv[optind]);
    if (a->engine_port <= 0 || a->engine_port > 65535) fw_bad_args("--engine-port is required (1-65535)%s", "");
    if (a->venue_port < 0 || a->venue_port > 65535) fw_bad_args("--venue-port must be 0-65535%s", "");
    if (a->orders <= 0 || a->orders > 100000) fw_bad_args("--orders must be 1-100000%s", "");
    if (a->rate <= 0 || a->duration <= 0 || a->timeout <= 0 || a->heartbeat <= 0 || a->warmup < 0)
        fw_bad_args("--rate, --duration, --timeout and --heartbeat must be positive%s", "");
    if (a->order_qty < 0 || a->fill_qty < 0) fw_bad_args("--order-qty and --fill-qty must be positive%s", "");
    char probe[64];
    snprintf(probe, sizeof probe, "8=FIX.4.4\x01" "44=%s\x01", a->limit);
    long long lim = fw_field_e4(probe, strlen(probe), "\x01" "44=");
    if (lim < SLOTS * 100 + 100 || lim % 100) fw_bad_args("--limit must be a price in cents above 10.00, not %s", a->limit);
}

/* ---- sessions --------------------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* for messages */
    int fd;
    FwBuf in, out;
    uint64_t seq;
    const char *sender, *target;
    FwStamp ts;
    int logged_on, closed, logout, bye; /* bye: we sent Logout first */
    int64_t last_send_ns;
    int64_t garbage;
} Sess;

static void sess_flush(Sess *s) {
    if (!s->closed && fw_flush(s->fd, &s->out) < 0) s->closed = 1;
}

/* Queues one message (fields already "tag=value\x01..."); the caller flushes. */
static void sess_queue(Sess *s, const char *type, const char *fields, size_t flen) {
    fw_stamp(&s->ts);
    fw_encode(&s->out, type, s->seq++, s->sender, s->target, &s->ts, fields, flen);
    s->last_send_ns = fw_now_ns();
}

static void sess_send(Sess *s, const char *type, const char *fields) {
    sess_queue(s, type, fields, strlen(fields));
    sess_flush(s);
}

/* Answers the session layer (Logon, TestRequest, Logout, ResendRequest); returns 1 when it was one. */
static int sess_admin(Sess *s, const char *type, const char *msg, size_t n, int heartbeat) {
    char fields[256], text[200];
    switch (type[1] ? 0 : type[0]) {
    case 'A':
        if (!s->logged_on && s->name[0] == 'v') { /* we are the venue: answer the engine's Logon */
            long long hb = fw_field_int(msg, n, "\x01" "108=");
            snprintf(fields, sizeof fields, "98=0\x01" "108=%lld\x01", hb > 0 ? hb : heartbeat);
            sess_send(s, "A", fields);
        }
        s->logged_on = 1;
        return 1;
    case '0': return 1;
    case '1':
        fw_field_str(msg, n, "\x01" "112=", text, sizeof text);
        snprintf(fields, sizeof fields, "112=%s\x01", text);
        sess_send(s, "0", fields);
        return 1;
    case '5':
        fw_field_str(msg, n, "\x01" "58=", text, sizeof text);
        if (!s->logout && !s->bye) {
            fw_log("%s session: peer sent Logout '%s'", s->name, text);
            sess_send(s, "5", "");
        }
        s->logout = 1;
        return 1;
    case '2': { /* no store: gap-fill everything to now */
        long long begin = fw_field_int(msg, n, "\x01" "7=");
        fw_stamp(&s->ts);
        snprintf(fields, sizeof fields, "43=Y\x01" "122=%.*s\x01" "123=Y\x01" "36=%llu\x01", s->ts.len, s->ts.text,
                 (unsigned long long)s->seq);
        fw_encode(&s->out, "4", begin > 0 ? (uint64_t)begin : 1, s->sender, s->target, &s->ts, fields,
                  strlen(fields));
        sess_flush(s);
        return 1;
    }
    case '3': case '4': case 'j':
        if (type[0] != '4') {
            char shown[400];
            size_t m = n < sizeof shown - 1 ? n : sizeof shown - 1;
            for (size_t i = 0; i < m; i++) shown[i] = msg[i] == FW_SOH ? '|' : msg[i];
            shown[m] = 0;
            fw_log("%s session: reject: %s", s->name, shown);
        }
        return 1;
    default: return 0;
    }
}

/* ---- the venue's book of child orders --------------------------------------------------------------- */

typedef struct {
    char id[48];
    long long qty, cum, notional_e4; /* notional in 10^-4 of a currency unit x shares */
    int open;
    char side;
} Child;

typedef struct {
    Child *v;
    size_t n, cap;
    long long resting; /* open quantity, all children */
    long long cancels, status_requests, md_requests, child_orders;
} Children;

static Child *child_add(Children *cs) {
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 256;
        cs->v = realloc(cs->v, cs->cap * sizeof *cs->v);
        if (!cs->v) exit(2);
    }
    Child *c = &cs->v[cs->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static Child *child_find(Children *cs, const char *id) {
    for (size_t i = cs->n; i-- > 0;)
        if (!strcmp(cs->v[i].id, id)) return &cs->v[i];
    return NULL;
}

/* ---- the run ---------------------------------------------------------------------------------------- */

typedef struct {
    const Args *a;
    Sess venue, client;
    int listen_fd;
    Children cs;
    long long limit_e4;
    long long order_qty, fill_qty;
    /* client orders */
    long long acks, order_rejects, client_fills_other, client_other, expired;
    /* fills */
    int64_t total, sent, completed, reports;
    int64_t *sched_ns, *write_ns, *done_ns;
    int32_t *got, *nreports;
    int64_t slot_owner[SLOTS];
    int64_t unmatched, overallocated, late_reports, exhausted;
    int64_t exec_seq;
    int64_t last_report_ns;
    size_t next_child; /* where the search for a child to fill starts */
} Run;

static const char *side_text(char side) { return side == '2' ? "2" : "1"; }

static void venue_exec(Run *r, Child *c, const char *exec_type, const char *status, long long last_qty,
                       long long last_px_e4, int flush) {
    char fields[512], avg[32], px[32];
    fw_stamp(&r->venue.ts);
    long long leaves = c->open ? c->qty - c->cum : 0;
    fw_fmt_e4(avg, sizeof avg, c->cum ? c->notional_e4 / c->cum : 0);
    int n = snprintf(fields, sizeof fields,
                     "37=V%s\x01" "11=%s\x01" "17=X%lld\x01" "150=%s\x01" "39=%s\x01" "55=%s\x01" "54=%s\x01"
                     "38=%lld\x01",
                     c->id, c->id, (long long)++r->exec_seq, exec_type, status, r->a->symbol, side_text(c->side),
                     c->qty);
    if (last_qty > 0) {
        fw_fmt_e4(px, sizeof px, last_px_e4);
        n += snprintf(fields + n, sizeof fields - (size_t)n, "32=%lld\x01" "31=%s\x01", last_qty, px);
    }
    n += snprintf(fields + n, sizeof fields - (size_t)n, "151=%lld\x01" "14=%lld\x01" "6=%s\x01%s" "60=%.*s\x01",
                  leaves, c->cum, avg, last_qty > 0 ? "851=1\x01" : "", r->venue.ts.len, r->venue.ts.text);
    sess_queue(&r->venue, "8", fields, (size_t)n);
    if (flush) sess_flush(&r->venue);
}

static void on_venue_app(Run *r, const char *type, const char *msg, size_t n) {
    char id[64], orig[64], req[128], fields[512];
    if (!strcmp(type, "D")) {
        Child *c = child_add(&r->cs);
        fw_field_str(msg, n, "\x01" "11=", c->id, sizeof c->id);
        c->qty = fw_field_int(msg, n, "\x01" "38=");
        size_t vl;
        const char *side = fw_field(msg, n, "\x01" "54=", &vl);
        c->side = side && vl ? side[0] : '1';
        c->open = c->qty > 0;
        r->cs.child_orders++;
        if (c->open) r->cs.resting += c->qty;
        if (r->a->verbose) {
            char px[32], tif[8];
            fw_field_str(msg, n, "\x01" "44=", px, sizeof px);
            fw_field_str(msg, n, "\x01" "59=", tif, sizeof tif);
            fw_log("venue: child %s %lld @ %s tif %s (resting %lld)", c->id, c->qty, px, tif, r->cs.resting);
        }
        venue_exec(r, c, c->open ? "0" : "8", c->open ? "0" : "8", 0, 0, 1);
    } else if (!strcmp(type, "F")) { /* cancel: done at once */
        fw_field_str(msg, n, "\x01" "11=", id, sizeof id);
        fw_field_str(msg, n, "\x01" "41=", orig, sizeof orig);
        Child *c = child_find(&r->cs, orig);
        r->cs.cancels++;
        if (r->a->verbose) fw_log("venue: cancel %s of %s", id, orig);
        if (!c || !c->open) {
            snprintf(fields, sizeof fields, "37=NONE\x01" "11=%s\x01" "41=%s\x01" "39=8\x01" "434=1\x01" "102=%d\x01",
                     id, orig, c ? 0 : 1);
            sess_send(&r->venue, "9", fields);
            return;
        }
        r->cs.resting -= c->qty - c->cum;
        c->open = 0;
        /* the cancel's report carries the cancel request's ClOrdID and the child's as OrigClOrdID */
        int m = snprintf(fields, sizeof fields,
                         "37=V%s\x01" "11=%s\x01" "41=%s\x01" "17=X%lld\x01" "150=4\x01" "39=4\x01" "55=%s\x01"
                         "54=%s\x01" "38=%lld\x01" "151=0\x01" "14=%lld\x01" "6=0\x01",
                         c->id, id, c->id, (long long)++r->exec_seq, r->a->symbol, side_text(c->side), c->qty, c->cum);
        sess_queue(&r->venue, "8", fields, (size_t)m);
        sess_flush(&r->venue);
    } else if (!strcmp(type, "H")) {
        fw_field_str(msg, n, "\x01" "11=", id, sizeof id);
        Child *c = child_find(&r->cs, id);
        r->cs.status_requests++;
        if (c) venue_exec(r, c, "I", c->open ? (c->cum ? "1" : "0") : (c->cum >= c->qty ? "2" : "4"), 0, 0, 1);
    } else if (!strcmp(type, "V")) {
        fw_field_str(msg, n, "\x01" "262=", req, sizeof req);
        long long kind = fw_field_int(msg, n, "\x01" "263=");
        r->cs.md_requests++;
        if (r->a->verbose) fw_log("venue: market data request %s (263=%lld)", req, kind);
        if (kind == 2) return; /* unsubscribe */
        char bid[32], offer[32];
        fw_fmt_e4(bid, sizeof bid, r->limit_e4 - 100);
        fw_fmt_e4(offer, sizeof offer, r->limit_e4 + 100);
        snprintf(fields, sizeof fields,
                 "262=%s\x01" "55=%s\x01" "268=2\x01" "269=0\x01" "270=%s\x01" "271=1000000\x01" "269=1\x01"
                 "270=%s\x01" "271=1000000\x01",
                 req, r->a->symbol, bid, offer);
        sess_send(&r->venue, "W", fields);
    } else if (r->a->verbose) {
        fw_log("venue: unexpected message type %s", type);
    }
}

static void on_client_app(Run *r, const char *type, const char *msg, size_t n, int64_t now) {
    if (strcmp(type, "8")) {
        r->client_other++;
        if (r->a->verbose) fw_log("client: message type %s", type);
        return;
    }
    size_t vl;
    const char *et = fw_field(msg, n, "\x01" "150=", &vl);
    char exec_type = et && vl == 1 ? et[0] : '?';
    if (exec_type == '0') {
        r->acks++;
        return;
    }
    if (exec_type == '8') {
        char text[200];
        fw_field_str(msg, n, "\x01" "58=", text, sizeof text);
        if (++r->order_rejects <= 3) fw_log("client: order rejected: %s", text);
        return;
    }
    if (exec_type == 'C' || exec_type == '4') {
        r->expired++;
        return;
    }
    if (exec_type != 'F') {
        r->client_other++;
        return;
    }
    r->reports++;
    long long px = fw_field_e4(msg, n, "\x01" "31=");
    long long qty = fw_field_int(msg, n, "\x01" "32=");
    long long off = r->limit_e4 - px;
    if (px < 0 || qty <= 0 || off < 0 || off % 100 || off / 100 >= SLOTS) {
        r->unmatched++;
        return;
    }
    int64_t f = r->slot_owner[off / 100];
    if (f < 0) {
        r->late_reports++;
        return;
    }
    r->got[f] += (int32_t)qty;
    r->nreports[f]++;
    r->last_report_ns = now;
    if (r->got[f] >= r->fill_qty) {
        if (r->got[f] > r->fill_qty) r->overallocated++;
        r->done_ns[f] = now;
        r->completed++;
        r->slot_owner[off / 100] = -1;
    }
}

static void dispatch(Run *r, Sess *s, int64_t now) {
    size_t pos = 0, start, len;
    while (fw_next(s->in.data, s->in.len, &pos, &start, &len, &s->garbage)) {
        const char *msg = s->in.data + start;
        char type[8];
        if (!fw_msg_type(msg, len, type)) continue;
        if (sess_admin(s, type, msg, len, r->a->heartbeat)) continue;
        if (s == &r->venue) on_venue_app(r, type, msg, len);
        else on_client_app(r, type, msg, len, now);
    }
    fw_consume(&s->in, pos);
}

static void read_sess(Run *r, Sess *s) {
    int full = 1;
    while (full) {
        ssize_t got = fw_recv(s->fd, &s->in, &full);
        if (got < 0) s->closed = 1;
        if (got <= 0) return;
        dispatch(r, s, fw_now_ns());
    }
}

static void set_fast(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* One turn: wait up to wait_ns for input on every socket, read and answer it, send heartbeats. */
static void pump(Run *r, int64_t wait_ns) {
    struct pollfd p[3];
    int np = 0, iv = -1, ic = -1, il = -1;
    if (r->venue.fd >= 0 && !r->venue.closed) {
        iv = np;
        p[np++] = (struct pollfd){.fd = r->venue.fd, .events = POLLIN | (r->venue.out.len ? POLLOUT : 0)};
    } else if (r->listen_fd >= 0) {
        il = np;
        p[np++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
    }
    if (r->client.fd >= 0 && !r->client.closed) {
        ic = np;
        p[np++] = (struct pollfd){.fd = r->client.fd, .events = POLLIN | (r->client.out.len ? POLLOUT : 0)};
    }
    if (wait_ns < 0) wait_ns = 0;
    struct timespec tmo = {.tv_sec = wait_ns / NS, .tv_nsec = wait_ns % NS};
    int got = ppoll(p, (nfds_t)np, &tmo, NULL);
    if (got > 0) {
        if (il >= 0 && (p[il].revents & POLLIN)) {
            int fd = accept(r->listen_fd, NULL, NULL);
            if (fd >= 0) {
                set_fast(fd);
                r->venue.fd = fd;
                r->venue.closed = 0;
                if (r->a->verbose) fw_log("venue: engine connected");
            }
        }
        if (iv >= 0 && (p[iv].revents & (POLLIN | POLLHUP | POLLERR))) read_sess(r, &r->venue);
        if (ic >= 0 && (p[ic].revents & (POLLIN | POLLHUP | POLLERR))) read_sess(r, &r->client);
    }
    int64_t t = fw_now_ns();
    Sess *ss[2] = {&r->venue, &r->client};
    for (int i = 0; i < 2; i++) {
        Sess *s = ss[i];
        if (s->fd < 0 || s->closed) continue;
        if (s->out.len) sess_flush(s);
        if (s->logged_on && t - s->last_send_ns >= (int64_t)r->a->heartbeat * NS) sess_send(s, "0", "");
    }
}

static int connect_client(Run *r) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->a->engine_port)};
    if (inet_pton(AF_INET, r->a->host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    set_fast(fd);
    return fd;
}

/* Sends the client orders: --orders limit buys of order_qty, one Account each. */
static void send_orders(Run *r) {
    char expire[32], fields[512];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t)(r->a->window_s * 1000);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int el = (int)strftime(expire, sizeof expire, "%Y%m%d-%H:%M:%S", &tm);
    snprintf(expire + el, sizeof expire - (size_t)el, ".%03d", (int)(ms % 1000));
    char run_id[32];
    snprintf(run_id, sizeof run_id, "%d-%lld", (int)getpid() % 100000, (long long)(ts.tv_sec % 100000));
    fw_stamp(&r->client.ts);
    for (long long i = 0; i < r->a->orders; i++) {
        int n = snprintf(fields, sizeof fields,
                         "11=FB%s-%lld\x01" "1=ACC%lld\x01" "55=%s\x01" "54=1\x01" "60=%.*s\x01" "38=%lld\x01"
                         "40=2\x01" "44=%s\x01" "59=0\x01" "847=1000\x01" "126=%s\x01" "%s%s%s",
                         run_id, i, i, r->a->symbol, r->client.ts.len, r->client.ts.text, r->order_qty, r->a->limit,
                         expire, *r->a->params ? "848=" : "", r->a->params, *r->a->params ? "\x01" : "");
        sess_queue(&r->client, "D", fields, (size_t)n);
    }
    sess_flush(&r->client);
}

/* A resting child with room for one more fill, searched round-robin; NULL when none has. */
static Child *child_for_fill(Run *r) {
    size_t n = r->cs.n;
    for (size_t k = 0; k < n; k++) {
        Child *c = &r->cs.v[(r->next_child + k) % n];
        if (c->open && c->qty - c->cum >= r->fill_qty) {
            r->next_child = (r->next_child + k) % n;
            return c;
        }
    }
    return NULL;
}

/* Sends every fill due by now (one write); a fill whose price slot is still in flight waits for it. */
static void send_fills(Run *r, int64_t t0) {
    int64_t t = fw_now_ns();
    int64_t due = (int64_t)((double)(t - t0) * r->a->rate / 1e9) + 1;
    if (due > r->total) due = r->total;
    int64_t first = r->sent;
    while (r->sent < due) {
        int slot = (int)(r->sent % SLOTS);
        if (r->slot_owner[slot] >= 0) break; /* its price is still in flight: wait */
        Child *c = child_for_fill(r);
        if (!c) {
            r->exhausted = 1;
            break;
        }
        long long px = r->limit_e4 - (long long)slot * 100;
        c->cum += r->fill_qty;
        c->notional_e4 += r->fill_qty * px;
        r->cs.resting -= r->fill_qty;
        if (c->cum >= c->qty) c->open = 0;
        r->slot_owner[slot] = r->sent;
        r->sched_ns[r->sent] = t0 + (int64_t)((double)r->sent * 1e9 / r->a->rate);
        venue_exec(r, c, "F", c->cum >= c->qty ? "2" : "1", r->fill_qty, px, 0);
        if (c->cum >= c->qty) r->next_child++;
        r->sent++;
    }
    if (r->sent == first) return;
    int64_t w = fw_now_ns();
    for (int64_t i = first; i < r->sent; i++) r->write_ns[i] = w;
    sess_flush(&r->venue);
}

static void json_error(const char *phase, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("{\"error\": \"%s: ", phase);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') putchar('\\');
        if ((unsigned char)*p >= 0x20) putchar(*p);
    }
    puts("\"}");
    fflush(stdout);
    fw_log("%s: %s", phase, text);
}

static void summarise(Run *r, int64_t t0, int64_t send_end, double setup_s) {
    const Args *a = r->a;
    int64_t skip = t0 + (int64_t)(a->warmup * 1e9);
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)(r->sent + 1));
    int64_t *sched = malloc(sizeof(int64_t) * (size_t)(r->sent + 1));
    int64_t *lag = malloc(sizeof(int64_t) * (size_t)(r->sent + 1));
    if (!lat || !sched || !lag) exit(2);
    int64_t nl = 0, ng = 0, last_done = 0, nrep = 0, complete_all = 0;
    for (int64_t i = 0; i < r->sent; i++) {
        if (r->done_ns[i]) {
            complete_all++;
            nrep += r->nreports[i];
            if (r->done_ns[i] > last_done) last_done = r->done_ns[i];
        }
        if (r->sched_ns[i] < skip) continue;
        lag[ng++] = r->write_ns[i] - r->sched_ns[i];
        if (r->done_ns[i]) {
            lat[nl] = r->done_ns[i] - r->write_ns[i];
            sched[nl++] = r->done_ns[i] - r->sched_ns[i];
        }
    }
    qsort(lat, (size_t)nl, sizeof *lat, fw_cmp_i64);
    qsort(sched, (size_t)nl, sizeof *sched, fw_cmp_i64);
    qsort(lag, (size_t)ng, sizeof *lag, fw_cmp_i64);
    double send_s = (double)(send_end - t0) / 1e9;
    double done_s = last_done ? (double)(last_done - t0) / 1e9 : 0;
    printf("{\"fills_sent\": %lld, \"fills_completed\": %lld, \"fills_incomplete\": %lld, \"client_reports\": %lld",
           (long long)r->sent, (long long)r->completed, (long long)(r->sent - r->completed), (long long)r->reports);
    printf(", \"reports_per_fill\": %.2f", complete_all ? (double)nrep / (double)complete_all : 0.0);
    printf(", \"target_rate\": %.1f, \"send_rate\": %.1f, \"completion_rate\": %.1f", a->rate,
           send_s > 0 ? (double)r->sent / send_s : 0.0, done_s > 0 ? (double)complete_all / done_s : 0.0);
    fw_print_pcts(stdout, "", lat, nl);
    fw_print_pcts(stdout, "sched_", sched, nl);
    printf(", \"latency_samples\": %lld", (long long)nl);
    if (ng) printf(", \"send_lag_p50_us\": %.1f, \"send_lag_p99_us\": %.1f, \"send_lag_max_us\": %.1f",
                   fw_pct_us(lag, ng, 500), fw_pct_us(lag, ng, 990), (double)lag[ng - 1] / 1e3);
    printf(", \"orders\": %lld, \"order_qty\": %lld, \"fill_qty\": %lld, \"child_orders\": %lld, \"setup_s\": %.3f",
           a->orders, r->order_qty, r->fill_qty, r->cs.child_orders, setup_s);
    const struct { const char *k; int64_t v; } extra[] = {
        {"unmatched_reports", r->unmatched}, {"late_reports", r->late_reports}, {"overallocated", r->overallocated},
        {"children_exhausted", r->exhausted}, {"venue_cancels", r->cs.cancels}, {"client_expired", r->expired},
        {"client_other", r->client_other}, {"order_rejects", r->order_rejects},
        {"garbage_bytes", r->venue.garbage + r->client.garbage}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i].v) printf(", \"%s\": %lld", extra[i].k, (long long)extra[i].v);
    puts(", \"driver\": \"c\"}");
    fflush(stdout);
    free(lat);
    free(sched);
    free(lag);
}

static int listen_on(Run *r) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->a->venue_port)};
    inet_pton(AF_INET, r->a->host, &sa.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 4)) return -1;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    fprintf(stderr, "fillpath: venue %s listening on port %d\n", r->a->venue_comp_id, ntohs(sa.sin_port));
    fflush(stderr);
    return fd;
}

/* Pumps until cond(r) holds, a session closes, or timeout_s passes; returns cond(r). */
static int pump_until(Run *r, int (*cond)(Run *), double timeout_s) {
    int64_t deadline = fw_now_ns() + (int64_t)(timeout_s * 1e9);
    while (!cond(r)) {
        int64_t t = fw_now_ns();
        if (t >= deadline || (r->venue.fd >= 0 && (r->venue.closed || r->venue.logout)) || r->client.closed)
            return cond(r);
        pump(r, deadline - t < 50000000 ? deadline - t : 50000000);
    }
    return 1;
}

static int venue_ready(Run *r) { return r->venue.logged_on && r->cs.md_requests > 0; }
static int client_ready(Run *r) { return r->client.logged_on; }
static int orders_acked(Run *r) { return r->acks + r->order_rejects >= r->a->orders; }
static int parent_out(Run *r) { return r->cs.resting >= r->order_qty * r->a->orders; }

int main(int argc, char **argv) {
    Args a;
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    Run r;
    memset(&r, 0, sizeof r);
    r.a = &a;
    char probe[64];
    snprintf(probe, sizeof probe, "8=FIX.4.4\x01" "44=%s\x01", a.limit);
    r.limit_e4 = fw_field_e4(probe, strlen(probe), "\x01" "44=");
    r.fill_qty = a.fill_qty ? a.fill_qty : a.orders; /* one share per order: every order gets a report */
    r.total = llround(a.rate * a.duration);
    if (r.total < 1) r.total = 1;
    /* enough shares that the parent outlives the run (a fifth to spare), at least 1,000 per order */
    long long need = (r.total * r.fill_qty * 6 / 5 + a.orders - 1) / a.orders;
    r.order_qty = a.order_qty ? a.order_qty : (need > 1000 ? need : 1000);
    r.sched_ns = calloc((size_t)r.total, sizeof(int64_t));
    r.write_ns = calloc((size_t)r.total, sizeof(int64_t));
    r.done_ns = calloc((size_t)r.total, sizeof(int64_t));
    r.got = calloc((size_t)r.total, sizeof(int32_t));
    r.nreports = calloc((size_t)r.total, sizeof(int32_t));
    if (!r.sched_ns || !r.write_ns || !r.done_ns || !r.got || !r.nreports) return 2;
    for (int i = 0; i < SLOTS; i++) r.slot_owner[i] = -1;
    r.venue = (Sess){.name = "venue", .fd = -1, .seq = 1, .sender = a.venue_comp_id, .target = a.engine_comp_id};
    r.client = (Sess){.name = "client", .fd = -1, .seq = 1, .sender = a.sender, .target = a.engine_comp_id};
    int64_t start = fw_now_ns();

    r.listen_fd = listen_on(&r);
    if (r.listen_fd < 0) {
        json_error("venue", "cannot listen on %s:%d: %s", a.host, a.venue_port, strerror(errno));
        return 2;
    }
    if (!pump_until(&r, venue_ready, a.timeout)) {
        json_error("venue", "the engine did not log on and ask for market data within %g s", a.timeout);
        return 2;
    }
    int64_t deadline = fw_now_ns() + (int64_t)(a.timeout * 1e9);
    while ((r.client.fd = connect_client(&r)) < 0 && fw_now_ns() < deadline) pump(&r, 100000000);
    if (r.client.fd < 0) {
        json_error("client", "cannot connect to the engine at %s:%d", a.host, a.engine_port);
        return 2;
    }
    sess_send(&r.client, "A", "98=0\x01" "108=30\x01" "141=Y\x01");
    if (!pump_until(&r, client_ready, a.timeout)) {
        json_error("client", "no Logon reply from the engine within %g s", a.timeout);
        return 2;
    }
    send_orders(&r);
    if (!pump_until(&r, orders_acked, a.timeout) || r.order_rejects) {
        json_error("orders", "%lld of %lld acknowledged, %lld rejected", r.acks, a.orders, r.order_rejects);
        return 2;
    }
    if (!pump_until(&r, parent_out, a.timeout)) {
        json_error("children", "%lld of %lld shares rest at the venue after %g s (%lld child orders)", r.cs.resting,
                   r.order_qty * a.orders, a.timeout, r.cs.child_orders);
        return 2;
    }
    double setup_s = (double)(fw_now_ns() - start) / 1e9;
    if (a.verbose) fw_log("parent out: %lld shares in %lld children; filling", r.cs.resting, r.cs.child_orders);

    /* fills on schedule: sleep until shortly before the next is due, then poll without sleeping */
    int64_t t0 = fw_now_ns();
    while (r.sent < r.total && !r.exhausted && !r.venue.closed && !r.client.closed) {
        send_fills(&r, t0);
        if (r.sent >= r.total || r.exhausted) break;
        int64_t next = t0 + (int64_t)((double)r.sent * 1e9 / a.rate);
        int64_t wait = next - fw_now_ns() - 30000;
        pump(&r, wait > 0 ? wait : 0);
    }
    int64_t send_end = fw_now_ns();
    /* until every fill's reports are in, or nothing new arrives for --timeout */
    int64_t last = r.completed, idle_since = fw_now_ns();
    while (r.completed < r.sent && !r.client.closed) {
        pump(&r, 100000000);
        int64_t t = fw_now_ns();
        if (r.completed != last) {
            last = r.completed;
            idle_since = t;
        } else if (t - idle_since >= (int64_t)(a.timeout * 1e9)) {
            break;
        }
    }
    summarise(&r, t0, send_end, setup_s);
    if (r.exhausted) fw_log("no resting child had room for fill %lld", (long long)r.sent);
    if (r.completed < r.sent) fw_log("%lld of %lld fills never completed", (long long)(r.sent - r.completed),
                                     (long long)r.sent);
    /* log out both sessions (not waiting long: the figures are printed) */
    r.client.bye = r.venue.bye = 1;
    sess_send(&r.client, "5", "");
    if (r.venue.fd >= 0) sess_send(&r.venue, "5", "");
    int64_t bye = fw_now_ns() + 1000000000LL;
    while (fw_now_ns() < bye && !(r.client.logout || r.client.closed)) pump(&r, 50000000);
    close(r.client.fd);
    if (r.venue.fd >= 0) close(r.venue.fd);
    close(r.listen_fd);
    return r.completed == r.sent && r.sent == r.total ? 0 : 1;
}
