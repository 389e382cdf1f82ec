// walljump: an LD_PRELOAD shim that steps the wall clock of one process the way a real clock step does.
//
// Only the CLOCK_REALTIME family is offset (clock_gettime with CLOCK_REALTIME, CLOCK_REALTIME_COARSE or CLOCK_TAI,
// gettimeofday, time); CLOCK_MONOTONIC and CLOCK_BOOTTIME, and every timer armed on them, are left alone. That is
// what a step by settimeofday or NTP does, and it is why the fault tests use this instead of libfaketime:
// libfaketime 0.9.10 also shifts absolute timerfd and clock_nanosleep deadlines on monotonic clocks when its
// offset changes at run time, so libdispatch's timers (Swift's Task.sleep) spin or stall for an hour, which a
// real clock step never causes.
//
// The offset, in whole seconds with an optional sign ("+3600", "-31536000", "0"), is read from the file named by
// WALLJUMP_FILE, at most every 50 ms of monotonic time. Built by FaultTests with the toolchain's clang.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static _Atomic long long offset_seconds;
static _Atomic long long next_read_ns;

static void resolve(void) {
    if (!real_clock_gettime) real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static long long current_offset(void) {
    resolve();
    struct timespec mono;
    if (real_clock_gettime(CLOCK_MONOTONIC_COARSE, &mono) != 0) return atomic_load(&offset_seconds);
    long long now = (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec;
    long long due = atomic_load(&next_read_ns);
    if (now >= due && atomic_compare_exchange_strong(&next_read_ns, &due, now + 50000000LL)) {
        const char *path = getenv("WALLJUMP_FILE");
        FILE *f = path ? fopen(path, "re") : NULL;
        if (f) {
            long long value;
            if (fscanf(f, "%lld", &value) == 1) atomic_store(&offset_seconds, value);
            fclose(f);
        }
    }
    return atomic_load(&offset_seconds);
}

static int is_wall(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    resolve();
    int result = real_clock_gettime(clock, ts);
    if (result == 0 && is_wall(clock)) ts->tv_sec += current_offset();
    return result;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
