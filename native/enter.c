// enter: runs a command inside a running container (`mydocker exec`).
//
// Usage: enter --pid PID --start TICKS [--user USER] [--cwd DIR] [--tty] -- COMMAND [ARG]...
// PID is the container's PID 1 as the host sees it, TICKS its start time (field
// 22 of /proc/PID/stat), so a PID reused after the container ended is refused.
// The environment of this process is the command's environment, exactly (HOME
// is added from the user's passwd entry when missing, as launch.c does).
//
// Two processes, as launch.c:
//
//   the relay    stays in the host's PID namespace (setns never moves the
//                caller into a PID namespace, only its children), joins the
//                container's cgroups and other namespaces, forwards signals,
//                and exits as the command did;
//   the command  forked after the setns calls, so it is in the container's
//                PID namespace; takes the container's root, user, working
//                directory, capability bounding set and no_new_privs, and execs.
//
// Exit status: the command's, 128+N for signal N; 125 when the container cannot
// be entered, 126 when the command cannot be set up or executed, 127 when it is
// not found (docker exec's statuses). Messages go to stderr as "mydocker: ...".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_ENTER 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127
#define MAX_PATH 4096

#include "message.h"
#include "identity.h"
#include "capabilities.h"
#define MAX_TEXT 65536

static const char DEFAULT_PATH[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#include "exec.h"

// Joined in this order: mnt last, because it changes what paths mean (the
// other namespace files are opened before any setns anyway).
static const char *const NAMESPACES[] = {"ipc", "uts", "net", "pid", "mnt"};
#define NAMESPACE_COUNT ((int)(sizeof NAMESPACES / sizeof NAMESPACES[0]))

static const int FORWARDED_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define FORWARDED_COUNT ((int)(sizeof FORWARDED_SIGNALS / sizeof FORWARDED_SIGNALS[0]))

struct options {
    pid_t pid;
    const char *start;
    const char *user;
    const char *cwd;
    bool tty;
    char **command;
};

// What the container's PID 1 holds, read from /proc/PID/status.
struct container_state {
    unsigned long long bounding;
    bool no_new_privs;
};

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *format, ...) {
    va_list args;
    va_start(args, format);
    write_message(STDERR_FILENO, "mydocker: ", format, args);
    va_end(args);
    _exit(code);
}

__attribute__((noreturn)) static void fail_errno(int code, const char *what) {
    fail(code, "%s: %s", what, strerror(errno));
}

// ---------------------------------------------------------------- running from a sealed copy

// The command may be "#!/proc/self/exe": the kernel would then run this binary
// inside the container, where the container's root could reopen it through
// /proc/PID/exe and overwrite the host's copy (CVE-2019-5736, the runc exec
// escape). So the binary first re-executes from a sealed, anonymous memfd copy.
static void run_from_sealed_copy(char **argv) {
    char self[MAX_PATH];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length < 0) fail_errno(EXIT_ENTER, "reading /proc/self/exe");
    self[length] = '\0';
    if (strncmp(self, "/memfd:", 7) == 0) return;

    int source = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (source < 0) fail_errno(EXIT_ENTER, "opening /proc/self/exe");
    int copy = memfd_create("mydocker-enter", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (copy < 0) fail_errno(EXIT_ENTER, "making a sealed copy of the helper");
    struct stat status;
    if (fstat(source, &status) < 0) fail_errno(EXIT_ENTER, "reading /proc/self/exe");
    for (off_t done = 0; done < status.st_size;) {
        ssize_t sent = sendfile(copy, source, NULL, status.st_size - done);
        if (sent <= 0) fail_errno(EXIT_ENTER, "copying the helper");
        done += sent;
    }
    close(source);
    if (fcntl(copy, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        fail_errno(EXIT_ENTER, "sealing the helper's copy");
    }
    fexecve(copy, argv, environ);
    fail_errno(EXIT_ENTER, "running the helper's sealed copy");
}

// ---------------------------------------------------------------- options

static void parse_options(int argc, char **argv, struct options *options) {
    memset(options, 0, sizeof *options);
    options->user = "";
    options->cwd = "/";
    int index = 1;
    for (; index < argc && strcmp(argv[index], "--") != 0; index++) {
        const char *name = argv[index];
        if (strcmp(name, "--tty") == 0) { options->tty = true; continue; }
        if (index + 1 >= argc) fail(EXIT_ENTER, "option %s needs a value", name);
        const char *value = argv[++index];
        if (strcmp(name, "--pid") == 0) options->pid = atoi(value);
        else if (strcmp(name, "--start") == 0) options->start = value;
        else if (strcmp(name, "--user") == 0) options->user = value;
        else if (strcmp(name, "--cwd") == 0) options->cwd = value;
        else fail(EXIT_ENTER, "unknown option %s", name);
    }
    if (index + 1 >= argc) fail(EXIT_ENTER, "no command specified");
    if (options->pid <= 0 || options->start == NULL) fail(EXIT_ENTER, "--pid and --start are required");
    options->command = &argv[index + 1];
}

// ---------------------------------------------------------------- reading /proc

// Reads a small file relative to `directory` into a NUL-terminated buffer.
static char *read_text_at(int directory, const char *name) {
    int fd = openat(directory, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *text = malloc(MAX_TEXT);
    if (text == NULL) fail_errno(EXIT_ENTER, "allocating memory");
    ssize_t total = 0;
    for (ssize_t got; total < MAX_TEXT - 1 && (got = read(fd, text + total, MAX_TEXT - 1 - total)) > 0;) total += got;
    close(fd);
    text[total] = '\0';
    return text;
}

// Field 22 of stat, counted after the command name, which may hold spaces and ')'.
static bool start_time_matches(int process, const char *expected) {
    char *stat = read_text_at(process, "stat");
    if (stat == NULL) return false;
    char *cursor = strrchr(stat, ')');
    for (int field = 2; cursor != NULL && field < 22; field++) cursor = strchr(cursor + 1, ' ');
    bool matches = false;
    if (cursor != NULL) {
        size_t length = strcspn(cursor + 1, " ");
        matches = length == strlen(expected) && strncmp(cursor + 1, expected, length) == 0;
    }
    free(stat);
    return matches;
}

static const char *status_field(const char *status, const char *name) {
    size_t length = strlen(name);
    for (const char *line = status; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, length) == 0 && line[length] == ':') return line + length + 1;
    }
    return NULL;
}

// The process must be PID 1 of its PID namespace: the last NSpid entry is 1.
static void read_container_state(int process, pid_t pid, struct container_state *state) {
    char *status = read_text_at(process, "status");
    if (status == NULL) fail(EXIT_ENTER, "container process %d is gone", pid);
    const char *nspid = status_field(status, "NSpid");
    const char *bounding = status_field(status, "CapBnd");
    const char *no_new_privs = status_field(status, "NoNewPrivs");
    if (nspid == NULL || bounding == NULL) fail(EXIT_ENTER, "reading /proc/%d/status: unexpected format", pid);
    const char *last = nspid + strcspn(nspid, "\n");
    while (last > nspid && (last[-1] == ' ' || last[-1] == '\t')) last--;
    const char *number = last;
    while (number > nspid && number[-1] >= '0' && number[-1] <= '9') number--;
    if (last - number != 1 || *number != '1' || number == nspid + strspn(nspid, " \t")) {
        fail(EXIT_ENTER, "process %d is not the init process of a container", pid);
    }
    state->bounding = strtoull(bounding, NULL, 16);
    state->no_new_privs = no_new_privs != NULL && atoi(no_new_privs) == 1;
    free(status);
}

// ---------------------------------------------------------------- joining

// True when `line` is one whole line of `text`.
static bool has_line(const char *text, const char *line) {
    size_t length = strlen(line);
    for (const char *found = strstr(text, line); found != NULL; found = strstr(found + 1, line)) {
        bool starts = found == text || found[-1] == '\n';
        if (starts && (found[length] == '\n' || found[length] == '\0')) return true;
    }
    return false;
}

// Joins the cgroups the container's PID 1 is in (cgroup v1 lines
// "N:controllers:/path", v2 "0::/path"), so the container's limits bind the
// command too. Only the hierarchies where the container was placed differ.
static void join_cgroups(int process, pid_t pid) {
    char *theirs = read_text_at(process, "cgroup");
    if (theirs == NULL) fail(EXIT_ENTER, "container process %d is gone", pid);
    char *ours = read_text_at(AT_FDCWD, "/proc/self/cgroup");
    if (ours == NULL) fail_errno(EXIT_ENTER, "reading /proc/self/cgroup");
    bool unified = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    for (char *line = strtok(theirs, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (has_line(ours, line)) continue;
        char *controllers = strchr(line, ':');
        char *path = controllers ? strchr(controllers + 1, ':') : NULL;
        if (path == NULL) continue;
        *path++ = '\0';
        controllers++;
        if (strncmp(controllers, "name=", 5) == 0) controllers += 5;
        // v1 hierarchies are mounted under their controllers' names (cpu,cpuacct);
        // v2 at the top, or at unified/ beside v1 ones.
        const char *mount = *controllers ? controllers : unified ? "" : "unified";
        char procs[MAX_PATH];
        snprintf(procs, sizeof procs, "/sys/fs/cgroup/%s%s/cgroup.procs", mount, path);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) continue;  // a hierarchy not mounted here
        if (fd < 0 || write(fd, "0", 1) != 1) fail_errno(EXIT_ENTER, procs);
        close(fd);
    }
    free(theirs);
    free(ours);
}

static void join_namespaces(int process, pid_t pid) {
    int fds[NAMESPACE_COUNT];
    for (int index = 0; index < NAMESPACE_COUNT; index++) {
        char name[32];
        snprintf(name, sizeof name, "ns/%s", NAMESPACES[index]);
        fds[index] = openat(process, name, O_RDONLY | O_CLOEXEC);
        if (fds[index] < 0) fail(EXIT_ENTER, "opening /proc/%d/%s: %s", pid, name, strerror(errno));
    }
    for (int index = 0; index < NAMESPACE_COUNT; index++) {
        if (setns(fds[index], 0) < 0) fail(EXIT_ENTER, "joining the container's %s namespace: %s", NAMESPACES[index], strerror(errno));
        close(fds[index]);
    }
}

// ---------------------------------------------------------------- the command

// In the container's namespaces (PID namespace included, being forked after
// the setns): takes its root, then the user, directory and privileges.
__attribute__((noreturn)) static void run_command(const struct options *options, const struct container_state *state, const sigset_t *blocked) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "setting the parent-death signal");
    // setns(mnt) set the root to the namespace's root, which pivot_root made the container's.
    if (chdir("/") < 0) fail_errno(EXIT_CANNOT_EXECUTE, "entering the container's root");
    if (options->tty) {
        // Force (1): the terminal is the relay's; the command's session takes it over.
        if (setsid() < 0) fail_errno(EXIT_CANNOT_EXECUTE, "making the command's session");
        if (ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "taking the terminal");
    }

    struct identity identity;
    resolve_user(options->user, &identity, EXIT_CANNOT_EXECUTE);
    char **environment = environment_with_home(identity.home);
    if (chdir(options->cwd) < 0) fail(EXIT_CANNOT_EXECUTE, "chdir to %s: %s", options->cwd, strerror(errno));

    // The container's bounding set, and for root the same as its other sets (as launch.c gives them).
    drop_bounding_set(state->bounding, EXIT_CANNOT_EXECUTE);
    if (setgroups(identity.group_count, identity.groups) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "setting supplementary groups");
    if (setgid(identity.gid) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "setting the group id");
    if (setuid(identity.uid) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "setting the user id");
    limit_capabilities(state->bounding, identity.uid, state->no_new_privs, EXIT_CANNOT_EXECUTE);
    // A change of credentials clears the parent-death signal; arm it again.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno(EXIT_CANNOT_EXECUTE, "setting the parent-death signal");
    umask(022);

    sigprocmask(SIG_UNBLOCK, blocked, NULL);
    execute(options->command, environment);
}

// Waits for the command, passing signals on; exits as it did.
__attribute__((noreturn)) static void relay(pid_t command, const sigset_t *blocked) {
    for (;;) {
        int sig = sigwaitinfo(blocked, NULL);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(command, sig);
            continue;
        }
        int status;
        if (waitpid(command, &status, WNOHANG) != command) continue;
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

int main(int argc, char **argv) {
    // Until the exec, nothing in the container may ptrace this process or open
    // its /proc entries (the exec resets this).
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail_errno(EXIT_ENTER, "making the helper undumpable");
    run_from_sealed_copy(argv);

    struct options options;
    parse_options(argc, argv, &options);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail_errno(EXIT_ENTER, "setting the parent-death signal");

    // Everything about the container is read through this one directory: if
    // the PID was reused, the start time differs; if the process ends later,
    // openat fails instead of reaching another process.
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", options.pid);
    int process = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (process < 0 || !start_time_matches(process, options.start)) fail(EXIT_ENTER, "container process %d is not running", options.pid);
    struct container_state state;
    read_container_state(process, options.pid, &state);

    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    for (int index = 0; index < FORWARDED_COUNT; index++) sigaddset(&blocked, FORWARDED_SIGNALS[index]);
    sigprocmask(SIG_BLOCK, &blocked, NULL);

    join_cgroups(process, options.pid);
    join_namespaces(process, options.pid);
    close(process);

    pid_t command = fork();
    if (command < 0) fail_errno(EXIT_ENTER, "forking the command");
    if (command == 0) run_command(&options, &state, &blocked);
    relay(command, &blocked);
}
