/* spawn_timed CMD...: runs CMD and writes "wall_s cpu_s maxrss_kib rc" to fd 3.
 *
 * bench/measure.py's timer. It is a small static program so that what it measures is the
 * command and not the harness: the clock starts just before vfork and stops when wait4 returns,
 * so python's fork, this program's own exec and /usr/bin/time's start are outside the timed
 * span (through python + /usr/bin/time they were a floor of several milliseconds, as much as
 * a whole cached build). vfork from a process this small also keeps the peak RSS the
 * command's own: the kernel folds the pre-exec address space into the child's max RSS, which
 * here is ~100 KiB, not python's ~10 MiB. CPU and max RSS are wait4's, as /usr/bin/time -v. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timespec* t) { return (double)t->tv_sec + (double)t->tv_nsec / 1e9; }

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: spawn_timed CMD...\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = vfork();
    if (pid < 0) {
        perror("spawn_timed: vfork");
        return 2;
    }
    if (pid == 0) {
        close(3);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("spawn_timed: wait4");
            return 2;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    dprintf(3, "%.6f %.6f %ld %d\n", seconds(&t1) - seconds(&t0), cpu, ru.ru_maxrss, rc);
    return 0;
}
