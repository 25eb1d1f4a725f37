/* ---- itsrace native runtime, part 2: visited sets, breadth-first driver, workers ----------
 *
 * States are NW 64-bit words, kept in NSUB open-addressing sub-tables, so growing a table never
 * needs twice the memory of the whole set. Exact mode keeps every state in an arena in
 * discovery order with its parent's id; fingerprint mode keeps only keys (the state itself when
 * it fits in 64 bits, else a 64-bit hash) and the current and next BFS levels.
 *
 * One worker (the serial search): the arena is in breadth-first order, so it is also the queue;
 * this is the deterministic search that checkpoints and resumes.
 *
 * N workers (the threaded search, "T" below): N threads share one visited table whose slots
 * are claimed with compare-and-swap; each thread appends the states it discovers to its own
 * arena (exact mode: fixed blocks that never move, so other threads can read them while it
 * grows) or next-level buffer (fingerprint mode). The search is level-synchronous: the current
 * level is every thread's part of it, cut into small chunks that threads claim with atomic
 * cursors (their own part first, then the others'), and a level ends at a barrier (spin, then futex). Sub-tables grow at stop-the-world
 * pauses (the same barrier), and an insert into a sub-table too full to wait for the pause is
 * deferred to after it. */

#include <limits.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#define NSUB 256
#define MAXW 64
#define ID_BITS 40
#define GID(w, id) (((uint64_t)(w) << ID_BITS) | (uint64_t)(id))
#define GID_NONE UINT64_MAX
#define FP_SEED UINT64_C(0x6a09e667f3bcc909)

#if STATE_BITS <= 31
typedef uint32_t fpk_t;   /* the state plus one; 0 marks an empty slot */
#define FP_NARROW 1
#else
typedef uint64_t fpk_t;   /* the state (<= 64 bits) or its hash; the key 0 is kept apart */
#define FP_NARROW 0
#endif

enum { ST_DONE = 0, ST_VIOLATION = 1, ST_STATES = 2, ST_TIME = 3, ST_MEMORY = 4, ST_DEPTH = 5,
       ST_INTERRUPTED = 6, ST_PAUSED = 7, ST_ERROR = -1 };

typedef struct Sub { void *slot; size_t cap, n; } Sub;  /* n: unused in the threaded search */
typedef struct Box { uint64_t *data; size_t n, cap; } Box;
#define PF 16   /* successors buffered (their table slots prefetched) before they are inserted */  /* NW words, parent gid, action */
#define BOXW (NW + 2)

typedef struct Worker {
    int id;
    Ctx cx;
    Sub sub[NSUB];
    int has_zero;
    size_t count;
    uint64_t *arena, *parent; size_t alen, acap;     /* exact mode */
    size_t lvl_hi, pos;
    uint64_t *cur; size_t ncur;                      /* fingerprint mode */
    uint64_t *nxt; size_t nnxt, cnxt;
    pthread_t th;
    /* threaded search */
    uint64_t **tblk, **tpar;                          /* exact: blocks of TB states and parents */
    size_t seg_lo, seg_hi;                            /* this thread's part of the current level */
    size_t expanded, nexp;                            /* states expanded; expand_state calls */
    Box defer;                                        /* inserts waiting for a table to grow */
    uint32_t subn[NSUB], subchk[NSUB];                /* this thread's inserts per sub-table; when to
                                                         add up everyone's (the shared counts) */
    double waited;                                    /* seconds in barriers (ITSRACE_NATIVE_STATS) */
    double cpu_mark, phase_cpu;                       /* thread CPU seconds: at the last barrier, since */
    /* successors of the state being expanded, inserted in order after their slots were prefetched */
    int pf_n, pf_k[PF];
    uint64_t pf_key[PF], pf_h[PF], pf_state[PF * NW];
} __attribute__((aligned(64))) Worker;

#define TB_BITS 16
#define TB (UINT64_C(1) << TB_BITS)
#define TB_MAX (1u << 18)   /* blocks per thread: 2^34 states */
#define TID_SHIFT ID_BITS
#define TAG_SHIFT (ID_BITS + 6)

/* a barrier for the threaded search: spin briefly (a level can take microseconds), then sleep */
typedef struct SBar { uint32_t count, gen, sleepers, n; } SBar;

static struct {
    int nw, fp, stop_on_violation;
    int64_t chunk, max_states, max_depth, max_memory;
    double max_seconds, t0;
    volatile int stop_request, stop, status, err;
    int64_t depth;
    pthread_mutex_t lock;
    int nfound, order[NTARGETS + 1], found[NTARGETS + 1], fkind[NTARGETS + 1], fk[NTARGETS + 1];
    int64_t fdepth[NTARGETS + 1];
    uint64_t fstate[NTARGETS + 1][NW], fgid[NTARGETS + 1];
    Worker *w;
    int done;
    volatile int leave;
    double pause_at;   /* checkpoint due: stop at the next chunk, resumable (itsrace_continue) */
    /* threaded search */
    int thr, tight;
    uint64_t **tblk[MAXW], **tpar[MAXW];   /* each thread's block tables (read-only during the search) */
    size_t csz, nck[MAXW];   /* chunk size, and chunks in each thread's part of the level */
    struct { size_t next; char pad[56]; } __attribute__((aligned(64))) cursor[MAXW];  /* claimed by fetch-add */
    int grow_req, grow_phase, has_zero, probe_check, pauses;
    size_t deferred;
    double span;   /* sum over phases (between barriers) of the busiest thread's CPU seconds */
    double threads_cpu;   /* CPU seconds of all threads of the threaded search, barriers included */
    uint8_t grow_mark[NSUB];
    SBar sbar;
    Ctx *first_cx; size_t first_nexp;   /* stop on the first violation: the state that had it */
} G;

static double g_pause;  /* seconds between checkpoint pauses (<= 0: none); survives itsrace_run's reset */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int64_t rss_now(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long a = 0, b = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &a, &b) != 2) b = 0;
    fclose(f);
    return (int64_t)b * sysconf(_SC_PAGESIZE);
}

static void set_stop(int status, int err) {
    pthread_mutex_lock(&G.lock);
    if (!G.stop) { G.status = status; G.err = err; G.stop = 1; }
    pthread_mutex_unlock(&G.lock);
}

static inline uint64_t state_hash(const uint64_t *t) {
    uint64_t h = UINT64_C(0x243f6a8885a308d3);
    for (int i = 0; i < NW; i++) h = mix64(h ^ t[i]);
    return h;
}

static inline uint64_t fp_key(const uint64_t *t) {
#if STATE_BITS <= 64
    return t[0];
#else
    uint64_t h = FP_SEED;
    for (int i = 0; i < NW; i++) h = mix64(h ^ t[i]) * UINT64_C(0x9e3779b97f4a7c15);
    return mix64(h);
#endif
}

static inline Sub *sub_of(Worker *w, uint64_t h) { return &w->sub[(h >> 32) & (NSUB - 1)]; }

static int sub_alloc(Sub *sb, size_t cap, size_t width) {
    sb->slot = calloc(cap, width);
    sb->cap = cap;
    sb->n = 0;
    return sb->slot ? 0 : -1;
}

/* ---- exact set: entries are (hash tag << ID_BITS) | (local id + 1) ------------------------- */
static int exact_grow(Worker *w, Sub *sb) {
    size_t cap = sb->cap * 2, mask = cap - 1;
    uint64_t *old = sb->slot, *tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < sb->cap; i++) {
        uint64_t e = old[i];
        if (!e) continue;
        uint64_t id = (e & ((UINT64_C(1) << ID_BITS) - 1)) - 1;
        size_t j = state_hash(w->arena + id * NW) & mask;
        while (tab[j]) j = (j + 1) & mask;
        tab[j] = e;
    }
    free(old);
    sb->slot = tab;
    sb->cap = cap;
    return 0;
}

static int arena_reserve(Worker *w) {
    if (w->alen < w->acap) return 0;
    size_t cap = w->acap ? w->acap * 2 : 4096;
    uint64_t *a = realloc(w->arena, cap * NW * sizeof *a);
    if (!a) return -1;
    w->arena = a;
    uint64_t *p = realloc(w->parent, cap * sizeof *p);
    if (!p) return -1;
    w->parent = p;
    w->acap = cap;
    return 0;
}

/* 1 new, 0 seen, -1 out of memory */
static int exact_insert(Worker *w, const uint64_t *t, uint64_t h, uint64_t parent) {
    Sub *sb = sub_of(w, h);
    uint64_t *slot = sb->slot, tag = h >> ID_BITS;
    size_t mask = sb->cap - 1, i = h & mask;
    for (;;) {
        uint64_t e = slot[i];
        if (!e) break;
        if ((e >> ID_BITS) == tag) {
            uint64_t id = (e & ((UINT64_C(1) << ID_BITS) - 1)) - 1;
            if (memcmp(w->arena + id * NW, t, NW * sizeof *t) == 0) return 0;
        }
        i = (i + 1) & mask;
    }
    if (arena_reserve(w)) return -1;
    size_t id = w->alen++;
    memcpy(w->arena + id * NW, t, NW * sizeof *t);
    w->parent[id] = parent;
    slot[i] = (tag << ID_BITS) | (id + 1);
    w->count++;
    if (++sb->n * 4 > sb->cap * 3 && exact_grow(w, sb)) return -1;
    return 1;
}

/* ---- fingerprint set ----------------------------------------------------------------------- */
static int fp_grow(Sub *sb) {
    size_t cap = sb->cap * 2, mask = cap - 1;
    fpk_t *old = sb->slot, *tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < sb->cap; i++) {
        fpk_t e = old[i];
        if (!e) continue;
        uint64_t key = FP_NARROW ? (uint64_t)e - 1 : (uint64_t)e;
        size_t j = mix64(key ^ FP_SEED) & mask;
        while (tab[j]) j = (j + 1) & mask;
        tab[j] = e;
    }
    free(old);
    sb->slot = tab;
    sb->cap = cap;
    return 0;
}

static int level_push(Worker *w, const uint64_t *t) {
    if (w->nnxt == w->cnxt) {
        size_t cap = w->cnxt ? w->cnxt * 2 : 4096;
        uint64_t *a = realloc(w->nxt, cap * NW * sizeof *a);
        if (!a) return -1;
        w->nxt = a;
        w->cnxt = cap;
    }
    memcpy(w->nxt + w->nnxt++ * NW, t, NW * sizeof *t);
    return 0;
}

static int fp_insert(Worker *w, uint64_t key, uint64_t h, const uint64_t *t) {
    if (!FP_NARROW && key == 0) {
        if (w->has_zero) return 0;
        w->has_zero = 1;
    } else {
        Sub *sb = sub_of(w, h);
        fpk_t *slot = sb->slot, want = (fpk_t)(FP_NARROW ? key + 1 : key);
        size_t mask = sb->cap - 1, i = h & mask;
        for (;;) {
            fpk_t e = slot[i];
            if (!e) break;
            if (e == want) return 0;
            i = (i + 1) & mask;
        }
        slot[i] = want;
        if (++sb->n * 4 > sb->cap * 3 && fp_grow(sb)) return -1;
    }
    w->count++;
    return level_push(w, t) ? -1 : 1;
}

static int insert(Worker *w, const uint64_t *t, uint64_t parent) {
    if (G.fp) {
        uint64_t key = fp_key(t);
        return fp_insert(w, key, mix64(key ^ FP_SEED), t);
    }
    return exact_insert(w, t, state_hash(t), parent);
}


static int box_push(Box *b, const uint64_t *t, uint64_t parent, int k) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        uint64_t *d = realloc(b->data, cap * BOXW * sizeof *d);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    uint64_t *e = b->data + b->n++ * BOXW;
    memcpy(e, t, NW * sizeof *t);
    e[NW] = parent;
    e[NW + 1] = (uint64_t)k;
    return 0;
}

/* ---- events (called by the model code) ----------------------------------------------------- */
static int t_exact_insert(Worker *w, const uint64_t *t, uint64_t h, uint64_t parent);
static int t_fp_insert(Worker *w, const uint64_t *t, uint64_t key, uint64_t h);

/* insert the buffered successors, in the order they were found (so one worker meets states in
   the Python backend's order); called after each expand_state, and when the buffer is full */
static int flush(Worker *w) {
    Ctx *cx = &w->cx;
    int n = w->pf_n;
    w->pf_n = 0;
    for (int i = 0; i < n; i++) {
        const uint64_t *t = w->pf_state + (size_t)i * NW;
        uint64_t key = w->pf_key[i], h = w->pf_h[i];
        int k = w->pf_k[i], r;
        if (G.thr) r = G.fp ? t_fp_insert(w, t, key, h) : t_exact_insert(w, t, h, cx->cur_gid);
        else r = G.fp ? fp_insert(w, key, h, t) : exact_insert(w, t, h, cx->cur_gid);
        if (r == 2) r = box_push(&w->defer, t, cx->cur_gid, k) ? -1 : 0;  /* its sub-table is about to grow */
        if (r < 0) { cx->err = ERR_MEMORY; return -1; }
        cx->gained[k] += r;
    }
    return 0;
}

static int visit(Ctx *cx, int k, const uint64_t *t) {
    Worker *w = cx->w;
    if (w->pf_n == PF && flush(w)) return -1;
    int i = w->pf_n++;
    memcpy(w->pf_state + (size_t)i * NW, t, NW * sizeof *t);
    uint64_t key = G.fp ? fp_key(t) : 0, h = G.fp ? mix64(key ^ FP_SEED) : state_hash(t);
    w->pf_key[i] = key; w->pf_h[i] = h; w->pf_k[i] = k;
    Sub *sb = &G.w[0].sub[(h >> 32) & (NSUB - 1)];   /* the serial search's table, or the shared one */
    size_t at = h & (sb->cap - 1);
    __builtin_prefetch(G.fp ? (void *)((fpk_t *)sb->slot + at) : (void *)((uint64_t *)sb->slot + at));
    return 0;
}

/* expand one state: its successors are inserted (flushed) even when it stops the search, as
   the Python backend inserts those it met before the stop */
static int expand_flush(const uint64_t *s, Ctx *cx) {
    int r = expand_state(s, cx);
    if (flush(cx->w) && !r) r = -1;
    return r;
}

static int ev_record(Ctx *cx, int prop, int kind, const uint64_t *s, int k) {
    pthread_mutex_lock(&G.lock);
    if (G.thr && G.stop_on_violation && G.nfound > 0 && (G.first_cx != cx || G.first_nexp != cx->w->nexp)) {
        /* another thread's violation stops the search: record only that state's, as one worker does */
        pthread_mutex_unlock(&G.lock);
        return 1;
    }
    if (G.nfound == 0) { G.first_cx = cx; G.first_nexp = cx->w->nexp; }
    if (!G.found[prop]) {
        G.found[prop] = 1;
        memcpy(G.fstate[prop], s, NW * sizeof *s);
        G.fkind[prop] = kind;
        G.fk[prop] = k;
        G.fgid[prop] = cx->cur_gid;
        G.fdepth[prop] = G.depth;
        G.order[G.nfound++] = prop;
    }
    int stop = G.stop_on_violation || G.nfound >= NTARGETS;
    pthread_mutex_unlock(&G.lock);
    return stop;
}

static int ev_terminal(Ctx *cx, const uint64_t *s) {
    int stop = 0;
    if (CHECK_DEADLOCK && !rest_any(s, cx)) {
        if (ev_record(cx, NPROPS, KIND_DEADLOCK, s, -1)) return 1;
    }
    for (int j = 0; j < NFINALS; j++)
        if (!final_holds(final_props[j], s, cx)) stop = ev_record(cx, final_props[j], KIND_FINAL, s, -1) || stop;
    return stop;
}

static int ev_quiescent(Ctx *cx, const uint64_t *s) {
    int stop = 0;
    for (int j = 0; j < NFINALS; j++)
        if (!final_holds(final_props[j], s, cx)) stop = ev_record(cx, final_props[j], KIND_FINAL, s, -1) || stop;
    return stop;
}

/* ---- the search ---------------------------------------------------------------------------- */
static size_t total_count(void) {
    size_t n = 0;
    for (int i = 0; i < G.nw; i++) n += __atomic_load_n(&G.w[i].count, __ATOMIC_RELAXED);
    return n;
}

static void check_limits(void) {
    if (G.stop_request) { set_stop(ST_INTERRUPTED, 0); return; }
    if (G.pause_at > 0 && now_s() >= G.pause_at) { set_stop(ST_PAUSED, 0); return; }
    if (G.max_states >= 0 && (int64_t)total_count() >= G.max_states) { set_stop(ST_STATES, 0); return; }
    if (G.max_seconds >= 0 && now_s() - G.t0 >= G.max_seconds) { set_stop(ST_TIME, 0); return; }
    if (G.max_memory >= 0 && rss_now() >= G.max_memory) set_stop(ST_MEMORY, 0);
}

/* ---- one worker ---------------------------------------------------------------------------- */
static void expand_level(Worker *w) {
    Ctx *cx = &w->cx;
    size_t hi = G.fp ? w->ncur : w->lvl_hi;
    while (w->pos < hi) {
        size_t end = w->pos + (size_t)G.chunk;
        if (end > hi) end = hi;
        for (size_t i = w->pos; i < end; i++) {
            uint64_t s[NW];  /* a copy: the arena may move while this state is expanded */
            memcpy(s, (G.fp ? w->cur : w->arena) + i * NW, sizeof s);
            cx->cur_gid = G.fp ? GID_NONE : GID(w->id, i);
            int r = expand_flush(s, cx);
            if (r) {
                if (r < 0 || cx->err) set_stop(ST_ERROR, cx->err ? cx->err : ERR_MEMORY);
                else set_stop(ST_VIOLATION, 0);
                return;
            }
        }
        w->pos = end;
        check_limits();
        if (G.stop) return;
    }
}

static size_t next_size(Worker *w) { return G.fp ? w->nnxt : w->alen - w->lvl_hi; }

static void start_level(Worker *w) {
    if (G.fp) {
        free(w->cur);
        w->cur = w->nxt;
        w->ncur = w->nnxt;
        w->nxt = NULL;
        w->nnxt = w->cnxt = 0;
        w->pos = 0;
    } else {
        w->lvl_hi = w->alen;
    }
}

/* decide, after a level: next one, done, or a limit */
static void level_end(size_t next) {
    if (next == 0) G.done = 1;
    else {
        G.depth++;
        if (G.max_depth >= 0 && G.depth >= G.max_depth) set_stop(ST_DEPTH, 0);
    }
}

static void *worker_main(void *arg) {   /* the serial search (one worker; also what checkpoints resume) */
    Worker *w = arg;
    for (;;) {
        expand_level(w);
        if (!G.stop) level_end(next_size(w));
        if (G.stop || G.done) break;
        start_level(w);
    }
    return NULL;
}

/* ---- N workers: the threaded search --------------------------------------------------------- */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#define SPIN 4000
static void sbar_wait(SBar *b) {
    uint32_t gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->gen, gen + 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST))
            syscall(SYS_futex, &b->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        return;
    }
    for (int i = 0; i < SPIN; i++) {
        if (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) != gen) return;
        cpu_relax();
    }
    __atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&b->gen, __ATOMIC_SEQ_CST) == gen)
        syscall(SYS_futex, &b->gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
    __atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
}

static inline uint64_t *t_state(uint64_t gid) {
    uint64_t id = gid & ((UINT64_C(1) << ID_BITS) - 1);
    return G.tblk[gid >> ID_BITS][id >> TB_BITS] + (id & (TB - 1)) * NW;
}
static inline uint64_t *t_parent(uint64_t gid) {
    uint64_t id = gid & ((UINT64_C(1) << ID_BITS) - 1);
    return &G.tpar[gid >> ID_BITS][id >> TB_BITS][id & (TB - 1)];
}
/* exact entries: hash tag (18 bits), thread (6), local id + 1 (40) */
static inline uint64_t t_entry_gid(uint64_t e) {
    return (((e >> TID_SHIFT) & 63) << ID_BITS) | ((e & ((UINT64_C(1) << ID_BITS) - 1)) - 1);
}

/* How full sub-table j is: the sum of every thread's count (each written only by its thread;
   read here rarely: stale by at most the inserts in flight, one per thread). */
static size_t t_subn(int j) {
    size_t n = 0;
    for (int t = 0; t < G.nw; t++) n += __atomic_load_n(&G.w[t].subn[j], __ATOMIC_RELAXED);
    return n;
}

/* A sub-table this full takes no more inserts until it has grown: checked when a probe gets
   long (always, with small tables), so a table can never fill up; the slack (1/8) covers MAXW
   threads that each passed the check at once. */
#define PROBE_CHECK 32
static inline int t_full(Sub *sb, int j) {
    size_t n = t_subn(j);
    return G.tight ? n * 4 > sb->cap * 3 : n * 8 >= sb->cap * 7;
}

/* count an insert; once everyone's inserts pass 3/4 of the sub-table, request a pause to grow
   it. The shared count is added up only when this thread's own count reaches subchk, set so
   that the table cannot pass 3/4 before some thread's check. */
static inline void t_count(Worker *w, Sub *sb, int j) {
    uint32_t mine = ++w->subn[j];
    if (mine < w->subchk[j]) return;
    size_t n = t_subn(j), lim = sb->cap * 3 / 4;
    if (n > lim) { __atomic_store_n(&G.grow_req, 1, __ATOMIC_RELAXED); w->subchk[j] = UINT32_MAX; return; }
    w->subchk[j] = mine + (uint32_t)((lim - n) / (size_t)G.nw) + 1;
}

/* 1 new, 0 seen, 2 deferred (table full until the next pause), -1 out of memory */
static int t_exact_insert(Worker *w, const uint64_t *t, uint64_t h, uint64_t parent) {
    int j = (int)((h >> 32) & (NSUB - 1));
    Sub *sb = &G.w[0].sub[j];
    uint64_t *slot = sb->slot, tag = h >> TAG_SHIFT;
    size_t mask = sb->cap - 1, i = h & mask, id = w->alen;
    int written = 0, dist = 0;
    for (;; dist++) {
        if (dist == G.probe_check && t_full(sb, j)) return 2;
        uint64_t e = __atomic_load_n(&slot[i], __ATOMIC_ACQUIRE);
        if (!e) {
            if (!written) {  /* write the state where it will live before publishing its slot */
                size_t b = id >> TB_BITS;
                if (b >= TB_MAX) return -1;
                if (!w->tblk[b]) {
                    w->tpar[b] = malloc(TB * sizeof(uint64_t));
                    uint64_t *blk = malloc(TB * NW * sizeof(uint64_t));
                    if (!blk || !w->tpar[b]) { free(blk); return -1; }
                    __atomic_store_n(&w->tblk[b], blk, __ATOMIC_RELEASE);
                }
                memcpy(w->tblk[b] + (id & (TB - 1)) * NW, t, NW * sizeof *t);
                w->tpar[b][id & (TB - 1)] = parent;
                written = 1;
            }
            uint64_t mine = (tag << TAG_SHIFT) | ((uint64_t)w->id << TID_SHIFT) | (id + 1);
            if (__atomic_compare_exchange_n(&slot[i], &e, mine, 0, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
                w->alen = id + 1;
                __atomic_store_n(&w->count, w->count + 1, __ATOMIC_RELAXED);
                t_count(w, sb, j);
                return 1;
            }
            /* another thread took the slot first: e is its entry, compare as usual */
        }
        if ((e >> TAG_SHIFT) == tag && memcmp(t_state(t_entry_gid(e)), t, NW * sizeof *t) == 0) return 0;
        i = (i + 1) & mask;
    }
}

static int t_fp_insert(Worker *w, const uint64_t *t, uint64_t key, uint64_t h) {
    if (!FP_NARROW && key == 0) {
        int zero = 0;
        if (!__atomic_compare_exchange_n(&G.has_zero, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 0;
    } else {
        int j = (int)((h >> 32) & (NSUB - 1));
        Sub *sb = &G.w[0].sub[j];
        fpk_t *slot = sb->slot, want = (fpk_t)(FP_NARROW ? key + 1 : key);
        size_t mask = sb->cap - 1, i = h & mask;
        for (int dist = 0;; dist++) {
            if (dist == G.probe_check && t_full(sb, j)) return 2;
            fpk_t e = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);
            if (!e) {
                if (__atomic_compare_exchange_n(&slot[i], &e, want, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) break;
            }
            if (e == want) return 0;
            i = (i + 1) & mask;
        }
        t_count(w, sb, j);
    }
    __atomic_store_n(&w->count, w->count + 1, __ATOMIC_RELAXED);
    return level_push(w, t) ? -1 : 1;
}

static int t_insert(Worker *w, const uint64_t *t, uint64_t parent) {
    if (G.fp) {
        uint64_t key = fp_key(t);
        return t_fp_insert(w, t, key, mix64(key ^ FP_SEED));
    }
    return t_exact_insert(w, t, state_hash(t), parent);
}

static int t_grow(Sub *sb) {   /* at a pause: no thread inserts */
    if (G.fp) return fp_grow(sb);
    size_t cap = sb->cap * 2, mask = cap - 1;
    uint64_t *old = sb->slot, *tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < sb->cap; i++) {
        uint64_t e = old[i];
        if (!e) continue;
        size_t j = state_hash(t_state(t_entry_gid(e))) & mask;
        while (tab[j]) j = (j + 1) & mask;
        tab[j] = e;
    }
    free(old);
    sb->slot = tab;
    sb->cap = cap;
    return 0;
}

static void t_drain_deferred(Worker *w) {
    Box *b = &w->defer;
    size_t keep = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t *e = b->data + i * BOXW;
        int r = t_insert(w, e, e[NW]);
        if (r < 0) { set_stop(ST_ERROR, ERR_MEMORY); return; }
        if (r == 2) { memmove(b->data + keep++ * BOXW, e, BOXW * sizeof *e); continue; }
        w->cx.gained[e[NW + 1]] += r;
    }
    b->n = keep;
}

/* the leader, between levels: every thread's new states become its part of the next level */
static void t_setup_level(void) {
    size_t total = 0;
    for (int t = 0; t < G.nw; t++) {
        Worker *w = &G.w[t];
        if (G.fp) { start_level(w); w->seg_lo = 0; w->seg_hi = w->ncur; }
        else { w->seg_lo = w->lvl_hi; w->seg_hi = w->alen; w->lvl_hi = w->alen; }
        total += w->seg_hi - w->seg_lo;
    }
    /* chunks small enough to balance the level's end, at most 64 states */
    size_t csz = total / ((size_t)G.nw * 16);
    G.csz = csz < 1 ? 1 : csz > 64 ? 64 : csz;
    for (int t = 0; t < G.nw; t++) {
        G.nck[t] = (G.w[t].seg_hi - G.w[t].seg_lo + G.csz - 1) / G.csz;
        __atomic_store_n(&G.cursor[t].next, 0, __ATOMIC_RELAXED);
    }
}

/* the next chunk for thread w: of its own part of the level (the states it found, likely still in
   its caches) while there are any, then of the others' */
static int t_claim(Worker *w, int *seg, size_t *c) {
    for (int k = 0; k < G.nw; k++) {
        int t = (w->id + k) % G.nw;
        if (__atomic_load_n(&G.cursor[t].next, __ATOMIC_RELAXED) >= G.nck[t]) continue;
        size_t x = __atomic_fetch_add(&G.cursor[t].next, 1, __ATOMIC_RELAXED);
        if (x < G.nck[t]) { *seg = t; *c = x; return 1; }
    }
    return 0;
}

/* the leader, at a barrier: grow, end the level, or leave */
static void t_decide(void) {
    G.grow_phase = 0;
    if (G.stop) { G.leave = 1; return; }
    int deferred = 0;
    for (int t = 0; t < G.nw; t++) deferred |= G.w[t].defer.n > 0;
    for (int t = 0; t < G.nw; t++) G.deferred += G.w[t].defer.n;
    if (G.grow_req || deferred) {
        G.grow_req = 0;
        G.grow_phase = 1;
        G.pauses++;
        for (int j = 0; j < NSUB; j++)   /* over 60%: grow now, not at the next pause */
            G.grow_mark[j] = t_subn(j) * 5 > G.w[0].sub[j].cap * 3;
        return;
    }
    size_t next = 0;
    for (int t = 0; t < G.nw; t++) next += next_size(&G.w[t]);
    level_end(next);
    G.leave = G.stop || G.done;
    if (!G.leave) t_setup_level();
}

static void t_expand_chunk(Worker *w, int seg, size_t c) {
    Worker *o = &G.w[seg];
    size_t lo = o->seg_lo + c * G.csz, hi = lo + G.csz;
    if (hi > o->seg_hi) hi = o->seg_hi;
    Ctx *cx = &w->cx;
    for (size_t i = lo; i < hi && !G.stop; i++) {
        uint64_t s[NW];
        uint64_t gid = GID(seg, i);
        memcpy(s, G.fp ? o->cur + i * NW : t_state(gid), sizeof s);
        cx->cur_gid = G.fp ? GID_NONE : gid;
        w->nexp++;
        int r = expand_flush(s, cx);
        if (r) {
            if (r < 0 || cx->err) set_stop(ST_ERROR, cx->err ? cx->err : ERR_MEMORY);
            else set_stop(ST_VIOLATION, 0);
            return;
        }
        w->expanded++;
    }
}

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *t_worker_main(void *arg) {
    Worker *w = arg;
    size_t since = 0;
    double start = w->cpu_mark = thread_cpu();
    for (;;) {
        while (!G.stop && !__atomic_load_n(&G.grow_req, __ATOMIC_RELAXED)) {
            int seg;
            size_t c;
            if (!t_claim(w, &seg, &c)) break;
            size_t before = w->expanded;
            t_expand_chunk(w, seg, c);
            since += w->expanded - before;
            if (since >= (size_t)G.chunk) { since = 0; check_limits(); }
        }
        double t0 = now_s(), c0 = thread_cpu();
        w->phase_cpu = c0 - w->cpu_mark;
        sbar_wait(&G.sbar);
        if (w->id == 0) {
            double most = 0, d0 = thread_cpu();
            for (int t = 0; t < G.nw; t++) most = G.w[t].phase_cpu > most ? G.w[t].phase_cpu : most;
            t_decide();
            G.span += most + (thread_cpu() - d0);   /* the leader's decision is serial work */
        }
        sbar_wait(&G.sbar);
        w->waited += now_s() - t0;
        w->cpu_mark = thread_cpu();
        if (G.leave) break;
        if (G.grow_phase) {
            for (int j = w->id; j < NSUB; j += G.nw)
                if (G.grow_mark[j] && t_grow(&G.w[0].sub[j])) set_stop(ST_ERROR, ERR_MEMORY);
            memset(w->subchk, 0, sizeof w->subchk);   /* the capacities changed: add up again */
            sbar_wait(&G.sbar);
            t_drain_deferred(w);
        }
    }
    pthread_mutex_lock(&G.lock);
    G.threads_cpu += thread_cpu() - start;
    pthread_mutex_unlock(&G.lock);
    return NULL;
}

static int t_run(const uint64_t *init, int ninit) {
    G.thr = 1;
    G.probe_check = G.tight ? 0 : PROBE_CHECK;
    G.sbar.n = (uint32_t)G.nw;
    for (int i = 0; i < G.nw; i++) {
        Worker *w = &G.w[i];
        if (!G.fp) {
            G.tblk[i] = w->tblk = calloc(TB_MAX, sizeof *w->tblk);
            G.tpar[i] = w->tpar = calloc(TB_MAX, sizeof *w->tpar);
            if (!w->tblk || !w->tpar) return ST_ERROR;
        }
    }
    for (int i = 0; i < ninit; i++) {
        const uint64_t *s = init + (size_t)i * NW;
        int r = t_insert(&G.w[0], s, GID_NONE);
        if (r == 2) r = box_push(&G.w[0].defer, s, GID_NONE, 0) ? -1 : 0;   /* gained is not counted for these */
        if (r < 0) return ST_ERROR;
    }
    t_setup_level();
    G.t0 = now_s();
    if (G.max_depth == 0) { set_stop(ST_DEPTH, 0); return G.status; }
    for (int i = 1; i < G.nw; i++)
        if (pthread_create(&G.w[i].th, NULL, t_worker_main, &G.w[i])) {
            set_stop(ST_ERROR, ERR_MEMORY);   /* the threads started so far leave at their first barrier */
            G.sbar.n = (uint32_t)i;
            break;
        }
    t_worker_main(&G.w[0]);
    for (int i = 1; i < G.nw && G.w[i].th; i++) pthread_join(G.w[i].th, NULL);
    if (getenv("ITSRACE_NATIVE_STATS")) {   /* debugging the threaded search: how the work was shared */
        fprintf(stderr, "itsrace native: %d threads, %ld levels, %d pauses to grow the table; per thread: "
                "states expanded, seconds at barriers", G.nw, (long)G.depth + 1, G.pauses);
        fprintf(stderr, " (%zu inserts deferred to a pause; span %.3f CPU s):", G.deferred, G.span);
        for (int i = 0; i < G.nw; i++) fprintf(stderr, " [%d] %zu %.3f", i, G.w[i].expanded, G.w[i].waited);
        fprintf(stderr, "\n");
    }
    return G.status;
}

static void free_all(void) {
    if (!G.w) return;
    for (int i = 0; i < G.nw; i++) {
        Worker *w = &G.w[i];
        for (int j = 0; j < NSUB; j++) free(w->sub[j].slot);
        free(w->defer.data);
        if (w->tblk)
            for (size_t b = 0; b < TB_MAX && w->tblk[b]; b++) { free(w->tblk[b]); free(w->tpar[b]); }
        free(w->tblk); free(w->tpar);
        free(w->arena); free(w->parent); free(w->cur); free(w->nxt);
        free(w->cx.memo.tab); free(w->cx.memo.pool);
    }
    free(G.w);
    G.w = NULL;
}

/* ---- the interface Python calls (ctypes) ---------------------------------------------------- */
int itsrace_words(void) { return NW; }
int itsrace_nact(void) { return NACT; }
void itsrace_set_helper(helper_cb cb) { g_helper = cb; }
void itsrace_request_stop(void) { G.stop_request = 1; }
/* the last threaded search's span (the sum over its phases, the work between two barriers, of
   the CPU seconds of the thread that worked longest: with a CPU per thread, about its wall
   time) and the CPU seconds of all its threads (ITSRACE_NATIVE_STATS, scripts/bench_workers.py) */
void itsrace_span(double *out) { out[0] = G.span; out[1] = G.threads_cpu; }
void itsrace_free(void) { free_all(); }

/* params: max_states, max_depth, max_memory, workers, fingerprints, stop_on_violation, chunk,
   small tables (1: the threaded search starts its sub-tables small and defers inserts from
   3/4 full, to exercise growth and deferral in tests) (negative limits: none). Returns the
   status. */
int itsrace_run(const uint64_t *init, int ninit, const int64_t *params, double max_seconds) {
    free_all();
    int nw = (int)params[3];
    if (nw < 1 || nw > MAXW) return ST_ERROR;
    memset(&G, 0, sizeof G);
    G.max_states = params[0]; G.max_depth = params[1]; G.max_memory = params[2];
    G.nw = nw; G.fp = (int)params[4]; G.stop_on_violation = (int)params[5]; G.chunk = params[6];
    G.tight = (int)params[7];
    G.max_seconds = max_seconds;
    pthread_mutex_init(&G.lock, NULL);
    if (posix_memalign((void **)&G.w, 64, (size_t)nw * sizeof *G.w)) { G.w = NULL; return ST_ERROR; }
    memset(G.w, 0, (size_t)nw * sizeof *G.w);
    for (int i = 0; i < nw; i++) {
        G.w[i].id = i;
        G.w[i].cx.w = &G.w[i];
    }
    /* one table: the serial search's, or the one the threads share */
    size_t cap0 = nw == 1 || G.tight ? 256 : 4096;
    for (int j = 0; j < NSUB; j++)
        if (sub_alloc(&G.w[0].sub[j], cap0, G.fp ? sizeof(fpk_t) : sizeof(uint64_t))) return ST_ERROR;
    if (nw > 1) return t_run(init, ninit);
    Worker *w = &G.w[0];
    for (int i = 0; i < ninit; i++)
        if (insert(w, init + (size_t)i * NW, GID_NONE) < 0) return ST_ERROR;
    start_level(w);
    G.t0 = now_s();
    G.pause_at = g_pause > 0 ? G.t0 + g_pause : 0;
    if (G.max_depth == 0) set_stop(ST_DEPTH, 0);
    else worker_main(w);
    return G.status;
}

/* distinct, transitions, depth, queue, err, nfound */
void itsrace_results(int64_t *out) {
    int64_t trans = 0, queue = 0;
    for (int i = 0; G.w && i < G.nw; i++) {
        Worker *w = &G.w[i];
        trans += w->cx.trans;
        if (G.thr) queue += (int64_t)(w->count - w->expanded);
        else queue += G.fp ? (int64_t)(w->ncur - w->pos + w->nnxt) : (int64_t)(w->alen - w->pos);
    }
    out[0] = G.w ? (int64_t)total_count() : 0;
    out[1] = trans; out[2] = G.depth; out[3] = queue; out[4] = G.err; out[5] = G.nfound;
}

void itsrace_progress(int64_t *out) {
    out[0] = G.w ? (int64_t)total_count() : 0;
    out[1] = G.depth;
}

void itsrace_coverage(int64_t *fired, int64_t *gained) {
    memset(fired, 0, NACT * sizeof *fired);
    memset(gained, 0, NACT * sizeof *gained);
    for (int i = 0; G.w && i < G.nw; i++)
        for (int k = 0; k < NACT; k++) { fired[k] += G.w[i].cx.fired[k]; gained[k] += G.w[i].cx.gained[k]; }
}

/* the i-th violation found: property, kind, action (or -1), depth; its state into state[NW] */
void itsrace_found(int i, int64_t *info, uint64_t *state) {
    int p = G.order[i];
    info[0] = p; info[1] = G.fkind[p]; info[2] = G.fk[p]; info[3] = G.fdepth[p];
    memcpy(state, G.fstate[p], NW * sizeof *state);
}

/* the path from an initial state to the i-th violation's state (exact mode), root first;
   returns its length (call with buf = NULL to learn it) */
static uint64_t parent_of(uint64_t g) {
    return G.thr ? *t_parent(g) : G.w[0].parent[g & ((UINT64_C(1) << ID_BITS) - 1)];
}
static const uint64_t *state_of(uint64_t g) {
    return G.thr ? t_state(g) : G.w[0].arena + (g & ((UINT64_C(1) << ID_BITS) - 1)) * NW;
}

int itsrace_path(int i, uint64_t *buf) {
    uint64_t gid = G.fgid[G.order[i]];
    int n = 0;
    for (uint64_t g = gid; g != GID_NONE; n++) g = parent_of(g);
    if (!buf) return n;
    int j = n;
    for (uint64_t g = gid; g != GID_NONE; g = parent_of(g))
        memcpy(buf + (size_t)(--j) * NW, state_of(g), NW * sizeof *buf);
    return n;
}

/* ---- checkpoints (one worker, exact mode): pause, export, load, continue ---------------------- */
void itsrace_set_pause(double seconds) { g_pause = seconds; G.pause_at = seconds > 0 ? now_s() + seconds : 0; }

/* after a pause (or any stop), run on from where the search stopped */
int itsrace_continue(double seconds_from_now) {
    if (!G.w || G.nw != 1 || G.fp) return ST_ERROR;
    G.stop = 0; G.status = ST_DONE; G.err = 0; G.leave = 0; G.done = 0; G.stop_request = 0;
    G.pause_at = seconds_from_now > 0 ? now_s() + seconds_from_now : 0;
    worker_main(&G.w[0]);
    return G.status;
}

/* info: states, first unexpanded index, end of the current level, depth, transitions */
void itsrace_export_info(int64_t *info) {
    Worker *w = &G.w[0];
    info[0] = (int64_t)w->alen; info[1] = (int64_t)w->pos; info[2] = (int64_t)w->lvl_hi;
    info[3] = G.depth; info[4] = w->cx.trans;
}

/* every state, in discovery order, and its parent's index (-1: an initial state) */
void itsrace_export(uint64_t *states, int64_t *parents) {
    Worker *w = &G.w[0];
    memcpy(states, w->arena, w->alen * NW * sizeof *states);
    for (size_t i = 0; i < w->alen; i++)
        parents[i] = w->parent[i] == GID_NONE ? -1 : (int64_t)(w->parent[i] & ((UINT64_C(1) << ID_BITS) - 1));
}

/* the i-th found violation's state index (for a checkpoint) */
int64_t itsrace_found_index(int i) {
    uint64_t g = G.fgid[G.order[i]];
    return g == GID_NONE ? -1 : (int64_t)(g & ((UINT64_C(1) << ID_BITS) - 1));
}

/* a search continued from a checkpoint: the states in arena order (the level being expanded
   is [pos, lvl_hi), the next one [lvl_hi, n)), parents as indices; then itsrace_continue.
   params as for itsrace_run (workers must be 1, exact mode). */
int itsrace_load(const uint64_t *states, const int64_t *parents, int64_t n, int64_t pos, int64_t lvl_hi,
                 int64_t depth, int64_t trans, const int64_t *fired, const int64_t *gained,
                 const int64_t *params, double max_seconds) {
    free_all();
    memset(&G, 0, sizeof G);
    G.max_states = params[0]; G.max_depth = params[1]; G.max_memory = params[2];
    G.nw = 1; G.fp = 0; G.stop_on_violation = (int)params[5]; G.chunk = params[6];
    G.max_seconds = max_seconds;
    pthread_mutex_init(&G.lock, NULL);
    if (posix_memalign((void **)&G.w, 64, sizeof *G.w)) { G.w = NULL; return ST_ERROR; }
    memset(G.w, 0, sizeof *G.w);
    Worker *w = &G.w[0];
    w->cx.w = w;
    for (int j = 0; j < NSUB; j++)
        if (sub_alloc(&w->sub[j], 256, sizeof(uint64_t))) return ST_ERROR;
    for (int64_t i = 0; i < n; i++)
        if (exact_insert(w, states + (size_t)i * NW, state_hash(states + (size_t)i * NW), GID_NONE) != 1) return ST_ERROR;
    for (int64_t i = 0; i < n; i++) w->parent[i] = parents[i] < 0 ? GID_NONE : GID(0, parents[i]);
    w->pos = (size_t)pos; w->lvl_hi = (size_t)lvl_hi;
    G.depth = depth;
    w->cx.trans = trans;
    memcpy(w->cx.fired, fired, NACT * sizeof *fired);
    memcpy(w->cx.gained, gained, NACT * sizeof *gained);
    G.t0 = now_s();
    return ST_DONE;
}

/* a violation found before the checkpoint */
void itsrace_add_found(int prop, int kind, int k, int64_t index, int64_t depth) {
    Worker *w = &G.w[0];
    G.found[prop] = 1;
    memcpy(G.fstate[prop], w->arena + (size_t)index * NW, NW * sizeof(uint64_t));
    G.fkind[prop] = kind; G.fk[prop] = k; G.fgid[prop] = GID(0, index); G.fdepth[prop] = depth;
    G.order[G.nfound++] = prop;
}
