/* ---- itsrace native runtime, part 2: visited sets, breadth-first driver, workers ----------
 *
 * States are NW 64-bit words. Each worker owns the states whose hash selects it (one worker:
 * all of them) and keeps them in NSUB open-addressing sub-tables, so growing a table never
 * needs twice the memory of the whole set. Exact mode keeps every state in an arena in
 * discovery order (which is breadth-first order, so the arena is also the queue) with its
 * parent's id; fingerprint mode keeps only keys (the state itself when it fits in 64 bits, else
 * a 64-bit hash) and the current and next BFS levels. Successors owned by another worker go to
 * an outbox and are inserted by their owner between levels (levels are barriers). */

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

typedef struct Sub { void *slot; size_t cap, n; } Sub;
typedef struct Box { uint64_t *data; size_t n, cap; } Box;  /* NW words, parent gid, action */
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
    Box out[MAXW];
    pthread_t th;
} Worker;

static struct {
    int nw, fp, stop_on_violation;
    int64_t chunk, max_states, max_depth, max_memory;
    double max_seconds, t0;
    volatile int stop_request, stop, status, err;
    int64_t depth;
    pthread_mutex_t lock;
    pthread_barrier_t bar;
    int nfound, order[NTARGETS + 1], found[NTARGETS + 1], fkind[NTARGETS + 1], fk[NTARGETS + 1];
    int64_t fdepth[NTARGETS + 1];
    uint64_t fstate[NTARGETS + 1][NW], fgid[NTARGETS + 1];
    Worker *w;
    int done;
    volatile int leave;
    double pause_at;   /* checkpoint due: stop at the next chunk, resumable (itsrace_continue) */
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

static inline int owner_of(uint64_t h) { return G.nw == 1 ? 0 : (int)(((h >> 24) & 0xff) % (uint64_t)G.nw); }
/* the partition: only the bits in g_pmask decide the owner (partition.py picks slots that
   transitions rarely change, so most successors stay with their parent's worker) */
static uint64_t g_pmask[NW];
static int g_use_pmask;

static inline int owner_of_state(const uint64_t *t) {
    if (G.nw == 1) return 0;
    if (!g_use_pmask) return owner_of(G.fp ? mix64(fp_key(t) ^ FP_SEED) : state_hash(t));
    uint64_t h = UINT64_C(0x243f6a8885a308d3);
    for (int i = 0; i < NW; i++) h = mix64(h ^ (t[i] & g_pmask[i]));
    return owner_of(h);
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
/* sampling (partition choice): successors collected here instead of visited */
static uint64_t g_succ[64 * NW];
static int g_nsucc, g_sampling;

static int visit(Ctx *cx, int k, const uint64_t *t) {
    Worker *w = cx->w;
    if (g_sampling) {
        if (g_nsucc < 64) memcpy(g_succ + (size_t)g_nsucc++ * NW, t, NW * sizeof *t);
        return 0;
    }
    int r;
    if (G.nw > 1) {
        int o = owner_of_state(t);
        if (o != w->id) return box_push(&w->out[o], t, cx->cur_gid, k) ? (cx->err = ERR_MEMORY, -1) : 0;
    }
    r = insert(w, t, cx->cur_gid);
    if (r < 0) { cx->err = ERR_MEMORY; return -1; }
    cx->gained[k] += r;
    return 0;
}

static int ev_record(Ctx *cx, int prop, int kind, const uint64_t *s, int k) {
    if (g_sampling) return 0;
    pthread_mutex_lock(&G.lock);
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
    for (int i = 0; i < G.nw; i++) n += G.w[i].count;
    return n;
}

static void check_limits(void) {
    if (G.stop_request) { set_stop(ST_INTERRUPTED, 0); return; }
    if (G.pause_at > 0 && now_s() >= G.pause_at) { set_stop(ST_PAUSED, 0); return; }
    if (G.max_states >= 0 && (int64_t)total_count() >= G.max_states) { set_stop(ST_STATES, 0); return; }
    if (G.max_seconds >= 0 && now_s() - G.t0 >= G.max_seconds) { set_stop(ST_TIME, 0); return; }
    if (G.max_memory >= 0 && rss_now() >= G.max_memory) set_stop(ST_MEMORY, 0);
}

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
            int r = expand_state(s, cx);
            if (r) {
                if (r < 0 || cx->err) set_stop(ST_ERROR, cx->err ? cx->err : ERR_MEMORY);
                else set_stop(ST_VIOLATION, 0);
                return;
            }
        }
        w->pos = end;
        if (w->id == 0) check_limits();
        if (G.stop) return;
    }
}

static void drain(Worker *w) {
    for (int o = 0; o < G.nw; o++) {
        if (o == w->id) continue;
        Box *b = &G.w[o].out[w->id];
        for (size_t i = 0; i < b->n; i++) {
            uint64_t *e = b->data + i * BOXW;
            int r = insert(w, e, e[NW]);
            if (r < 0) { set_stop(ST_ERROR, ERR_MEMORY); return; }
            w->cx.gained[e[NW + 1]] += r;
        }
        b->n = 0;
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
    } else {
        w->lvl_hi = w->alen;
    }
    w->pos = G.fp ? 0 : w->pos;
}

static void *worker_main(void *arg) {
    Worker *w = arg;
    for (;;) {
        expand_level(w);
        pthread_barrier_wait(&G.bar);
        if (!G.stop) drain(w);
        pthread_barrier_wait(&G.bar);
        if (w->id == 0) {
            if (!G.stop) {
                size_t next = 0;
                for (int i = 0; i < G.nw; i++) next += next_size(&G.w[i]);
                if (next == 0) G.done = 1;
                else {
                    G.depth++;
                    if (G.max_depth >= 0 && G.depth >= G.max_depth) set_stop(ST_DEPTH, 0);
                }
            }
            /* one decision for everyone: G.stop may change as soon as a fast worker moves on */
            G.leave = G.stop || G.done;
        }
        pthread_barrier_wait(&G.bar);
        if (G.leave) break;
        start_level(w);
    }
    return NULL;
}

static void free_all(void) {
    if (!G.w) return;
    for (int i = 0; i < G.nw; i++) {
        Worker *w = &G.w[i];
        for (int j = 0; j < NSUB; j++) free(w->sub[j].slot);
        for (int j = 0; j < MAXW; j++) free(w->out[j].data);
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
void itsrace_free(void) { free_all(); }
void itsrace_set_partition(const uint64_t *mask, int use) {
    g_use_pmask = use;
    for (int i = 0; i < NW; i++) g_pmask[i] = use ? mask[i] : 0;
}

/* params: max_states, max_depth, max_memory, workers, fingerprints, stop_on_violation, chunk
   (negative limits: none). Returns the status. */
int itsrace_run(const uint64_t *init, int ninit, const int64_t *params, double max_seconds) {
    free_all();
    int nw = (int)params[3];
    if (nw < 1 || nw > MAXW) return ST_ERROR;
    memset(&G, 0, sizeof G);
    G.max_states = params[0]; G.max_depth = params[1]; G.max_memory = params[2];
    G.nw = nw; G.fp = (int)params[4]; G.stop_on_violation = (int)params[5]; G.chunk = params[6];
    G.max_seconds = max_seconds;
    pthread_mutex_init(&G.lock, NULL);
    pthread_barrier_init(&G.bar, NULL, (unsigned)nw);
    G.w = calloc((size_t)nw, sizeof *G.w);
    if (!G.w) return ST_ERROR;
    for (int i = 0; i < nw; i++) {
        Worker *w = &G.w[i];
        w->id = i;
        w->cx.w = w;
        for (int j = 0; j < NSUB; j++)
            if (sub_alloc(&w->sub[j], 256, G.fp ? sizeof(fpk_t) : sizeof(uint64_t))) return ST_ERROR;
    }
    for (int i = 0; i < ninit; i++) {
        const uint64_t *s = init + (size_t)i * NW;
        Worker *w = &G.w[owner_of_state(s)];
        if (insert(w, s, GID_NONE) < 0) return ST_ERROR;
    }
    for (int i = 0; i < nw; i++) start_level(&G.w[i]);
    G.t0 = now_s();
    G.pause_at = g_pause > 0 ? G.t0 + g_pause : 0;
    if (G.max_depth == 0) set_stop(ST_DEPTH, 0);
    else if (nw == 1) worker_main(&G.w[0]);
    else {
        for (int i = 1; i < nw; i++) pthread_create(&G.w[i].th, NULL, worker_main, &G.w[i]);
        worker_main(&G.w[0]);
        for (int i = 1; i < nw; i++) pthread_join(G.w[i].th, NULL);
    }
    pthread_barrier_destroy(&G.bar);
    return G.status;
}

/* distinct, transitions, depth, queue, err, nfound */
void itsrace_results(int64_t *out) {
    int64_t trans = 0, queue = 0;
    for (int i = 0; G.w && i < G.nw; i++) {
        Worker *w = &G.w[i];
        trans += w->cx.trans;
        queue += G.fp ? (int64_t)(w->ncur - w->pos + w->nnxt) : (int64_t)(w->alen - w->pos);
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
int itsrace_path(int i, uint64_t *buf) {
    uint64_t gid = G.fgid[G.order[i]];
    int n = 0;
    for (uint64_t g = gid; g != GID_NONE; n++) {
        Worker *w = &G.w[g >> ID_BITS];
        g = w->parent[g & ((UINT64_C(1) << ID_BITS) - 1)];
    }
    if (!buf) return n;
    int j = n;
    for (uint64_t g = gid; g != GID_NONE;) {
        Worker *w = &G.w[g >> ID_BITS];
        uint64_t id = g & ((UINT64_C(1) << ID_BITS) - 1);
        memcpy(buf + (size_t)(--j) * NW, w->arena + id * NW, NW * sizeof *buf);
        g = w->parent[id];
    }
    return n;
}

/* Random walks for partition.py: up to max_states visited states (with their number of
   successors as weight) into states/weights, and per slot how many sampled transitions change
   it into changes[NSLOTS]; returns the number of states, and the transitions in *edges. */
int itsrace_sample(const uint64_t *init, int ninit, int max_states, int steps, uint64_t seed,
                   uint64_t *states, int64_t *weights, int64_t *changes, int64_t *edges) {
    Ctx *cx = calloc(1, sizeof *cx);
    if (!cx) return -1;
    uint64_t rnd = seed | 1;
    int n = 0;
    *edges = 0;
    memset(changes, 0, NSLOTS * sizeof *changes);
    g_sampling = 1;
    while (n < max_states) {
        uint64_t s[NW];
        rnd = mix64(rnd + UINT64_C(0x9e3779b97f4a7c15));
        /* restart from an initial state or, more often, from a state sampled earlier */
        if (n == 0 || rnd % 4 == 0) memcpy(s, init + (size_t)(rnd % (uint64_t)ninit) * NW, sizeof s);
        else memcpy(s, states + (size_t)((rnd >> 8) % (uint64_t)n) * NW, sizeof s);
        for (int step = 0; step < steps && n < max_states; step++) {
            g_nsucc = 0;
            cx->err = 0;
            expand_state(s, cx);
            memcpy(states + (size_t)n * NW, s, sizeof s);
            weights[n++] = g_nsucc;
            if (g_nsucc == 0 || cx->err) break;
            for (int j = 0; j < g_nsucc; j++) {
                const uint64_t *u = g_succ + (size_t)j * NW;
                for (int k = 0; k < NSLOTS; k++) {
                    int wd = slot_word[k];
                    uint64_t m = slot_mask[k];
                    if (((s[wd] ^ u[wd]) & m) || (slot_word2[k] >= 0 && ((s[wd + 1] ^ u[wd + 1]) & slot_mask2[k])))
                        changes[k]++;
                }
            }
            *edges += g_nsucc;
            rnd = mix64(rnd + UINT64_C(0x9e3779b97f4a7c15));
            memcpy(s, g_succ + (size_t)(rnd % (uint64_t)g_nsucc) * NW, sizeof s);
        }
    }
    g_sampling = 0;
    free(cx->memo.tab); free(cx->memo.pool); free(cx);
    return n;
}

/* ---- checkpoints (one worker, exact mode): pause, export, load, continue ---------------------- */
void itsrace_set_pause(double seconds) { g_pause = seconds; G.pause_at = seconds > 0 ? now_s() + seconds : 0; }

/* after a pause (or any stop), run on from where the search stopped */
int itsrace_continue(double seconds_from_now) {
    if (!G.w || G.nw != 1 || G.fp) return ST_ERROR;
    G.stop = 0; G.status = ST_DONE; G.err = 0; G.leave = 0; G.done = 0; G.stop_request = 0;
    G.pause_at = seconds_from_now > 0 ? now_s() + seconds_from_now : 0;
    pthread_barrier_init(&G.bar, NULL, 1);
    worker_main(&G.w[0]);
    pthread_barrier_destroy(&G.bar);
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
    G.w = calloc(1, sizeof *G.w);
    if (!G.w) return ST_ERROR;
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
