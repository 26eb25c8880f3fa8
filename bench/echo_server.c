/*
 * bench/echo_server.c: the floor of the benchmarks.  A bare TCP server that frames FIX messages and answers
 * them with no store, no validation and no session state beyond its own MsgSeqNum:
 *
 *   Logon -> Logon (same HeartBtInt, 141=Y echoed), NewOrderSingle -> a minimal ExecutionReport (New)
 *   carrying its ClOrdID, TestRequest -> Heartbeat, ResendRequest -> SequenceReset-GapFill, Logout -> Logout
 *   (then the connection is closed).  Every answer has a correct BodyLength and CheckSum.
 *
 * Why: whatever the load generator reports against this server is the cost of the load generator, the
 * kernel's loopback and the scheduler on this machine; a FIX engine's figures from the same run are that
 * floor plus the engine.  One epoll loop, one thread, one write per read's worth of answers.
 *
 *   echo_server [--host 127.0.0.1] [--port 0]
 *
 * Prints "listening on port N" on stderr when ready; exits 0 on SIGTERM or SIGINT.
 */
#define FW_TOOL "echo_server"
#include "fixwire.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct {
    int fd;
    FwBuf in, out;
    uint64_t seq;      /* next outgoing MsgSeqNum */
    uint64_t orders;   /* ExecutionReports sent: OrderID and ExecID */
    int closing;       /* a Logout was answered: close once the answer is written */
    int want_out;      /* registered for EPOLLOUT */
} Conn;

static FwStamp stamp; /* SendingTime, reformatted only when the millisecond changes */

/* Appends one message: header (our seq, CompIDs swapped from the peer's), `body`, trailer. */
static void answer(Conn *c, const char *type, const char *msg, size_t n, const char *body, int blen) {
    int sl, tl;
    const char *sender = fw_value(msg, n, "\x01" "49=", &sl); /* theirs: our TargetCompID */
    const char *target = fw_value(msg, n, "\x01" "56=", &tl); /* theirs: our SenderCompID */
    char head[256];
    int hl = snprintf(head, sizeof head, "35=%s\x01" "34=%llu\x01" "49=%.*s\x01" "52=%.*s\x01" "56=%.*s\x01", type,
                      (unsigned long long)c->seq++, tl, target, stamp.len, stamp.text, sl, sender);
    if (hl < 0 || hl >= (int)sizeof head) return;
    fw_frame(&c->out, head, (size_t)hl, body, (size_t)blen);
}

static void on_message(Conn *c, const char *msg, size_t n, size_t body) {
    const char *type = msg + body + 3;
    const char *type_end = memchr(type, FW_SOH, n - body - 3);
    if (memcmp(msg + body, "35=", 3) || !type_end || type_end - type != 1) return;
    char out[512];
    int ol = 0, vl, ql, sl, dl;
    const char *v;
    switch (*type) {
    case 'D': {
        c->orders++;
        v = fw_value(msg, n, "\x01" "11=", &vl);
        const char *sym = fw_value(msg, n, "\x01" "55=", &sl);
        const char *side = fw_value(msg, n, "\x01" "54=", &dl);
        const char *qty = fw_value(msg, n, "\x01" "38=", &ql);
        if (vl > 128 || sl > 64 || dl > 4 || ql > 32) return;
        ol = snprintf(out, sizeof out,
                      "37=O%llu\x01" "11=%.*s\x01" "17=E%llu\x01" "150=0\x01" "39=0\x01" "55=%.*s\x01" "54=%.*s\x01"
                      "38=%.*s\x01" "151=%.*s\x01" "14=0\x01" "6=0\x01",
                      (unsigned long long)c->orders, vl, v, (unsigned long long)c->orders, sl, sym, dl ? dl : 1,
                      dl ? side : "1", ql ? ql : 1, ql ? qty : "0", ql ? ql : 1, ql ? qty : "0");
        answer(c, "8", msg, n, out, ol);
        break;
    }
    case 'A': {
        v = fw_value(msg, n, "\x01" "108=", &vl);
        int reset = memmem(msg, n, "\x01" "141=Y\x01", 7) != NULL;
        if (reset) c->seq = 1;
        if (vl > 16) vl = 16;
        ol = snprintf(out, sizeof out, "98=0\x01" "108=%.*s\x01%s", vl ? vl : 2, vl ? v : "30", reset ? "141=Y\x01" : "");
        answer(c, "A", msg, n, out, ol);
        break;
    }
    case '1':
        v = fw_value(msg, n, "\x01" "112=", &vl);
        if (vl > 200) vl = 200;
        ol = snprintf(out, sizeof out, "112=%.*s\x01", vl, v);
        answer(c, "0", msg, n, out, ol);
        break;
    case '2': { /* no store: gap-fill up to our next MsgSeqNum */
        v = fw_value(msg, n, "\x01" "7=", &vl);
        unsigned long long begin = vl ? strtoull(v, NULL, 10) : 1;
        uint64_t next = c->seq;
        ol = snprintf(out, sizeof out, "123=Y\x01" "36=%llu\x01", (unsigned long long)next);
        c->seq = begin;
        answer(c, "4", msg, n, out, ol);
        c->seq = next;
        break;
    }
    case '5':
        answer(c, "5", msg, n, "", 0);
        c->closing = 1;
        break;
    default:
        break;
    }
}

/* Frames every complete message in the input buffer and answers it (garbage is skipped, not counted). */
static void on_data(Conn *c) {
    size_t pos = 0, start, len;
    int64_t garbage = 0;
    fw_stamp(&stamp);
    while (fw_next(c->in.data, c->in.len, &pos, &start, &len, &garbage)) {
        const char *msg = c->in.data + start;
        on_message(c, msg, len, fw_body(msg, len));
    }
    fw_consume(&c->in, pos);
}

static void conn_close(int ep, Conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

/* Writes what it can; returns 0 when the connection is finished (error, or a Logout answered and sent). */
static int flush(int ep, Conn *c) {
    if (fw_flush(c->fd, &c->out) < 0) return 0;
    int want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return !(c->closing && !c->out.len);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else {
            fprintf(stderr, "usage: echo_server [--host 127.0.0.1] [--port 0]\n");
            return 2;
        }
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || bind(ls, (struct sockaddr *)&addr, sizeof addr) ||
        listen(ls, 64)) {
        fprintf(stderr, "echo_server: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    socklen_t al = sizeof addr;
    getsockname(ls, (struct sockaddr *)&addr, &al);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    ev.data.ptr = &sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    fprintf(stderr, "echo_server: listening on port %d\n", ntohs(addr.sin_port));
    fflush(stderr);

    struct epoll_event events[64];
    for (;;) {
        int ready = epoll_wait(ep, events, 64, -1);
        if (ready < 0 && errno == EINTR) continue;
        for (int i = 0; i < ready; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &sfd) {
                fprintf(stderr, "echo_server: stopping\n");
                return 0;
            }
            if (tag == NULL) {
                int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                Conn *c = calloc(1, sizeof *c);
                if (!c) return 1;
                c->fd = fd;
                c->seq = 1;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            Conn *c = tag;
            int alive = 1;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (int full = 1; full;) {
                    ssize_t got = fw_recv(c->fd, &c->in, &full);
                    if (got < 0) alive = 0;
                    if (got <= 0) break;
                }
                if (c->in.len) on_data(c);
            }
            if (alive) alive = flush(ep, c);
            if (!alive) conn_close(ep, c);
        }
    }
}
