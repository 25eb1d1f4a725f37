/* lpi-toy (shared/bench/lpi-toy.md) in Promela, for running SPIN beside itsrace.
 *
 *   spin -a -DNC=3 -DNL=4 bench/lpi-toy.pml        (add -DBUG for the bug variant)
 *   gcc -O2 -DSAFETY -DNOREDUCE -DBFS -DMEMLIM=16384 -o pan pan.c && ./pan -m10000000
 *
 * One process whose do-loop has one d_step option per action instance, so every action is one
 * atomic transition and the process's pc is the same in every stored state: SPIN's "states
 * stored" is the model's distinct-state count (3x3: 273,176; 3x4: 4,768,904). The invariant is
 * asserted at the end of every action (the initial state satisfies it). NC and NL: 1..4. */

#ifndef NC
#define NC 3
#endif
#ifndef NL
#define NL 4
#endif
#define NONE NL       /* lr[c] holds no LPI */
#define UNMAPPED NC   /* target[l] is no vCPU */

bit  pend[NL];
byte target[NL] = UNMAPPED;
byte lr[NC] = NONE;
byte lrst[NC];
bit  running[NC];

#if NC == 1
#define EACH_C(M, x) M(x,0)
#define EACH_C2(M, x) M(x,0)  /* cpp does not expand EACH_C inside EACH_C */
#define NO_DOUBLE (1)
#elif NC == 2
#define EACH_C(M, x) M(x,0) M(x,1)
#define EACH_C2(M, x) M(x,0) M(x,1)  /* cpp does not expand EACH_C inside EACH_C */
#define NO_DOUBLE (lr[0] == NONE || lr[0] != lr[1])
#elif NC == 3
#define EACH_C(M, x) M(x,0) M(x,1) M(x,2)
#define EACH_C2(M, x) M(x,0) M(x,1) M(x,2)  /* cpp does not expand EACH_C inside EACH_C */
#define NO_DOUBLE ((lr[0] == NONE || (lr[0] != lr[1] && lr[0] != lr[2])) && (lr[1] == NONE || lr[1] != lr[2]))
#elif NC == 4
#define EACH_C(M, x) M(x,0) M(x,1) M(x,2) M(x,3)
#define EACH_C2(M, x) M(x,0) M(x,1) M(x,2) M(x,3)  /* cpp does not expand EACH_C inside EACH_C */
#define NO_DOUBLE ((lr[0] == NONE || (lr[0] != lr[1] && lr[0] != lr[2] && lr[0] != lr[3])) && \
                   (lr[1] == NONE || (lr[1] != lr[2] && lr[1] != lr[3])) && (lr[2] == NONE || lr[2] != lr[3]))
#endif

#if NL == 1
#define EACH_L(M, x) M(0,x)
#elif NL == 2
#define EACH_L(M, x) M(0,x) M(1,x)
#elif NL == 3
#define EACH_L(M, x) M(0,x) M(1,x) M(2,x)
#elif NL == 4
#define EACH_L(M, x) M(0,x) M(1,x) M(2,x) M(3,x)
#endif

#define CHECK assert(NO_DOUBLE)

/* no vCPU holds LPI l in its LR */
#define NOT_HELD_TERM(l, c) && lr[c] != l
#define NOT_HELD(l) (1 EACH_C2(NOT_HELD_TERM, l))
#ifdef BUG
#define INJECT_EXTRA(l) 1
#else
#define INJECT_EXTRA(l) NOT_HELD(l)
#endif

#define ARRIVE(l, _) :: d_step { (target[l] != UNMAPPED && pend[l] == 0) -> pend[l] = 1; CHECK }
#define MAP(l, c)    :: d_step { (target[l] == UNMAPPED) -> target[l] = c; CHECK }
#define MOVI(l, c)   :: d_step { (target[l] != UNMAPPED && target[l] != c) -> target[l] = c; CHECK }
#define INJECT(l, c) :: d_step { (!running[c] && lr[c] == NONE && pend[l] == 1 && target[l] == c && INJECT_EXTRA(l)) -> \
                                 lr[c] = l; lrst[c] = 1; pend[l] = 0; CHECK }
#define MAP_ALL_C(l, _)    EACH_C(MAP, l)
#define MOVI_ALL_C(l, _)   EACH_C(MOVI, l)
#define INJECT_ALL_C(l, _) EACH_C(INJECT, l)
#define ENTER(_, c) :: d_step { (!running[c]) -> running[c] = 1; CHECK }
#define EXIT(_, c)  :: d_step { (running[c]) -> running[c] = 0; CHECK }
#define ACK(_, c)   :: d_step { (running[c] && lrst[c] == 1) -> lrst[c] = 2; CHECK }
#define EOI(_, c)   :: d_step { (running[c] && lrst[c] == 2) -> lrst[c] = 0; lr[c] = NONE; CHECK }

active proctype lpi_toy() {
    do
    EACH_L(ARRIVE, 0)
    EACH_L(MAP_ALL_C, 0)
    EACH_L(MOVI_ALL_C, 0)
    EACH_L(INJECT_ALL_C, 0)
    EACH_C(ENTER, 0)
    EACH_C(EXIT, 0)
    EACH_C(ACK, 0)
    EACH_C(EOI, 0)
    od
}
