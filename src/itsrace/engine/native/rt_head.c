/* ---- itsrace native runtime, part 1: types and helpers the model code uses ---------------- */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

enum { ERR_NONE = 0, ERR_INDEX = 1, ERR_DOMAIN = 2, ERR_RAISE = 3, ERR_HELPER = 4, ERR_ARITH = 5, ERR_MEMORY = 6 };
enum { KIND_INV = 0, KIND_ASSERT = 1, KIND_FINAL = 2, KIND_DEADLOCK = 3 };

/* Python calls a helper function: 0 on success, else the helper raised or returned a non-int */
typedef int (*helper_cb)(int sig, const int64_t *args, int nin, int64_t *out, int nout);
static helper_cb g_helper;

/* memo: (signature, arguments) -> results, one per worker (no locks on the hot path) */
typedef struct Memo {
    uint64_t *tab;   /* pool offset + 1, 0 = empty */
    size_t cap, n;
    int64_t *pool;   /* entries: sig, nin args, nout results */
    size_t plen, pcap;
} Memo;

struct Worker;
typedef struct Ctx {
    int err;
    int64_t trans;            /* transitions of fully expanded states */
    int64_t fired[NACT], gained[NACT];
    Memo memo;
    struct Worker *w;
    uint64_t cur_gid;         /* the state being expanded (parent of what it finds) */
} Ctx;

static int visit(Ctx *cx, int k, const uint64_t *t);
static int ev_record(Ctx *cx, int prop, int kind, const uint64_t *s, int k);
static int ev_terminal(Ctx *cx, const uint64_t *s);
static int ev_quiescent(Ctx *cx, const uint64_t *s);

#define IXERR() (cx->err = ERR_INDEX, (int64_t)0)

static inline uint64_t mix64(uint64_t x) {  /* splitmix64 finaliser */
    x ^= x >> 30; x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27; x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static inline int64_t min64(int64_t a, int64_t b) { return b < a ? b : a; }
static inline int64_t max64(int64_t a, int64_t b) { return b > a ? b : a; }

static inline int64_t floordiv64(int64_t a, int64_t b, Ctx *cx) {
    if (b == 0) { cx->err = ERR_ARITH; return 0; }
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}
static inline int64_t floormod64(int64_t a, int64_t b, Ctx *cx) {
    if (b == 0) { cx->err = ERR_ARITH; return 0; }
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
static inline int64_t shl64(int64_t a, int64_t b, Ctx *cx) {
    if (b < 0 || b > 62 || (a != 0 && (a >= (INT64_C(1) << (62 - b)) || a <= -(INT64_C(1) << (62 - b))))) {
        cx->err = ERR_ARITH; return 0;   /* Python ints do not overflow: refuse at run time */
    }
    return (int64_t)((uint64_t)a << b);
}
static inline int64_t shr64(int64_t a, int64_t b, Ctx *cx) {
    if (b < 0) { cx->err = ERR_ARITH; return 0; }
    if (b > 63) return a < 0 ? -1 : 0;
    return a >> b;
}

static uint64_t memo_hash(int sig, int nin, const int64_t *args) {
    uint64_t h = mix64((uint64_t)sig * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)nin);
    for (int i = 0; i < nin; i++) h = mix64(h ^ (uint64_t)args[i]);
    return h;
}

static int memo_grow(Memo *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t e = m->tab[i];
        if (!e) continue;
        int64_t *p = m->pool + (e - 1);
        /* entries do not store nin: recompute from the stored header word (sig | nin << 32) */
        int sig = (int)(p[0] & 0xffffffff), nin = (int)(p[0] >> 32);
        size_t j = memo_hash(sig, nin, p + 1) & (cap - 1);
        while (tab[j]) j = (j + 1) & (cap - 1);
        tab[j] = e;
    }
    free(m->tab);
    m->tab = tab;
    m->cap = cap;
    return 0;
}

static void memo_call(Ctx *cx, int sig, int nin, int nout, const int64_t *args, int64_t *out) {
    Memo *m = &cx->memo;
    if (m->cap == 0 && memo_grow(m)) { cx->err = ERR_MEMORY; memset(out, 0, nout * sizeof *out); return; }
    uint64_t h = memo_hash(sig, nin, args);
    int64_t head = (int64_t)(((uint64_t)nin << 32) | (uint32_t)sig);
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        uint64_t e = m->tab[i];
        if (!e) break;
        int64_t *p = m->pool + (e - 1);
        if (p[0] == head && memcmp(p + 1, args, nin * sizeof *args) == 0) {
            memcpy(out, p + 1 + nin, nout * sizeof *out);
            return;
        }
        i = (i + 1) & mask;
    }
    if (g_helper(sig, args, nin, out, nout)) { cx->err = ERR_HELPER; memset(out, 0, nout * sizeof *out); return; }
    size_t need = m->plen + 1 + nin + nout;
    if (need > m->pcap) {
        size_t cap = m->pcap ? m->pcap * 2 : 4096;
        while (cap < need) cap *= 2;
        int64_t *pool = realloc(m->pool, cap * sizeof *pool);
        if (!pool) { cx->err = ERR_MEMORY; return; }
        m->pool = pool; m->pcap = cap;
    }
    int64_t *p = m->pool + m->plen;
    p[0] = head;
    memcpy(p + 1, args, nin * sizeof *args);
    memcpy(p + 1 + nin, out, nout * sizeof *out);
    m->tab[i] = m->plen + 1;
    m->plen = need;
    if (++m->n * 2 > m->cap && memo_grow(m)) cx->err = ERR_MEMORY;
}

/* ---- the model ---------------------------------------------------------------------------- */
