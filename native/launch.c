// launch: mydocker's container launcher.
//
// Node runs this helper directly (no unshare(1) in between; docs/runtime.md says
// why). It is two processes:
//
//   the supervisor  stays in the host's namespaces, dies with node (parent-death
//                   signal), forwards signals to the container, applies the stop
//                   timeout, relays the exit status and reports through fd 3;
//   the container   made by clone() in new PID, mount, UTS, IPC (and network)
//                   namespaces, so it is PID 1; it mounts the overlay root, the
//                   kernel file systems and the etc files, pivots into the root,
//                   takes the image's user, working directory and environment,
//                   and execs the command, which stays PID 1.
//
// Usage: launch [OPTION VALUE | FLAG]... -- COMMAND [ARG]...
// (the options are those parse_options reads; launcher.ts writes them)
// The environment of this process is the container's environment, exactly.
// fd 3, with "--report-fd 3" first, is the report channel read by node: "error CODE MESSAGE\n"
// when the container could not be started, then "exit N\n" or "signal N\n" when
// it has ended; then fd 3 is closed and the container directory removed, while
// node goes on. Without fd 3 the error messages go to stderr. Exit status: the
// command's, 128+N for signal N, 125 setup failure, 126 cannot execute, 127 not
// found.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SETUP 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127
#define REPORT_FD 3
#define MAX_PATH 4096

#include "message.h"
#include "identity.h"
#include "capabilities.h"

static const char DEFAULT_PATH[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#include "exec.h"

// Docker's default capability set.
static const int DEFAULT_CAPABILITIES[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
    CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
    CAP_AUDIT_WRITE,
};

static const char *const CAPABILITY_NAMES[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define CAPABILITY_COUNT ((int)(sizeof CAPABILITY_NAMES / sizeof CAPABILITY_NAMES[0]))

// Signals the supervisor passes on to the container, as `docker run` does.
static const int FORWARDED_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define FORWARDED_COUNT ((int)(sizeof FORWARDED_SIGNALS / sizeof FORWARDED_SIGNALS[0]))

// Paths of /proc and /sys hidden from the container, and those made read-only,
// as Docker's default spec does.
static const char *const MASKED_PATHS[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const READ_ONLY_PATHS[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

struct volume {
    const char *source;
    const char *target;
    bool read_only;
    int tree;  // detached copy of the host path, taken before pivot_root
};

struct options {
    pid_t parent_pid;
    const char *container_dir;
    const char **lower_dirs;
    int lower_count;
    bool user_xattr;                  // overlay's userxattr option (rootless overlay snapshots)
    const char *root_tree;            // a whole root tree to bind-mount instead of an overlay
    const char *hostname;
    const char *cwd;
    const char *user;
    const char *resolv_conf;          // the host file the container's copy is made from
    bool new_network;
    bool init;
    bool read_only;
    bool privileged;
    bool tty;
    int stop_timeout;
    struct volume *volumes;
    int volume_count;
    const char **tmpfs_paths;
    int tmpfs_count;
    unsigned long long capabilities;  // bit N = capability N
    long long memory;                 // bytes; 0 = no limit
    long long memory_swap;            // memory + swap, bytes; 0 = no limit
    long long pids_limit;             // 0 = no limit
    const char *cpus;                 // decimal CPUs, NULL = no limit
    char **command;
};

// The container's cgroup directories, one per v1 controller used, or the one v2 cgroup.
struct cgroups {
    char paths[4][MAX_PATH];
    int count;
};

static int report_fd = -1;
// The container's mount namespace, held open by the supervisor (see main).
static int held_mount_namespace = -1;
// Set in the supervisor only: what fail() must undo before exiting.
static const struct cgroups *created_cgroups = NULL;
static void remove_cgroups(const struct cgroups *cgroups);

// Reports why the container could not start and exits with `code`. A message
// goes to node over fd 3 when node listens there, else to stderr.
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *format, ...) {
    char report_prefix[32];
    snprintf(report_prefix, sizeof report_prefix, "error %d ", code);
    va_list args;
    va_start(args, format);
    if (report_fd >= 0) write_message(report_fd, report_prefix, format, args);
    else write_message(STDERR_FILENO, "mydocker: ", format, args);
    va_end(args);
    if (created_cgroups != NULL) remove_cgroups(created_cgroups);
    _exit(code);
}

__attribute__((noreturn)) static void fail_errno(const char *what) {
    fail(EXIT_SETUP, "%s: %s", what, strerror(errno));
}

// ---------------------------------------------------------------- options

static void *allocate(size_t count, size_t size) {
    void *memory = calloc(count ? count : 1, size);
    if (memory == NULL) fail_errno("allocating memory");
    return memory;
}

static int capability_number(const char *name) {
    if (strncasecmp(name, "CAP_", 4) == 0) name += 4;
    for (int number = 0; number < CAPABILITY_COUNT; number++) {
        if (strcasecmp(name, CAPABILITY_NAMES[number]) == 0) return number;
    }
    fail(EXIT_SETUP, "unknown capability \"%s\"", name);
}

static unsigned long long all_capabilities(void) {
    return (1ULL << CAPABILITY_COUNT) - 1;
}

struct capability_changes {
    unsigned long long added, dropped;
    bool add_all, drop_all;
};

static void change_capability(struct capability_changes *changes, const char *name, bool add) {
    bool all = strcasecmp(name, "ALL") == 0;
    unsigned long long bits = all ? 0 : 1ULL << capability_number(name);
    if (add) { changes->added |= bits; changes->add_all |= all; }
    else { changes->dropped |= bits; changes->drop_all |= all; }
}

// Docker's rules: --cap-add ALL is every capability but the dropped ones;
// --cap-drop ALL leaves only the added ones; else defaults + added - dropped.
static unsigned long long apply_capability_changes(unsigned long long defaults, const struct capability_changes *changes) {
    if (changes->add_all) return all_capabilities() & ~changes->dropped;
    if (changes->drop_all) return changes->added;
    return (defaults | changes->added) & ~changes->dropped;
}

static void check_volume(const struct volume *volume) {
    if (volume->target == NULL) fail(EXIT_SETUP, "volume %s has no container path", volume->source);
    if (volume->source[0] != '/' || volume->target[0] != '/') {
        fail(EXIT_SETUP, "volume %s:%s needs absolute host and container paths", volume->source, volume->target);
    }
}

// Options come in "--name value" pairs, flags alone, until "--".
static void parse_options(int argc, char **argv, struct options *options) {
    memset(options, 0, sizeof *options);
    options->hostname = "localhost";
    options->cwd = "/";
    options->user = "";
    options->resolv_conf = "/etc/resolv.conf";
    options->stop_timeout = 10;
    options->lower_dirs = allocate(argc, sizeof(char *));
    options->volumes = allocate(argc, sizeof(struct volume));
    options->tmpfs_paths = allocate(argc, sizeof(char *));
    for (size_t index = 0; index < sizeof DEFAULT_CAPABILITIES / sizeof DEFAULT_CAPABILITIES[0]; index++) {
        options->capabilities |= 1ULL << DEFAULT_CAPABILITIES[index];
    }

    struct capability_changes changes = {0};
    int index = 1;
    for (; index < argc && strcmp(argv[index], "--") != 0; index++) {
        const char *name = argv[index];
        if (strcmp(name, "--init") == 0) { options->init = true; continue; }
        if (strcmp(name, "--read-only") == 0) { options->read_only = true; continue; }
        if (strcmp(name, "--privileged") == 0) { options->privileged = true; continue; }
        if (strcmp(name, "--tty") == 0) { options->tty = true; continue; }
        if (strcmp(name, "--userxattr") == 0) { options->user_xattr = true; continue; }
        if (index + 1 >= argc) fail(EXIT_SETUP, "option %s needs a value", name);
        const char *value = argv[++index];
        if (strcmp(name, "--parent-pid") == 0) options->parent_pid = atoi(value);
        else if (strcmp(name, "--report-fd") == 0) continue;  // read first thing in main
        else if (strcmp(name, "--container-dir") == 0) options->container_dir = value;
        else if (strcmp(name, "--lower") == 0) options->lower_dirs[options->lower_count++] = value;
        else if (strcmp(name, "--root-tree") == 0) options->root_tree = value;
        else if (strcmp(name, "--hostname") == 0) options->hostname = value;
        else if (strcmp(name, "--cwd") == 0) options->cwd = value;
        else if (strcmp(name, "--user") == 0) options->user = value;
        else if (strcmp(name, "--resolv-conf") == 0) options->resolv_conf = value;
        else if (strcmp(name, "--network") == 0) options->new_network = strcmp(value, "none") == 0;
        else if (strcmp(name, "--stop-timeout") == 0) options->stop_timeout = atoi(value);
        else if (strcmp(name, "--volume-source") == 0) options->volumes[options->volume_count++].source = value;
        else if (strcmp(name, "--volume-target") == 0 && options->volume_count > 0) options->volumes[options->volume_count - 1].target = value;
        else if (strcmp(name, "--volume-read-only") == 0 && options->volume_count > 0) options->volumes[options->volume_count - 1].read_only = strcmp(value, "true") == 0;
        else if (strcmp(name, "--tmpfs") == 0) options->tmpfs_paths[options->tmpfs_count++] = value;
        else if (strcmp(name, "--cap-add") == 0) change_capability(&changes, value, true);
        else if (strcmp(name, "--cap-drop") == 0) change_capability(&changes, value, false);
        else if (strcmp(name, "--memory") == 0) options->memory = atoll(value);
        else if (strcmp(name, "--memory-swap") == 0) options->memory_swap = atoll(value);
        else if (strcmp(name, "--pids-limit") == 0) options->pids_limit = atoll(value);
        else if (strcmp(name, "--cpus") == 0) options->cpus = value;
        else fail(EXIT_SETUP, "unknown option %s", name);
    }

    if (index + 1 >= argc) fail(EXIT_SETUP, "no command specified");
    if (options->container_dir == NULL || (options->lower_count == 0 && options->root_tree == NULL)) {
        fail(EXIT_SETUP, "--container-dir and at least one --lower (or --root-tree) are required");
    }
    options->capabilities = apply_capability_changes(options->capabilities, &changes);
    if (options->privileged) options->capabilities = all_capabilities();
    for (int volume = 0; volume < options->volume_count; volume++) check_volume(&options->volumes[volume]);
    options->command = &argv[index + 1];
}

// ---------------------------------------------------------------- small helpers

static void join_path(char *out, const char *directory, const char *name) {
    if (snprintf(out, MAX_PATH, "%s/%s", directory, name) >= MAX_PATH) {
        errno = ENAMETOOLONG;
        fail_errno(directory);
    }
}

static int make_directories_at_depth(const char *path, mode_t mode, int depth);

// A prefix that exists but does not stat is a dangling symlink: its target is
// made, relative to the link's directory or, when absolute, to the root.
static int make_link_target(const char *link, mode_t mode, int depth) {
    char target[MAX_PATH], resolved[MAX_PATH];
    ssize_t length = readlink(link, target, sizeof target - 1);
    if (length < 0) return -1;
    target[length] = '\0';
    const char *slash = strrchr(link, '/');
    int directory_length = target[0] == '/' || slash == NULL ? 0 : (int)(slash - link);
    int written = target[0] == '/' ? snprintf(resolved, sizeof resolved, "%s", target)
                                   : snprintf(resolved, sizeof resolved, "%.*s/%s", directory_length, link, target);
    if (written >= (int)sizeof resolved) { errno = ENAMETOOLONG; return -1; }
    return make_directories_at_depth(resolved, mode, depth + 1);
}

static int make_directories_at_depth(const char *path, mode_t mode, int depth) {
    if (depth > 40) { errno = ELOOP; return -1; }
    char partial[MAX_PATH];
    if (strlen(path) >= sizeof partial) { errno = ENAMETOOLONG; return -1; }
    strcpy(partial, path);
    for (char *cursor = partial + 1;; cursor++) {
        if (*cursor != '/' && *cursor != '\0') continue;
        char saved = *cursor;
        *cursor = '\0';
        struct stat status;
        if (mkdir(partial, mode) < 0) {
            if (errno != EEXIST) return -1;
            if (stat(partial, &status) < 0) {
                if (errno != ENOENT || make_link_target(partial, mode, depth) < 0) return -1;
            } else if (!S_ISDIR(status.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
        }
        *cursor = saved;
        if (saved == '\0') return 0;
    }
}

// mkdir -p inside the container's root, used only after pivot_root: symlinks
// are followed, their missing targets made, and since "/" is the container's
// root no link, absolute or full of "..", leads out of it (Docker's
// FollowSymlinkInScope + MkdirAll).
static int make_directories(const char *path, mode_t mode) {
    return make_directories_at_depth(path, mode, 0);
}

// Makes an empty file (and its directory) to mount a file over.
static void make_mount_point_file(const char *path) {
    char directory[MAX_PATH];
    snprintf(directory, sizeof directory, "%s", path);
    char *slash = strrchr(directory, '/');
    if (slash != NULL && slash != directory) {
        *slash = '\0';
        if (make_directories(directory, 0755) < 0) fail_errno(directory);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EISDIR && errno != ELOOP) fail_errno(path);
    if (fd >= 0) close(fd);
}

static void mount_or_fail(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    if (mount(source, target, type, flags, data) < 0) {
        char what[MAX_PATH + 64];
        snprintf(what, sizeof what, "mounting %s on %s", type ? type : source, target);
        fail_errno(what);
    }
}

// Reads a whole file; NULL when it cannot be opened (a missing file).
static char *read_text_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t capacity = 8192, used = 0;
    char *text = allocate(capacity, 1);
    for (;;) {
        if (used + 1 >= capacity) {
            capacity *= 2;
            text = realloc(text, capacity);
            if (text == NULL) fail_errno("allocating memory");
        }
        ssize_t count = read(fd, text + used, capacity - used - 1);
        if (count < 0) fail_errno(path);
        if (count == 0) break;
        used += count;
    }
    close(fd);
    text[used] = '\0';
    return text;
}

// ---------------------------------------------------------------- overlay root

// The kernel explains a failed fsconfig in the context's message queue.
static void fail_with_context(int context, const char *what) {
    int saved = errno;
    char message[512];
    ssize_t length = read(context, message, sizeof message - 1);
    if (length > 0) {
        message[length] = '\0';
        if (message[length - 1] == '\n') message[length - 1] = '\0';
        fail(EXIT_SETUP, "%s: %s (%s)", what, strerror(saved), message);
    }
    errno = saved;
    fail_errno(what);
}

// Length of the directory prefix (ending in '/') that every lower dir shares, so
// the lowers can be named relative to it: fsconfig takes at most 256 bytes a value
// and the classic mount options at most a page.
static size_t common_directory_length(const struct options *options) {
    const char *first = options->lower_dirs[0];
    const char *last_slash = strrchr(first, '/');
    size_t length = last_slash ? (size_t)(last_slash - first) + 1 : 0;
    for (int index = 1; index < options->lower_count; index++) {
        while (length > 0 && strncmp(options->lower_dirs[index], first, length) != 0) {
            do length--; while (length > 0 && first[length - 1] != '/');
        }
    }
    return length;
}

// Appends `text` to `out` escaping the overlay option separators.
static void append_escaped(char *out, size_t size, const char *text) {
    size_t used = strlen(out);
    for (; *text && used + 2 < size; text++) {
        if (*text == ':' || *text == ',' || *text == '\\') out[used++] = '\\';
        out[used++] = *text;
    }
    out[used] = '\0';
}

// Kernels before 6.8 lack "lowerdir+": one option string with every layer.
static void mount_overlay_classic(const struct options *options, size_t prefix, const char *upper, const char *work, const char *rootfs) {
    static char data[MAX_PATH];
    strcpy(data, "lowerdir=");
    for (int index = 0; index < options->lower_count; index++) {
        if (index > 0) strcat(data, ":");
        append_escaped(data, sizeof data, options->lower_dirs[index] + prefix);
    }
    strcat(data, ",upperdir=");
    append_escaped(data, sizeof data, upper);
    strcat(data, ",workdir=");
    append_escaped(data, sizeof data, work);
    if (options->user_xattr) strcat(data, ",userxattr");
    if (strlen(data) >= sizeof data - 2) {
        errno = E2BIG;
        fail_errno("overlay options for the image layers");
    }
    mount_or_fail("overlay", rootfs, "overlay", 0, data);
}

static void mount_overlay(const struct options *options, const char *upper, const char *work, const char *rootfs) {
    size_t prefix = common_directory_length(options);
    if (prefix > 0) {
        char directory[MAX_PATH];
        snprintf(directory, sizeof directory, "%.*s", (int)prefix, options->lower_dirs[0]);
        if (chdir(directory) < 0) fail_errno(directory);
    }

    int context = fsopen("overlay", FSOPEN_CLOEXEC);
    if (context < 0) fail_errno("opening an overlay file system");
    for (int index = 0; index < options->lower_count; index++) {
        const char *lower = options->lower_dirs[index] + prefix;
        if (fsconfig(context, FSCONFIG_SET_STRING, "lowerdir+", lower, 0) == 0) continue;
        if (index == 0 && errno == EINVAL) {
            close(context);
            mount_overlay_classic(options, prefix, upper, work, rootfs);
            return;
        }
        char what[MAX_PATH + 32];
        snprintf(what, sizeof what, "overlay lower dir %s", options->lower_dirs[index]);
        fail_with_context(context, what);
    }
    if (fsconfig(context, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0) fail_with_context(context, upper);
    if (fsconfig(context, FSCONFIG_SET_STRING, "workdir", work, 0) < 0) fail_with_context(context, work);
    if (options->user_xattr && fsconfig(context, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) fail_with_context(context, "userxattr");
    if (fsconfig(context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) fail_with_context(context, "creating the overlay root");

    int mount_fd = fsmount(context, FSMOUNT_CLOEXEC, 0);
    if (mount_fd < 0) fail_with_context(context, "mounting the overlay root");
    if (move_mount(mount_fd, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0) fail_errno(rootfs);
    close(mount_fd);
    close(context);
}

// ---------------------------------------------------------------- bind sources

// A detached copy of a host file or tree, taken while the host is still in view;
// it is attached inside the new root after pivot_root.
static int clone_tree(const char *path, bool recursive) {
    int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    if (tree < 0) {
        char what[MAX_PATH + 32];
        snprintf(what, sizeof what, "bind source %s", path);
        fail_errno(what);
    }
    return tree;
}

static void make_read_only(int tree, const char *what) {
    struct mount_attr attributes = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes, sizeof attributes) < 0) fail_errno(what);
}

// Attaches a detached tree at `target`, resolved inside the current root: after
// pivot_root, "/" is the container's root, so no symlink can lead out of it.
static void attach_tree(int tree, const char *target) {
    if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
        char what[MAX_PATH + 32];
        snprintf(what, sizeof what, "mounting on %s", target);
        fail_errno(what);
    }
    close(tree);
}

// The host's resolv.conf, read while the host is in view. In a network namespace
// of its own a loopback nameserver (127.0.0.53 of systemd-resolved) answers
// nothing, so those lines go, as Docker drops them.
static char *read_host_resolv_conf(const char *path, bool new_network) {
    char *text = read_text_file(path);
    if (text == NULL) return strdup("");
    if (!new_network) return text;

    char *kept = allocate(strlen(text) + 1, 1);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *cursor = line;
        while (*cursor == ' ' || *cursor == '\t') cursor++;
        if (strncmp(cursor, "nameserver", 10) == 0) {
            cursor += 10;
            while (*cursor == ' ' || *cursor == '\t') cursor++;
            if (strncmp(cursor, "127.", 4) == 0 || strncmp(cursor, "::1", 3) == 0) continue;
        }
        strcat(kept, line);
        strcat(kept, "\n");
    }
    free(text);
    return kept;
}

static void clone_volumes(struct options *options) {
    for (int index = 0; index < options->volume_count; index++) {
        struct volume *volume = &options->volumes[index];
        volume->tree = clone_tree(volume->source, true);
        if (volume->read_only) make_read_only(volume->tree, volume->source);
    }
}

// ---------------------------------------------------------------- the new root

// pivot_root(".", ".") stacks the old root on the new one; detaching it leaves no
// path to any host file, which a chroot would (a root process can climb out).
static void enter_root(const char *rootfs) {
    if (chdir(rootfs) < 0) fail_errno(rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail_errno("pivot_root into the container root");
    if (umount2(".", MNT_DETACH) < 0) fail_errno("detaching the host root");
    if (chdir("/") < 0) fail_errno("/");
}

// ---------------------------------------------------------------- rootless

// In a user namespace (rootless mydocker) some things only real root may do:
// device nodes, a sysfs of the host's network namespace, cgroups not
// delegated. The host's own are bind-mounted (taken before pivot_root) instead.
static const char *const HOST_DEVICES[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
#define HOST_DEVICE_COUNT (sizeof HOST_DEVICES / sizeof HOST_DEVICES[0])
static int host_device_trees[HOST_DEVICE_COUNT] = {-1, -1, -1, -1, -1, -1};
static int host_sys_tree = -1;
static int proc_tree = -1;

// True when this process's user namespace maps less than the whole id space.
static bool in_user_namespace(void) {
    char *text = read_text_file("/proc/self/uid_map");
    if (text == NULL) return false;
    unsigned long inside = 1, outside = 1, count = 0;
    bool whole = sscanf(text, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
                 count == 4294967295UL && strchr(text, '\n') == text + strlen(text) - 1;
    free(text);
    return !whole;
}

__attribute__((format(printf, 1, 2))) static void warn(const char *format, ...) {
    va_list args;
    va_start(args, format);
    write_message(STDERR_FILENO, "mydocker: warning: ", format, args);
    va_end(args);
}

// The kernel lets a user namespace mount proc only while a proc mount is in
// view, which the host's no longer is after pivot_root: the container's is
// made (as a detached mount, for this PID namespace) before.
static void make_proc_tree(void) {
    int context = fsopen("proc", FSOPEN_CLOEXEC);
    if (context < 0) fail_errno("opening a proc file system");
    if (fsconfig(context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) fail_with_context(context, "creating /proc");
    proc_tree = fsmount(context, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV);
    if (proc_tree < 0) fail_with_context(context, "mounting /proc");
    close(context);
}

// Taken while the host is in view; used only where mknod or sysfs is refused.
static void clone_host_trees(void) {
    make_proc_tree();
    for (size_t index = 0; index < HOST_DEVICE_COUNT; index++) {
        host_device_trees[index] = open_tree(AT_FDCWD, HOST_DEVICES[index], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    }
    host_sys_tree = open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (host_sys_tree >= 0) {
        struct mount_attr attributes = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV};
        if (mount_setattr(host_sys_tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes, sizeof attributes) < 0) {
            close(host_sys_tree);
            host_sys_tree = -1;
        }
    }
}

static int host_device_tree(const char *path) {
    for (size_t index = 0; index < HOST_DEVICE_COUNT; index++) {
        if (strcmp(HOST_DEVICES[index], path) == 0) return host_device_trees[index];
    }
    return -1;
}

static void make_device(const char *path, unsigned int major_number, unsigned int minor_number) {
    if (mknod(path, S_IFCHR | 0666, makedev(major_number, minor_number)) == 0) return;
    int tree = host_device_tree(path);
    if (errno != EPERM || tree < 0) fail_errno(path);
    make_mount_point_file(path);
    attach_tree(tree, path);
}

// sysfs belongs to the network namespace; one this user namespace does not own
// (--network host) refuses it, and the host's is bind-mounted read-only.
static void mount_sys(const struct options *options) {
    const unsigned long secure = MS_NOSUID | MS_NOEXEC | MS_NODEV;
    if (mount("sysfs", "/sys", "sysfs", secure | (options->privileged ? 0 : MS_RDONLY), NULL) == 0) return;
    if (errno != EPERM || host_sys_tree < 0) fail_errno("mounting sysfs on /sys");
    attach_tree(host_sys_tree, "/sys");
    host_sys_tree = -1;
}

static void make_symlink(const char *target, const char *path) {
    if (symlink(target, path) < 0 && errno != EEXIST) fail_errno(path);
}

// A tmpfs /dev with the device nodes Docker gives every container.
static void mount_dev(void) {
    const unsigned long secure = MS_NOSUID | MS_NOEXEC | MS_NODEV;
    mount_or_fail("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    make_device("/dev/null", 1, 3);
    make_device("/dev/zero", 1, 5);
    make_device("/dev/full", 1, 7);
    make_device("/dev/random", 1, 8);
    make_device("/dev/urandom", 1, 9);
    make_device("/dev/tty", 5, 0);
    make_symlink("/proc/self/fd", "/dev/fd");
    make_symlink("/proc/self/fd/0", "/dev/stdin");
    make_symlink("/proc/self/fd/1", "/dev/stdout");
    make_symlink("/proc/self/fd/2", "/dev/stderr");
    make_symlink("/proc/kcore", "/dev/core");
    make_symlink("pts/ptmx", "/dev/ptmx");

    if (mkdir("/dev/pts", 0755) < 0) fail_errno("/dev/pts");
    // Rootless with only the user's own id mapped there is no group 5 (tty) to give.
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0) {
        if (errno != EINVAL || !in_user_namespace()) fail_errno("mounting devpts on /dev/pts");
        mount_or_fail("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    }
    if (mkdir("/dev/shm", 01777) < 0) fail_errno("/dev/shm");
    mount_or_fail("shm", "/dev/shm", "tmpfs", secure, "mode=1777,size=65536k");
    if (mkdir("/dev/mqueue", 0755) < 0) fail_errno("/dev/mqueue");
    mount_or_fail("mqueue", "/dev/mqueue", "mqueue", secure, NULL);
}

static void hide_path(const char *path) {
    struct stat status;
    if (lstat(path, &status) < 0) return;  // this kernel does not have it
    if (S_ISDIR(status.st_mode)) mount_or_fail("tmpfs", path, "tmpfs", MS_RDONLY, NULL);
    else mount_or_fail("/dev/null", path, NULL, MS_BIND, NULL);
}

static void make_path_read_only(const char *path) {
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == ENOENT) return;
        fail_errno(path);
    }
    mount_or_fail(path, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
}

static void mount_kernel_file_systems(const struct options *options) {
    const unsigned long secure = MS_NOSUID | MS_NOEXEC | MS_NODEV;
    if (mkdir("/proc", 0555) < 0 && errno != EEXIST) fail_errno("/proc");
    if (proc_tree >= 0) attach_tree(proc_tree, "/proc");
    else mount_or_fail("proc", "/proc", "proc", secure, NULL);
    if (mkdir("/sys", 0555) < 0 && errno != EEXIST) fail_errno("/sys");
    mount_sys(options);
    if (mkdir("/dev", 0755) < 0 && errno != EEXIST) fail_errno("/dev");
    mount_dev();
    if (options->privileged) return;

    for (size_t index = 0; index < sizeof MASKED_PATHS / sizeof MASKED_PATHS[0]; index++) hide_path(MASKED_PATHS[index]);
    for (size_t index = 0; index < sizeof READ_ONLY_PATHS / sizeof READ_ONLY_PATHS[0]; index++) {
        make_path_read_only(READ_ONLY_PATHS[index]);
    }
}

// Writes one file of the container's own /etc, inside its root (so no symlink
// can lead out) and into the per-run upper layer (so it vanishes with the run).
// A symlink in its place is the image's: it is replaced, not followed.
static void write_etc_file(const char *path, const char *content) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ELOOP && unlink(path) == 0) fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) fail_errno(path);
    size_t length = strlen(content);
    if (write(fd, content, length) != (ssize_t)length) fail_errno(path);
    close(fd);
}

// Docker's /etc/hosts, /etc/hostname and /etc/resolv.conf for the container.
static void write_etc_files(const struct options *options, const char *resolv_conf) {
    if (mkdir("/etc", 0755) < 0 && errno != EEXIST) fail_errno("/etc");
    char hosts[1024];
    snprintf(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t%s\n", options->hostname);
    write_etc_file("/etc/hosts", hosts);
    char hostname[300];
    snprintf(hostname, sizeof hostname, "%s\n", options->hostname);
    write_etc_file("/etc/hostname", hostname);
    write_etc_file("/etc/resolv.conf", resolv_conf);
}

static void attach_volumes(const struct options *options) {
    for (int index = 0; index < options->volume_count; index++) {
        const struct volume *volume = &options->volumes[index];
        struct stat status;
        if (fstat(volume->tree, &status) < 0) fail_errno(volume->source);
        if (S_ISDIR(status.st_mode)) {
            if (make_directories(volume->target, 0755) < 0) fail_errno(volume->target);
        } else {
            make_mount_point_file(volume->target);
        }
        attach_tree(volume->tree, volume->target);
    }
}

static void mount_tmpfs_paths(const struct options *options) {
    for (int index = 0; index < options->tmpfs_count; index++) {
        const char *path = options->tmpfs_paths[index];
        if (make_directories(path, 0755) < 0) fail_errno(path);
        mount_or_fail("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777");
    }
}

// --read-only: the root itself; the mounts on it keep their own flags.
static void make_root_read_only(void) {
    mount_or_fail("/", "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

// A new network namespace has only lo, and it is down.
static void bring_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) fail_errno("socket for the loopback interface");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    request.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &request) < 0) fail_errno("bringing up the loopback interface");
    close(sock);
}

// ---------------------------------------------------------------- the user

// Rootless, an id outside the namespace's mapping is EINVAL: say what to do.
__attribute__((noreturn)) static void fail_identity(const char *what, const struct identity *identity) {
    if (errno != EINVAL || !in_user_namespace()) fail_errno(what);
    fail(EXIT_SETUP, "user %u:%u is not mapped in this rootless user namespace: give the user a range in /etc/subuid and /etc/subgid",
         (unsigned)identity->uid, (unsigned)identity->gid);
}

static void take_identity(const struct identity *identity) {
    // A user namespace mapping only the user's own group denies setgroups (its
    // /proc/self/setgroups says "deny"); the process then keeps the groups it has.
    if (setgroups(identity->group_count, identity->groups) < 0 && !(errno == EPERM && in_user_namespace())) {
        fail_errno("setting supplementary groups");
    }
    if (setgid(identity->gid) < 0) fail_identity("setting the group id", identity);
    if (setuid(identity->uid) < 0) fail_identity("setting the user id", identity);
}

// -t: stdin is a pseudo-terminal whose session is the supervisor's. The
// container takes it as its own controlling terminal in a session of its own, so
// the keys that signal (Ctrl-C) reach the container's foreground group alone.
// Taking a terminal from another session needs CAP_SYS_ADMIN: done before the drop.
// Rootless, TIOCSCTTY cannot steal the terminal from the supervisor's session
// (that takes CAP_SYS_ADMIN of the host's user namespace): the supervisor, its
// session leader, gives it up first. That hangs up its own foreground group,
// the supervisor itself, so SIGHUP is ignored meanwhile.
static void release_terminal(void) {
    signal(SIGHUP, SIG_IGN);
    if (ioctl(STDIN_FILENO, TIOCNOTTY) < 0) {
        // Not our controlling terminal: nothing to give up.
    }
    signal(SIGHUP, SIG_DFL);
}

static void take_terminal(void) {
    if (setsid() < 0) fail_errno("making the container's session");
    if (ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0) fail_errno("taking the terminal");
}

// Under --init the command gets a process group of its own in the foreground,
// so Ctrl-C reaches it once, not also through init.
static void become_foreground(void) {
    if (setpgid(0, 0) < 0) return;
    signal(SIGTTOU, SIG_IGN);
    if (tcsetpgrp(STDIN_FILENO, getpid()) < 0) {
        // Not fatal: signals still reach the command through init.
    }
    signal(SIGTTOU, SIG_DFL);
}

// ---------------------------------------------------------------- cgroups

static bool wants_cgroups(const struct options *options) {
    return options->memory > 0 || options->memory_swap > 0 || options->pids_limit > 0 || options->cpus != NULL;
}

static void write_cgroup_file(const char *directory, const char *name, const char *value) {
    char path[MAX_PATH];
    join_path(path, directory, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, strlen(value)) < 0) {
        char what[MAX_PATH + 64];
        snprintf(what, sizeof what, "writing %s to %s", value, path);
        fail_errno(what);
    }
    close(fd);
}

// This process's cgroup in `controller` ("" = the v2 hierarchy), from
// /proc/self/cgroup: the container's goes below it, so limits set above hold.
static bool own_cgroup(const char *controller, char *out, size_t size) {
    char *text = read_text_file("/proc/self/cgroup");
    bool found = false;
    for (char *line = text ? strtok(text, "\n") : NULL; line && !found; line = strtok(NULL, "\n")) {
        char *fields[3];
        if (split_fields(line, fields, 3) < 3) continue;
        bool match = controller[0] == '\0' ? fields[1][0] == '\0' : false;
        char *cursor;
        for (char *name = strtok_r(fields[1], ",", &cursor); name && !match; name = strtok_r(NULL, ",", &cursor)) {
            match = strcmp(name, controller) == 0;
        }
        if (match) {
            snprintf(out, size, "%s", strcmp(fields[2], "/") == 0 ? "" : fields[2]);
            found = true;
        }
    }
    free(text);
    return found;
}

static const char *add_cgroup(struct cgroups *cgroups, const char *controller, pid_t supervisor) {
    char own[MAX_PATH - 128];
    if (!own_cgroup(controller, own, sizeof own)) fail(EXIT_SETUP, "cgroup controller %s is not available", controller);
    char *path = cgroups->paths[cgroups->count];
    const char *mount_point = controller[0] ? controller : "";
    snprintf(path, MAX_PATH, "/sys/fs/cgroup%s%s%s/mydocker-%d", mount_point[0] ? "/" : "", mount_point, own, supervisor);
    if (mkdir(path, 0755) < 0) fail_errno(path);
    cgroups->count++;
    return path;
}

static void format_number(char *out, long long number) {
    sprintf(out, "%lld", number);
}

// CPUs as a CFS quota over a 100 ms period, as Docker's --cpus.
static long long cpu_quota(const char *cpus) {
    return (long long)(strtod(cpus, NULL) * 100000 + 0.5);
}

static void limit_v1(const struct options *options, struct cgroups *cgroups, pid_t supervisor) {
    char value[64];
    if (options->memory > 0 || options->memory_swap > 0) {
        const char *memory = add_cgroup(cgroups, "memory", supervisor);
        if (options->memory > 0) { format_number(value, options->memory); write_cgroup_file(memory, "memory.limit_in_bytes", value); }
        // Without swap accounting (swapaccount=0) there is no memsw file: the limit cannot apply.
        char swap_file[MAX_PATH];
        join_path(swap_file, memory, "memory.memsw.limit_in_bytes");
        if (options->memory_swap > 0 && access(swap_file, F_OK) == 0) {
            format_number(value, options->memory_swap);
            write_cgroup_file(memory, "memory.memsw.limit_in_bytes", value);
        }
    }
    if (options->pids_limit > 0) {
        format_number(value, options->pids_limit);
        write_cgroup_file(add_cgroup(cgroups, "pids", supervisor), "pids.max", value);
    }
    if (options->cpus != NULL) {
        const char *cpu = add_cgroup(cgroups, "cpu", supervisor);
        write_cgroup_file(cpu, "cpu.cfs_period_us", "100000");
        format_number(value, cpu_quota(options->cpus));
        write_cgroup_file(cpu, "cpu.cfs_quota_us", value);
    }
}

static void limit_v2(const struct options *options, struct cgroups *cgroups, pid_t supervisor) {
    const char *path = add_cgroup(cgroups, "", supervisor);
    char value[64];
    if (options->memory > 0) { format_number(value, options->memory); write_cgroup_file(path, "memory.max", value); }
    char swap_file[MAX_PATH];
    join_path(swap_file, path, "memory.swap.max");
    if (options->memory_swap > 0 && options->memory > 0 && access(swap_file, F_OK) == 0) {
        format_number(value, options->memory_swap - options->memory);
        write_cgroup_file(path, "memory.swap.max", value);
    }
    if (options->pids_limit > 0) { format_number(value, options->pids_limit); write_cgroup_file(path, "pids.max", value); }
    if (options->cpus != NULL) {
        snprintf(value, sizeof value, "%lld 100000", cpu_quota(options->cpus));
        write_cgroup_file(path, "cpu.max", value);
    }
}

// cgroup v2 when its hierarchy carries the controllers, else v1 (this machine:
// v1 controllers, an empty v2 hierarchy at /sys/fs/cgroup/unified).
static void create_cgroups(const struct options *options, struct cgroups *cgroups) {
    if (!wants_cgroups(options)) return;
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) limit_v2(options, cgroups, getpid());
    else limit_v1(options, cgroups, getpid());
}

// Rootless, the cgroup tree is the host root's: limits cannot be set, and the
// run goes on without them, with a warning.
// TODO(#5): use a delegated cgroup (systemd's user@.service on v2) when there is one.
static void drop_undelegated_limits(struct options *options) {
    if (!wants_cgroups(options) || !in_user_namespace()) return;
    if (access("/sys/fs/cgroup", W_OK) == 0 || access("/sys/fs/cgroup/memory", W_OK) == 0) return;
    warn("resource limits are ignored: rootless, and no cgroup is delegated to this user");
    options->memory = options->memory_swap = options->pids_limit = 0;
    options->cpus = NULL;
}

// After the container's PID 1 is reaped the cgroups are empty; the kernel may
// need a moment to see the last task go.
static void remove_cgroups(const struct cgroups *cgroups) {
    for (int index = 0; index < cgroups->count; index++) {
        for (int attempt = 0; attempt < 200 && rmdir(cgroups->paths[index]) < 0 && errno == EBUSY; attempt++) usleep(5000);
    }
}

// ---------------------------------------------------------------- the command

// --init: PID 1 stays ours, forks the command, passes signals on and reaps every
// orphan; it exits as the command did.
__attribute__((noreturn)) static void run_init(char **command, char **environment, const sigset_t *blocked, bool tty) {
    pid_t child = fork();
    if (child < 0) fail_errno("forking the command");
    if (child == 0) {
        if (tty) become_foreground();
        sigprocmask(SIG_UNBLOCK, blocked, NULL);
        execute(command, environment);
    }
    if (report_fd >= 0) close(report_fd);

    for (;;) {
        int sig = sigwaitinfo(blocked, NULL);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != child) continue;
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}

// ---------------------------------------------------------------- the container process

// Dies with the supervisor. The pipe's write end is held only by the supervisor,
// so a hang-up means it died before the parent-death signal was armed.
// With cgroups the container waits for one byte: it may start only once the
// supervisor has moved it into them.
static void die_with_supervisor(int liveness, bool wait_for_cgroups) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno("setting the parent-death signal");
    if (wait_for_cgroups) {
        char go;
        if (read(liveness, &go, 1) != 1) _exit(EXIT_SETUP);
        return;
    }
    struct pollfd poll_fd = {.fd = liveness, .events = POLLIN};
    if (poll(&poll_fd, 1, 0) > 0 && (poll_fd.revents & (POLLHUP | POLLIN))) _exit(EXIT_SETUP);
}

__attribute__((noreturn)) static void run_container(struct options *options, int liveness, const sigset_t *blocked) {
    die_with_supervisor(liveness, wants_cgroups(options));
    close(liveness);
    umask(0);

    // Nothing mounted here may reach the host's mount tree.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail_errno("making / private");

    char upper[MAX_PATH], work[MAX_PATH], rootfs[MAX_PATH];
    join_path(upper, options->container_dir, "upper");
    join_path(work, options->container_dir, "work");
    join_path(rootfs, options->container_dir, "rootfs");
    if (options->root_tree != NULL) {
        if (mkdir(rootfs, 0755) < 0) fail_errno(rootfs);
        mount_or_fail(options->root_tree, rootfs, NULL, MS_BIND | MS_REC, NULL);
    } else {
        if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(rootfs, 0755) < 0) {
            fail_errno("making the container directories");
        }
        mount_overlay(options, upper, work, rootfs);
    }
    if (in_user_namespace()) clone_host_trees();

    char *resolv_conf = read_host_resolv_conf(options->resolv_conf, options->new_network);
    clone_volumes(options);
    enter_root(rootfs);

    mount_kernel_file_systems(options);
    write_etc_files(options, resolv_conf);
    attach_volumes(options);
    mount_tmpfs_paths(options);
    if (options->read_only) make_root_read_only();
    if (options->new_network) bring_loopback_up();
    if (sethostname(options->hostname, strlen(options->hostname)) < 0) fail_errno("setting the hostname");

    struct identity identity;
    resolve_user(options->user, &identity, EXIT_SETUP);
    char **environment = environment_with_home(identity.home);
    if (make_directories(options->cwd, 0755) < 0 && errno != EEXIST) fail_errno(options->cwd);
    if (chdir(options->cwd) < 0) fail_errno(options->cwd);

    if (options->tty) take_terminal();
    drop_bounding_set(options->capabilities, EXIT_SETUP);
    take_identity(&identity);
    limit_capabilities(options->capabilities, identity.uid, !options->privileged, EXIT_SETUP);
    // A change of credentials clears the parent-death signal; arm it again.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno("setting the parent-death signal");
    umask(022);

    if (options->init) run_init(options->command, environment, blocked, options->tty);
    sigprocmask(SIG_UNBLOCK, blocked, NULL);
    execute(options->command, environment);
}

// ---------------------------------------------------------------- the supervisor

// Tells node how the container ended ("exit N" or "signal N") and closes the
// channel: node may go on at once, while the directory is still being removed.
static void report_end(int status) {
    if (report_fd < 0) return;
    char line[32];
    int length = WIFEXITED(status) ? snprintf(line, sizeof line, "exit %d\n", WEXITSTATUS(status))
                                   : snprintf(line, sizeof line, "signal %d\n", WTERMSIG(status));
    if (write(report_fd, line, length) < 0) {
        // Node then reads the exit status of this process, which says the same.
    }
    close(report_fd);
    report_fd = -1;
}

static int remove_entry(const char *path, const struct stat *status, int type, struct FTW *walk) {
    (void)status;
    (void)walk;
    int result = type == FTW_DP ? rmdir(path) : unlink(path);
    return result < 0 && errno != ENOENT ? -1 : 0;
}

// The run's upper and work directories go with the run; a failure is reported
// to node, which then warns.
static void remove_container_dir(const char *container_dir) {
    // FTW_MOUNT: never descend into something mounted there.
    if (nftw(container_dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0 || errno == ENOENT) return;
    // Node may be gone by now: the warning goes where the user sees it, and
    // `mydocker system prune` finds the directory later.
    warn("removing container directory %s: %s", container_dir, strerror(errno));
}

static long long now_milliseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

// Waits for the container, passing signals on. After a SIGTERM the container
// has `stop_timeout` seconds before its PID 1 (and so all of it) is killed.
__attribute__((noreturn)) static void supervise(pid_t container, const struct options *options, const struct cgroups *cgroups, const sigset_t *blocked) {
    long long kill_at = -1;
    for (;;) {
        int sig;
        if (kill_at < 0) {
            sig = sigwaitinfo(blocked, NULL);
        } else {
            long long left = kill_at - now_milliseconds();
            struct timespec timeout = {.tv_sec = left > 0 ? left / 1000 : 0, .tv_nsec = left > 0 ? (left % 1000) * 1000000 : 0};
            sig = sigtimedwait(blocked, NULL, &timeout);
            if (sig < 0 && errno == EAGAIN) {
                kill(container, SIGKILL);
                kill_at = -1;
                continue;
            }
        }
        if (sig < 0) continue;

        if (sig != SIGCHLD) {
            kill(container, sig);
            if (sig == SIGTERM && kill_at < 0 && options->stop_timeout >= 0) {
                kill_at = now_milliseconds() + options->stop_timeout * 1000LL;
            }
            continue;
        }

        int status;
        if (waitpid(container, &status, WNOHANG) != container) continue;
        remove_cgroups(cgroups);
        // The container is gone: node's death must no longer cut the removal short.
        // Before the report, since node exits as soon as it has read it.
        prctl(PR_SET_PDEATHSIG, 0);
        report_end(status);
        // A reader of mydocker's output (`| cat`) must not wait for the removal.
        close(STDIN_FILENO);
        close(STDOUT_FILENO);
        if (held_mount_namespace >= 0) close(held_mount_namespace);
        remove_container_dir(options->container_dir);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

// Moves the container into its cgroups, then lets it go on. Should that fail,
// the container is killed before it ran anything.
static void start_in_cgroups(pid_t container, const struct cgroups *cgroups, int liveness) {
    char value[32];
    snprintf(value, sizeof value, "%d", container);
    for (int index = 0; index < cgroups->count; index++) {
        char path[MAX_PATH];
        join_path(path, cgroups->paths[index], "cgroup.procs");
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0 && write(fd, value, strlen(value)) > 0) {
            close(fd);
            continue;
        }
        int saved = errno;
        kill(container, SIGKILL);
        waitpid(container, NULL, 0);
        errno = saved;
        fail_errno(path);
    }
    if (write(liveness, "g", 1) != 1) fail_errno("starting the container");
}

int main(int argc, char **argv) {
    // fd 3 is the report channel only when node says so: an fd 3 inherited by
    // accident (node-pty's child) must not receive reports.
    if (argc > 2 && strcmp(argv[1], "--report-fd") == 0 && strcmp(argv[2], "3") == 0 && fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) == 0) {
        report_fd = REPORT_FD;
    }

    struct options options;
    parse_options(argc, argv, &options);

    // Node's death must end the container: it cannot clean up after SIGKILL.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno("setting the parent-death signal");
    if (options.parent_pid > 0 && getppid() != options.parent_pid) _exit(EXIT_SETUP);

    if (options.tty && in_user_namespace()) release_terminal();

    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    for (int index = 0; index < FORWARDED_COUNT; index++) sigaddset(&blocked, FORWARDED_SIGNALS[index]);
    sigprocmask(SIG_BLOCK, &blocked, NULL);

    drop_undelegated_limits(&options);
    struct cgroups cgroups = {.count = 0};
    created_cgroups = &cgroups;
    create_cgroups(&options, &cgroups);

    int liveness[2];
    if (pipe2(liveness, O_CLOEXEC) < 0) fail_errno("making a pipe");

    unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
    if (options.new_network) flags |= CLONE_NEWNET;
    // Raw clone without a stack behaves as fork, into the new namespaces.
    pid_t container = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (container < 0) fail_errno("making the container's namespaces");
    if (container == 0) {
        created_cgroups = NULL;
        close(liveness[1]);
        run_container(&options, liveness[0], &blocked);
    }

    close(liveness[0]);
    // Holding the container's mount namespace keeps its teardown (the overlay and
    // every other mount of the run) out of the container's exit, which would
    // otherwise delay the end node waits for by a millisecond or two; it happens
    // when the supervisor lets go, after the report. Without it, only slower.
    char namespace_path[64];
    snprintf(namespace_path, sizeof namespace_path, "/proc/%d/ns/mnt", (int)container);
    held_mount_namespace = open(namespace_path, O_RDONLY | O_CLOEXEC);
    if (cgroups.count > 0) start_in_cgroups(container, &cgroups, liveness[1]);
    supervise(container, &options, &cgroups, &blocked);
}
