/* container_floor LOWER_DIR [RUNS]: what the kernel alone charges for the container a RUN step
 * or `run --rm` makes, on this machine. As root.
 *
 * Issue 13's W2 (per RUN step) and W5 (`run --rm busybox true`) goals are ratios to peers;
 * this says how much of imgbuild's time is the kernel's, whatever the runtime does: each
 * variant below does only the system calls of one part of a container start, with no store,
 * no config, no seccomp, no cgroup, and times it from the clone to the reap of `/bin/true`
 * (LOWER_DIR/bin/true, LOWER_DIR an unpacked busybox layer: a store's layers/<id>/diff).
 *
 *   fork-exec     fork + exec of the program, no namespace: the process floor
 *   namespaces    clone with new mount, pid, uts, ipc and cgroup namespaces (imgbuild's RUN)
 *   +net          the same and a new network namespace (`run --rm`, RUN --network=none)
 *   +overlay      namespaces, an overlay of LOWER_DIR with a fresh upper/work dir, /proc,
 *                 pivot_root and the old root detached
 *   +mounts       +overlay and the rest of the runtime's mounts (/dev tmpfs, /dev/pts,
 *                 /dev/shm, /dev/mqueue, /sys): the container a RUN step gets, less devices
 *   +mounts+net   the same in a new network namespace: what `run --rm` gets
 *
 * The upper and work dirs are made before the clock starts and removed after it stops, as
 * imgbuild removes a container's dir after reporting its exit. Prints the median and the
 * minimum of each, in milliseconds. Build: cc -O2 -o container_floor container_floor.c */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PLAIN = 0, NAMESPACES = 1, NET = 2, OVERLAY = 4, MOUNTS = 8 };

static const char* lower;
static char scratch[] = "/tmp/container-floor-XXXXXX";
static char upper[256], work[256], merged[256];

static void die(const char* what) {
    perror(what);
    _exit(111);
}

static void run_mount(const char* src, const char* dst, const char* type, unsigned long flags, const char* data) {
    char path[512];
    snprintf(path, sizeof path, "%s%s", merged, dst);
    mkdir(path, 0755); /* busybox's layer may lack it; an error here shows at mount */
    if (mount(src, path, type, flags, data) != 0) die(dst);
}

/* The child: the container's set-up, then exec. */
static int child(int variant) {
    if (variant & OVERLAY) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
        char opts[1024];
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (mount("overlay", merged, "overlay", 0, opts) != 0) die("overlay");
        run_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        if (variant & MOUNTS) {
            run_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
            run_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
            run_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
            run_mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
            if (variant & NET) run_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
        }
        if (chdir(merged) != 0) die("chdir");
        if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
        if (umount2(".", MNT_DETACH) != 0) die("detach the old root");
        if (chdir("/") != 0) die("chdir /");
        char* argv[] = {"/bin/true", NULL};
        execv("/bin/true", argv);
        die("exec /bin/true");
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bin/true", lower);
    char* argv[] = {path, NULL};
    execv(path, argv);
    die("exec");
    return 111;
}

static char stack[1 << 16];
static int child_entry(void* arg) { return child((int)(long)arg); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void fresh_dirs(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s/upper %s/work && mkdir %s/upper %s/work", scratch, scratch, scratch, scratch);
    if (system(cmd) != 0) die("make upper/work");
}

static double one_run(int variant) {
    if (variant & OVERLAY) fresh_dirs();
    int flags = SIGCHLD;
    if (variant & NAMESPACES) flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    if (variant & NET) flags |= CLONE_NEWNET;
    double t0 = now();
    pid_t pid = clone(child_entry, stack + sizeof stack, flags, (void*)(long)variant);
    if (pid < 0) die("clone");
    int status;
    if (waitpid(pid, &status, 0) != pid) die("waitpid");
    double ms = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the container exited with status %d\n", status);
        exit(1);
    }
    return ms;
}

static int by_value(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: container_floor LOWER_DIR [RUNS]\n");
        return 2;
    }
    lower = argv[1];
    int runs = argc > 2 ? atoi(argv[2]) : 200;
    if (runs < 1 || runs > 100000) runs = 200;
    if (!mkdtemp(scratch)) die("mkdtemp");
    snprintf(upper, sizeof upper, "%s/upper", scratch);
    snprintf(work, sizeof work, "%s/work", scratch);
    snprintf(merged, sizeof merged, "%s/merged", scratch);
    if (mkdir(merged, 0755) != 0) die("mkdir merged");
    static const struct {
        const char* name;
        int variant;
    } variants[] = {
        {"fork-exec", PLAIN},
        {"namespaces", NAMESPACES},
        {"+net", NAMESPACES | NET},
        {"+overlay", NAMESPACES | OVERLAY},
        {"+mounts", NAMESPACES | OVERLAY | MOUNTS},
        {"+mounts+net", NAMESPACES | OVERLAY | MOUNTS | NET},
    };
    double* ms = calloc((size_t)runs, sizeof *ms);
    printf("%-12s %9s %9s   (ms, %d runs each)\n", "variant", "median", "min", runs);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
        one_run(variants[v].variant); /* warm the caches */
        for (int i = 0; i < runs; ++i) ms[i] = one_run(variants[v].variant);
        qsort(ms, (size_t)runs, sizeof *ms, by_value);
        printf("%-12s %9.3f %9.3f\n", variants[v].name, ms[runs / 2], ms[0]);
        fflush(stdout);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    return system(cmd) == 0 ? 0 : 1;
}
