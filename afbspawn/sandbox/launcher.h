/*
 * afb-spawn native launcher: the plan handed from Python (prepared once per sandbox)
 * and the single entry point. This header is also the cffi cdef, so it holds only
 * declarations cffi understands (no macros with expressions, no includes).
 */

/* What the child does, in launch order; the parent turns (step, index, errno) into text. */
enum afbs_step {
    AFBS_STEP_NONE = 0,
    AFBS_STEP_ERRPIPE,
    AFBS_STEP_SIGNALS,
    AFBS_STEP_PDEATHSIG,
    AFBS_STEP_PARENT,
    AFBS_STEP_SESSION,
    AFBS_STEP_CGROUP,
    AFBS_STEP_USERNS,
    AFBS_STEP_MOUNT_PRIVATE,
    AFBS_STEP_MOUNT,
    AFBS_STEP_PIVOT,
    AFBS_STEP_HOSTNAME,
    AFBS_STEP_LOOPBACK,
    AFBS_STEP_CGROUPNS,
    AFBS_STEP_BOUNDING,
    AFBS_STEP_KEEPCAPS,
    AFBS_STEP_GROUPS,
    AFBS_STEP_GID,
    AFBS_STEP_UID,
    AFBS_STEP_IDCHECK,
    AFBS_STEP_PDEATHSIG_AGAIN,
    AFBS_STEP_UMASK,
    AFBS_STEP_CHDIR,
    AFBS_STEP_RLIMIT,
    AFBS_STEP_CAPS,
    AFBS_STEP_AMBIENT,
    AFBS_STEP_NO_NEW_PRIVS,
    AFBS_STEP_STDIO,
    AFBS_STEP_CLOSE_FDS,
    AFBS_STEP_SIGMASK,
    AFBS_STEP_SECCOMP,
    AFBS_STEP_EXEC,
    AFBS_STEP_CLONE,
    AFBS_STEP_MAPS
};

/* One primitive filesystem operation inside the new root (mounts are compiled into these). */
enum afbs_op_kind {
    AFBS_OP_MKDIR = 1,   /* path, mode in flags; an existing directory is fine */
    AFBS_OP_MKFILE,      /* path: empty file to bind a file or a device onto */
    AFBS_OP_BIND,        /* arg (host path) onto path, recursive */
    AFBS_OP_READONLY,    /* path and every mount below it read-only */
    AFBS_OP_TMPFS,       /* path; arg = mount data */
    AFBS_OP_PROC,
    AFBS_OP_MQUEUE,
    AFBS_OP_SYMLINK,     /* path -> arg */
    AFBS_OP_WRITEFILE    /* path with data/len, mode in flags */
};

struct afbs_op {
    int kind;
    const char *path;
    const char *arg;
    const char *data;
    unsigned long len;
    unsigned long flags;
};

struct afbs_rlimit {
    int resource;
    unsigned long long soft;
    unsigned long long hard;
};

struct afbs_plan {
    unsigned long clone_flags;     /* CLONE_NEW* created by the clone itself */
    int parent_writes_maps;        /* user namespace: the parent writes the maps, the child waits */
    const char *uid_map;
    const char *gid_map;
    int deny_setgroups;
    const char *root;              /* staging directory of the new root, NULL = keep the host's */
    const struct afbs_op *ops;
    int nops;
    int make_private;              /* mount namespace: make / private first */
    const char *hostname;
    int loopback;
    int unshare_cgroup;
    int drop_bounding;
    unsigned long long bounding_keep;
    int change_ids;
    unsigned int uid;
    unsigned int gid;
    int keepcaps;
    int umask;                     /* -1 = keep */
    const char *chdir;
    const struct afbs_rlimit *rlimits;
    int nrlimits;
    int set_caps;
    unsigned long long caps_keep;  /* permitted/effective/inheritable are masked with this */
    unsigned long long ambient;    /* raised in the ambient set */
    int last_cap;
    int no_new_privs;
    const unsigned char *seccomp;  /* BPF program (struct sock_filter[]) */
    unsigned long seccomp_len;     /* in bytes */
};

struct afbs_result {
    int pid;
    int pidfd;
    int step;                      /* AFBS_STEP_NONE on success */
    int index;                     /* op or rlimit index for MOUNT / RLIMIT */
    int error;                     /* errno */
};

int afbs_launch(const struct afbs_plan *plan, const char *path, char *const argv[],
                char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd,
                int cgroup_fd, struct afbs_result *result);
