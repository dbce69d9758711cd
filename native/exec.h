// exec.h: starting the command inside a container's root, shared by launch.c
// (run) and enter.c (exec): HOME from the image's passwd when the environment
// has none, then execvp with the container's PATH (never the host's), no shell
// fallback, and Docker's statuses: 126 when the command cannot be run, 127 when
// it is not found. The includer defines fail(), MAX_PATH, DEFAULT_PATH and the
// EXIT_* codes first.
#ifndef MYDOCKER_EXEC_H
#define MYDOCKER_EXEC_H

#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

// This process's environment, plus HOME=`home` when it has no HOME.
static char **environment_with_home(const char *home) {
    int count = 0;
    for (char **entry = environ; *entry; entry++) {
        if (strncmp(*entry, "HOME=", 5) == 0) return environ;
        count++;
    }
    char **environment = calloc(count + 2, sizeof(char *));
    char *entry = malloc(strlen(home) + 6);
    if (environment == NULL || entry == NULL) fail(EXIT_CANNOT_EXECUTE, "allocating memory: %s", strerror(errno));
    memcpy(environment, environ, count * sizeof(char *));
    sprintf(entry, "HOME=%s", home);
    environment[count] = entry;
    return environment;
}

static const char *container_path(char **environment) {
    for (char **entry = environment; *entry; entry++) {
        if (strncmp(*entry, "PATH=", 5) == 0) return *entry + 5;
    }
    return DEFAULT_PATH;
}

static int exit_code_for(int error) {
    return error == ENOENT || error == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
}

// execvp inside the container. Only returns through fail().
__attribute__((noreturn)) static void execute(char **command, char **environment) {
    // Descriptors the caller of mydocker left open (node does not mark inherited
    // ones close-on-exec) must not reach the container; a report channel on fd 3
    // still reports an exec failure, since it closes only if the exec succeeds.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        fail(EXIT_CANNOT_EXECUTE, "marking inherited descriptors close-on-exec: %s", strerror(errno));
    }
    const char *program = command[0];
    if (strchr(program, '/') != NULL) {
        execve(program, command, environment);
        fail(exit_code_for(errno), "exec %s: %s", program, strerror(errno));
    }

    const char *path = container_path(environment);
    int denied = 0;
    for (const char *start = path;; start++) {
        const char *end = strchrnul(start, ':');
        char candidate[MAX_PATH];
        int length = end == start ? snprintf(candidate, sizeof candidate, "%s", program)
                                  : snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(end - start), start, program);
        if (length < (int)sizeof candidate) {
            execve(candidate, command, environment);
            if (errno != ENOENT && errno != ENOTDIR) denied = errno;
        }
        if (*end == '\0') break;
        start = end;
    }
    if (denied) fail(EXIT_CANNOT_EXECUTE, "exec %s: %s", program, strerror(denied));
    fail(EXIT_NOT_FOUND, "exec \"%s\": executable file not found in $PATH", program);
}

#endif
