// identity.h: Docker's --user resolved inside a container's root, shared by
// launch.c (run) and enter.c (exec). Each native/*.c is its own static binary,
// so this header holds static functions; the includer defines fail() and
// MAX_PATH first.
//
// uid, uid:gid, name, name:group: numbers need no passwd entry (a bare uid then
// gets gid 0); names must exist in the image's /etc/passwd and /etc/group, never
// the host's. Supplementary groups come from the image's /etc/group, HOME from
// its passwd entry.
#ifndef MYDOCKER_IDENTITY_H
#define MYDOCKER_IDENTITY_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *format, ...);

struct identity {
    uid_t uid;
    gid_t gid;
    gid_t groups[NGROUPS_MAX];
    int group_count;
    char home[MAX_PATH];
};

// Splits a passwd/group line at ':' in place; returns the number of fields.
static int split_fields(char *line, char **fields, int max) {
    int count = 0;
    for (char *cursor = line; count < max; count++) {
        fields[count] = cursor;
        cursor = strchr(cursor, ':');
        if (cursor == NULL) return count + 1;
        *cursor++ = '\0';
    }
    return count;
}

// A decimal uid or gid (not the reserved -1).
static bool parse_id(const char *text, unsigned long *id) {
    if (text == NULL || *text == '\0') return false;
    char *end;
    errno = 0;
    *id = strtoul(text, &end, 10);
    return *end == '\0' && errno == 0 && *id <= 0xFFFFFFFEUL;
}

// Looks `user` (a name or a number) up in the container's /etc/passwd.
static bool find_passwd_entry(const char *user, struct identity *identity, char *name, size_t name_size) {
    FILE *file = fopen("/etc/passwd", "re");
    if (file == NULL) return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[7];
        if (split_fields(line, fields, 7) < 7) continue;
        unsigned long uid, gid;
        if (!parse_id(fields[2], &uid) || !parse_id(fields[3], &gid)) continue;
        unsigned long wanted;
        if (strcmp(fields[0], user) != 0 && !(parse_id(user, &wanted) && wanted == uid)) continue;
        identity->uid = uid;
        identity->gid = gid;
        snprintf(identity->home, sizeof identity->home, "%s", fields[5][0] ? fields[5] : "/");
        snprintf(name, name_size, "%s", fields[0]);
        found = true;
    }
    fclose(file);
    return found;
}

// Collects the supplementary groups of `member` and resolves `group` (a name
// or number, or NULL) to its gid. True when `group` was found in the file.
static bool scan_groups(const char *group, gid_t *gid, const char *member, struct identity *identity) {
    FILE *file = fopen("/etc/group", "re");
    if (file == NULL) return false;
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[4];
        if (split_fields(line, fields, 4) < 4) continue;
        unsigned long id;
        if (!parse_id(fields[2], &id)) continue;
        unsigned long wanted;
        bool matches = group != NULL && (strcmp(fields[0], group) == 0 || (parse_id(group, &wanted) && wanted == id));
        if (matches && !found) {
            *gid = id;
            found = true;
        }
        if (member[0] == '\0' || identity->group_count >= NGROUPS_MAX) continue;
        for (char *name = strtok(fields[3], ","); name != NULL; name = strtok(NULL, ",")) {
            if (strcmp(name, member) == 0 && identity->group_count < NGROUPS_MAX) identity->groups[identity->group_count++] = id;
        }
    }
    fclose(file);
    return found;
}

// Resolves `spec` ('' is root) inside the current root; an unknown name fails
// with `unknown_code`.
static void resolve_user(const char *spec, struct identity *identity, int unknown_code) {
    char user[256], name[256] = "";
    snprintf(user, sizeof user, "%s", spec[0] ? spec : "0");
    char *group = strchr(user, ':');
    if (group != NULL) *group++ = '\0';

    memset(identity, 0, sizeof *identity);
    strcpy(identity->home, "/");
    unsigned long id;
    bool numeric_user = parse_id(user, &id);
    if (!find_passwd_entry(user, identity, name, sizeof name)) {
        if (!numeric_user) fail(unknown_code, "unable to find user %s: no matching entries in passwd file", user);
        identity->uid = id;
        identity->gid = 0;
    }

    gid_t gid = identity->gid;
    bool group_found = scan_groups(group, &gid, name, identity);
    if (group != NULL && !group_found) {
        if (!parse_id(group, &id)) fail(unknown_code, "unable to find group %s: no matching entries in group file", group);
        gid = id;
    }
    identity->gid = gid;
}

#endif
