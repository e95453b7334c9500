/*
 * afb-spawn native launcher.
 *
 * The parent (a Python thread, GIL released by cffi) clones a child that shares its
 * memory (CLONE_VM) on a stack of its own, so the cost does not grow with the binder's
 * size. The child runs only the C below: raw system calls (glibc's set*id wrappers
 * would signal every thread of the parent, and its errno lives in the parent's TLS),
 * no allocation, every string prepared by the parent. Each step fails loudly: the
 * child writes (step, index, errno) to a close-on-exec pipe and exits; EOF on that
 * pipe means execve succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
struct mount_attr {
    unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define CHILD_STACK_SIZE (256 * 1024)
#define ERRPIPE_FD_MIN 3

/* ---- raw system calls: no errno, no TLS, returns -errno on failure ---- */

#if defined(__x86_64__)
static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
#else
#error "afb-spawn launcher: raw system calls are written for x86_64 and aarch64 only"
#endif

#define RAW(n, ...) raw_call(n, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define raw_call(n, a, b, c, d, e, f, ...) \
    raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* ---- the child ---- */

struct child_ctx {
    const struct afbs_plan *plan;
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdin_fd, stdout_fd, stderr_fd, cgroup_fd;
    int errpipe;   /* write end, close-on-exec */
    int syncpipe;  /* read end: the parent wrote the id maps, or -1 */
    int syncpipe_write;  /* the parent's end, copied into our fd table by clone */
    int parent_pid;
};

struct child_report {
    int step;
    int index;
    int error;
};

static __attribute__((noreturn)) void child_fail(const struct child_ctx *c, int step, int index,
                                                 long ret)
{
    struct child_report r = {step, index, ret < 0 ? (int)-ret : EIO};
    RAW(SYS_write, c->errpipe, &r, sizeof r);
    RAW(SYS_exit_group, 127);
    __builtin_unreachable();
}

/* One step: a negative return is an error reported with the step and index. */
#define STEP(step, index, call)                     \
    do {                                            \
        long ret_ = (call);                         \
        if (ret_ < 0)                               \
            child_fail(c, (step), (index), ret_);   \
    } while (0)

static long move_fd_above_stdio(int fd)
{
    return fd > 2 ? fd : RAW(SYS_fcntl, fd, F_DUPFD_CLOEXEC, ERRPIPE_FD_MIN);
}

static long reset_signals(void)
{
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } act = {0};
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        RAW(SYS_rt_sigaction, sig, &act, 0, 8);
    }
    return 0;
}

static long check_parent(const struct child_ctx *c)
{
    long ppid = RAW(SYS_getppid, 0);
    /* in a new pid namespace the parent lives outside it and getppid() is 0 */
    int expected = (c->plan->clone_flags & CLONE_NEWPID) ? 0 : c->parent_pid;
    return ppid == expected ? 0 : -ESRCH;
}

static long join_cgroup(const struct child_ctx *c)
{
    if (c->cgroup_fd < 0)
        return 0;
    long fd = RAW(SYS_openat, c->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    long ret = RAW(SYS_write, fd, "0", 1);
    RAW(SYS_close, fd);
    return ret;
}

static long wait_for_maps(const struct child_ctx *c)
{
    if (c->syncpipe < 0)
        return 0;
    RAW(SYS_close, c->syncpipe_write);  /* or a parent that fails would never give us EOF */
    char ok = 0;
    long ret;
    do
        ret = RAW(SYS_read, c->syncpipe, &ok, 1);
    while (ret == -EINTR);
    RAW(SYS_close, c->syncpipe);
    return ret == 1 && ok == 'm' ? 0 : -ECHILD;
}

static long make_root_private(const struct child_ctx *c)
{
    if (!c->plan->make_private)
        return 0;
    return RAW(SYS_mount, "none", "/", 0, MS_REC | MS_PRIVATE, 0);
}

static long mount_staging_root(const struct child_ctx *c)
{
    return RAW(SYS_mount, "tmpfs", c->plan->root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
}

static long write_all(int fd, const char *data, unsigned long len)
{
    while (len) {
        long n = RAW(SYS_write, fd, data, len);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return n;
        data += n;
        len -= (unsigned long)n;
    }
    return 0;
}

static long apply_op(const struct afbs_op *op)
{
    long ret, fd;
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    switch (op->kind) {
    case AFBS_OP_MKDIR:
        ret = RAW(SYS_mkdirat, AT_FDCWD, op->path, op->flags);
        return ret == -EEXIST ? 0 : ret;
    case AFBS_OP_MKFILE:
        fd = RAW(SYS_openat, AT_FDCWD, op->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
        return fd < 0 ? fd : RAW(SYS_close, fd);
    case AFBS_OP_BIND:
        return RAW(SYS_mount, op->arg, op->path, 0, MS_BIND | MS_REC, 0);
    case AFBS_OP_READONLY:
        /* mount_setattr keeps the flags a user namespace locks (nosuid, nodev) and recurses */
        return RAW(SYS_mount_setattr, AT_FDCWD, op->path, AT_RECURSIVE, &ro, sizeof ro);
    case AFBS_OP_TMPFS:
        return RAW(SYS_mount, "tmpfs", op->path, "tmpfs", MS_NOSUID | MS_NODEV, op->arg);
    case AFBS_OP_PROC:
        return RAW(SYS_mount, "proc", op->path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
    case AFBS_OP_MQUEUE:
        return RAW(SYS_mount, "mqueue", op->path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
    case AFBS_OP_SYMLINK:
        return RAW(SYS_symlinkat, op->arg, AT_FDCWD, op->path);
    case AFBS_OP_WRITEFILE:
        fd = RAW(SYS_openat, AT_FDCWD, op->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, op->flags);
        if (fd < 0)
            return fd;
        ret = write_all((int)fd, op->data, op->len);
        RAW(SYS_close, fd);
        return ret;
    }
    return -EINVAL;
}

static long pivot_into_root(const struct child_ctx *c)
{
    long ret = RAW(SYS_chdir, c->plan->root);
    if (ret == 0)
        ret = RAW(SYS_pivot_root, ".", ".");  /* the old root ends up stacked under "." */
    if (ret == 0)
        ret = RAW(SYS_umount2, ".", MNT_DETACH);
    if (ret == 0)
        ret = RAW(SYS_chdir, "/");
    return ret;
}

static long set_hostname(const struct child_ctx *c)
{
    const char *h = c->plan->hostname;
    return h ? RAW(SYS_sethostname, h, strlen(h)) : 0;
}

static long loopback_up(const struct child_ctx *c)
{
    if (!c->plan->loopback)
        return 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    long sock = RAW(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return sock;
    long ret = RAW(SYS_ioctl, sock, SIOCGIFFLAGS, &ifr);
    if (ret == 0) {
        ifr.ifr_flags |= IFF_UP;
        ret = RAW(SYS_ioctl, sock, SIOCSIFFLAGS, &ifr);
    }
    RAW(SYS_close, sock);
    return ret;
}

static long drop_bounding(const struct child_ctx *c)
{
    for (int cap = 0; cap <= c->plan->last_cap; cap++) {
        if (c->plan->bounding_keep & (1ULL << cap))
            continue;
        long ret = RAW(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static long check_ids(const struct child_ctx *c)
{
    unsigned int r, e, s, gr, ge, gs;
    long ret = RAW(SYS_getresuid, &r, &e, &s);
    if (ret == 0)
        ret = RAW(SYS_getresgid, &gr, &ge, &gs);
    if (ret < 0)
        return ret;
    unsigned int u = c->plan->uid, g = c->plan->gid;
    return (r == u && e == u && s == u && gr == g && ge == g && gs == g) ? 0 : -EPERM;
}

static long set_caps(const struct child_ctx *c)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    long ret = RAW(SYS_capget, &hdr, data);
    if (ret < 0)
        return ret;
    unsigned long long keep = c->plan->caps_keep;
    for (int i = 0; i < 2; i++) {
        unsigned int k = (unsigned int)(keep >> (32 * i));
        data[i].permitted &= k;
        data[i].effective = data[i].permitted;
        data[i].inheritable = data[i].permitted;
    }
    return RAW(SYS_capset, &hdr, data);
}

static long set_ambient(const struct child_ctx *c)
{
    long ret = RAW(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (int cap = 0; ret == 0 && cap <= c->plan->last_cap; cap++)
        if (c->plan->ambient & (1ULL << cap))
            ret = RAW(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    return ret;
}

static long dup_onto(int from, int to)
{
    if (from == to)  /* already in place: only clear close-on-exec */
        return RAW(SYS_fcntl, to, F_SETFD, 0);
    return RAW(SYS_dup3, from, to, 0);
}

static long setup_stdio(const struct child_ctx *c)
{
    /* move the sources above 2 first so that dup3 onto 0-2 cannot clobber one of them */
    long in = move_fd_above_stdio(c->stdin_fd), out, err;
    if (in < 0)
        return in;
    out = move_fd_above_stdio(c->stdout_fd);
    if (out < 0)
        return out;
    err = move_fd_above_stdio(c->stderr_fd);
    if (err < 0)
        return err;
    long ret = dup_onto((int)in, 0);
    if (ret >= 0)
        ret = dup_onto((int)out, 1);
    if (ret >= 0)
        ret = dup_onto((int)err, 2);
    return ret < 0 ? ret : 0;
}

static long close_other_fds(const struct child_ctx *c)
{
    /* the error pipe was moved to the lowest fd above stdio; it closes itself at exec */
    return RAW(SYS_close_range, c->errpipe + 1, ~0U, 0);
}

static long unblock_signals(void)
{
    unsigned long none = 0;
    return RAW(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
}

static long load_seccomp(const struct child_ctx *c)
{
    if (!c->plan->seccomp)
        return 0;
    struct sock_fprog prog = {
        .len = (unsigned short)(c->plan->seccomp_len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)c->plan->seccomp,
    };
    return RAW(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static long place_errpipe(struct child_ctx *c)
{
    long fd = RAW(SYS_fcntl, c->errpipe, F_DUPFD_CLOEXEC, ERRPIPE_FD_MIN);
    if (fd < 0)
        return fd;
    if (fd != ERRPIPE_FD_MIN) {  /* make it exactly fd 3 so that close_range(4, ~0) keeps it */
        long ret = RAW(SYS_dup3, fd, ERRPIPE_FD_MIN, O_CLOEXEC);
        if (ret < 0)
            return ret;
        fd = ERRPIPE_FD_MIN;
    }
    c->errpipe = (int)fd;
    return 0;
}

/* The whole containment, one line per step, in launch order. */
static int child_main(void *arg)
{
    struct child_ctx ctx = *(struct child_ctx *)arg, *c = &ctx;
    const struct afbs_plan *p = c->plan;

    /* the stdio fds may be anything, even 0-2: keep the report channel out of their way */
    long errpipe = RAW(SYS_fcntl, c->errpipe, F_DUPFD_CLOEXEC, 10);
    STEP(AFBS_STEP_ERRPIPE, 0, errpipe);
    c->errpipe = (int)errpipe;
    STEP(AFBS_STEP_SIGNALS, 0, reset_signals());
    STEP(AFBS_STEP_PDEATHSIG, 0, RAW(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    STEP(AFBS_STEP_PARENT, 0, check_parent(c));
    STEP(AFBS_STEP_SESSION, 0, RAW(SYS_setsid, 0));
    /* before the namespaces: a new cgroup namespace must be rooted at the task's leaf */
    STEP(AFBS_STEP_CGROUP, 0, join_cgroup(c));
    STEP(AFBS_STEP_USERNS, 0, wait_for_maps(c));
    STEP(AFBS_STEP_MOUNT_PRIVATE, 0, make_root_private(c));
    if (p->root) {
        STEP(AFBS_STEP_MOUNT, -1, mount_staging_root(c));
        for (int i = 0; i < p->nops; i++)
            STEP(AFBS_STEP_MOUNT, i, apply_op(&p->ops[i]));
        STEP(AFBS_STEP_PIVOT, 0, pivot_into_root(c));
    }
    STEP(AFBS_STEP_HOSTNAME, 0, set_hostname(c));
    STEP(AFBS_STEP_LOOPBACK, 0, loopback_up(c));
    if (p->unshare_cgroup)
        STEP(AFBS_STEP_CGROUPNS, 0, RAW(SYS_unshare, CLONE_NEWCGROUP));
    /* before the identity change: dropping from the bounding set needs CAP_SETPCAP */
    if (p->drop_bounding)
        STEP(AFBS_STEP_BOUNDING, 0, drop_bounding(c));
    if (p->change_ids) {
        if (p->keepcaps)  /* configured capabilities survive the change to a non-root uid */
            STEP(AFBS_STEP_KEEPCAPS, 0, RAW(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0));
        STEP(AFBS_STEP_GROUPS, 0, RAW(SYS_setgroups, 0, 0));
        STEP(AFBS_STEP_GID, 0, RAW(SYS_setresgid, p->gid, p->gid, p->gid));
        STEP(AFBS_STEP_UID, 0, RAW(SYS_setresuid, p->uid, p->uid, p->uid));
        STEP(AFBS_STEP_IDCHECK, 0, check_ids(c));
        /* the kernel clears the parent-death signal when credentials change */
        STEP(AFBS_STEP_PDEATHSIG_AGAIN, 0, RAW(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
        STEP(AFBS_STEP_PARENT, 0, check_parent(c));
    }
    if (p->umask >= 0)
        RAW(SYS_umask, p->umask);  /* cannot fail */
    if (p->chdir)
        STEP(AFBS_STEP_CHDIR, 0, RAW(SYS_chdir, p->chdir));
    /* the environment is envp, prepared by the parent from the configuration only */
    for (int i = 0; i < p->nrlimits; i++) {
        struct { unsigned long long cur, max; } rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        STEP(AFBS_STEP_RLIMIT, i, RAW(SYS_prlimit64, 0, p->rlimits[i].resource, &rl, 0));
    }
    if (p->set_caps) {
        STEP(AFBS_STEP_CAPS, 0, set_caps(c));
        STEP(AFBS_STEP_AMBIENT, 0, set_ambient(c));
    }
    if (p->no_new_privs)
        STEP(AFBS_STEP_NO_NEW_PRIVS, 0, RAW(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    /* no PR_SET_DUMPABLE: it belongs to the memory we share with the binder, and execve
     * resets it anyway (the C binding's `locked` dumpable flag never reached the task) */
    STEP(AFBS_STEP_STDIO, 0, setup_stdio(c));
    STEP(AFBS_STEP_CLOSE_FDS, 0, place_errpipe(c));
    STEP(AFBS_STEP_CLOSE_FDS, 0, close_other_fds(c));
    STEP(AFBS_STEP_SIGMASK, 0, unblock_signals());
    /* last: the filter may forbid anything used above */
    STEP(AFBS_STEP_SECCOMP, 0, load_seccomp(c));
    STEP(AFBS_STEP_EXEC, 0, RAW(SYS_execve, c->path, c->argv, c->envp));
    return 127;
}

/* ---- the parent ---- */

static int write_proc_file(int pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? errno : 0;
    close(fd);
    return n < 0 ? -err : 0;
}

static int write_maps(const struct afbs_plan *plan, int pid)
{
    int ret = 0;
    if (plan->deny_setgroups)
        ret = write_proc_file(pid, "setgroups", "deny");
    if (ret == 0)
        ret = write_proc_file(pid, "uid_map", plan->uid_map);
    if (ret == 0)
        ret = write_proc_file(pid, "gid_map", plan->gid_map);
    return ret;
}

/* Waits for EOF (execve done) or a report on the error pipe. */
static void read_report(int fd, struct afbs_result *result)
{
    struct child_report r;
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(fd, (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == sizeof r) {
        result->step = r.step;
        result->index = r.index;
        result->error = r.error;
    }
}

static void fail(struct afbs_result *result, int step, int error)
{
    result->step = step;
    result->index = 0;
    result->error = error;
}

int afbs_launch(const struct afbs_plan *plan, const char *path, char *const argv[],
                char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd,
                int cgroup_fd, struct afbs_result *result)
{
    int errpipe[2], syncpipe[2] = {-1, -1};
    memset(result, 0, sizeof *result);
    result->pid = result->pidfd = -1;
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        return fail(result, AFBS_STEP_CLONE, errno), -1;
    if (plan->parent_writes_maps && pipe2(syncpipe, O_CLOEXEC) < 0) {
        fail(result, AFBS_STEP_CLONE, errno);
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        fail(result, AFBS_STEP_CLONE, errno);
        goto out;
    }
    struct child_ctx ctx = {plan, path, argv, envp, stdin_fd, stdout_fd, stderr_fd, cgroup_fd,
                            errpipe[1], syncpipe[0], syncpipe[1], (int)getpid()};
    /* without the user namespace, CLONE_VFORK suspends us until execve; with it, we must
     * stay runnable to write the id maps, then wait for the pipe's EOF (same guarantee) */
    int flags = CLONE_VM | CLONE_PIDFD | SIGCHLD | (int)plan->clone_flags;
    if (!plan->parent_writes_maps)
        flags |= CLONE_VFORK;
    /* handlers of the binder (Python's) must never run on the child's shared memory */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int pidfd = -1;
    int pid = clone(child_main, stack + CHILD_STACK_SIZE, flags, &ctx, &pidfd);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        fail(result, AFBS_STEP_CLONE, clone_errno);
        munmap(stack, CHILD_STACK_SIZE);
        goto out;
    }
    result->pid = pid;
    result->pidfd = pidfd;
    close(errpipe[1]);
    errpipe[1] = -1;
    if (plan->parent_writes_maps) {
        close(syncpipe[0]);
        syncpipe[0] = -1;
        int ret = write_maps(plan, pid);
        if (ret == 0 && write(syncpipe[1], "m", 1) != 1)
            ret = -errno;
        close(syncpipe[1]);  /* on failure, EOF makes the child report its wait step */
        syncpipe[1] = -1;
        if (ret < 0)
            fail(result, AFBS_STEP_MAPS, -ret);
    }
    struct afbs_result report = *result;
    read_report(errpipe[0], &report);
    if (result->step == AFBS_STEP_NONE)
        *result = report;
    munmap(stack, CHILD_STACK_SIZE);  /* the child left this memory at execve or exit */
    if (result->step != AFBS_STEP_NONE) {
        siginfo_t info;
        waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED);  /* a failed launch leaves no zombie */
        close(pidfd);
        result->pid = result->pidfd = -1;
    }
out:
    close(errpipe[0]);
    if (errpipe[1] >= 0)
        close(errpipe[1]);
    if (syncpipe[0] >= 0)
        close(syncpipe[0]);
    if (syncpipe[1] >= 0)
        close(syncpipe[1]);
    return result->step == AFBS_STEP_NONE ? 0 : -1;
}
