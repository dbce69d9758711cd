// capabilities.h: the capabilities a container's process keeps, shared by
// launch.c (run) and enter.c (exec). The includer declares fail() first (as
// identity.h does); `code` is the exit status a failure ends with.
#ifndef MYDOCKER_CAPABILITIES_H
#define MYDOCKER_CAPABILITIES_H

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

// Drops from the bounding set every capability not in `keep` (bit N is
// capability N); one this kernel does not know is skipped.
static void drop_bounding_set(unsigned long long keep, int code) {
    for (int number = 0; number <= CAP_LAST_CAP; number++) {
        if (keep & (1ULL << number)) continue;
        if (prctl(PR_CAPBSET_DROP, number, 0, 0, 0) < 0 && errno != EINVAL) fail(code, "dropping a capability: %s", strerror(errno));
    }
}

// After setuid: root keeps exactly `keep` as its effective, permitted and
// inheritable sets, other users none; then no_new_privs when asked. Only what
// this process holds can be kept (this machine, say, lacks CAP_SYS_RESOURCE).
static void limit_capabilities(unsigned long long keep, uid_t uid, bool no_new_privs, int code) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) < 0) fail(code, "reading capabilities: %s", strerror(errno));
    for (int word = 0; word < 2; word++) {
        unsigned int bits = uid == 0 ? (unsigned int)(keep >> (32 * word)) & data[word].permitted : 0;
        data[word].effective = data[word].permitted = data[word].inheritable = bits;
    }
    if (syscall(SYS_capset, &header, data) < 0) fail(code, "setting capabilities: %s", strerror(errno));
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(code, "setting no_new_privs: %s", strerror(errno));
}

#endif
