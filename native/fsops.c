/*
 * fsops: the file system operations Node cannot do, for the layer applier.
 *
 * Node has no mknod and no xattr calls, so src/snapshot/apply.ts spawns this
 * program (at most once per layer, only when a layer needs it) and sends it
 * requests on stdin; it answers each with one line on stdout, in order.
 *
 * Request: a 4-byte little-endian payload length, then the payload: fields
 * separated by NUL bytes. The first three fields are always the operation,
 * the root directory and a path relative to it. The last field of an `x`
 * request is the raw xattr value and takes the rest of the payload, so it may
 * hold any bytes (security.capability is binary).
 *
 *   n ROOT PATH TYPE MODE MAJOR MINOR   mknod; TYPE is c, b or p; MODE octal
 *   x ROOT PATH NAME VALUE              lsetxattr
 *   g ROOT PATH NAME                    lgetxattr; answers "ok HEX"
 *
 * Answer: "ok\n", "ok HEX\n" (g), or "err ERRNO MESSAGE\n".
 *
 * Defence in depth: the parent of PATH is opened with openat2 and
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so even if the tree changed after
 * the applier checked it, no operation can reach outside ROOT through a
 * symlink or `..`; such a request fails with ELOOP or EXDEV instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_PAYLOAD (16 * 1024 * 1024)
#define MAX_FIELDS 8

struct request {
  char *fields[MAX_FIELDS];
  size_t count;
  /* The last field's length, for binary xattr values. */
  size_t last_length;
};

static int read_exact(void *buffer, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t got = read(STDIN_FILENO, (char *)buffer + done, length - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return done == 0 ? 0 : -1;
    done += (size_t)got;
  }
  return 1;
}

/* Splits the payload into at most `limit` NUL-separated fields; the last one
 * takes the rest of the payload, NUL bytes included. */
static void split_fields(char *payload, size_t length, size_t limit, struct request *request) {
  size_t start = 0;
  request->count = 0;
  while (request->count + 1 < limit) {
    char *end = memchr(payload + start, '\0', length - start);
    if (end == NULL) break;
    request->fields[request->count++] = payload + start;
    start = (size_t)(end - payload) + 1;
  }
  payload[length] = '\0';
  request->fields[request->count++] = payload + start;
  request->last_length = length - start;
}

static void answer_error(int error, const char *what) {
  printf("err %d %s: %s\n", error, what, strerror(error));
}

static int open_root(const char *root) {
  static char cached_root[4096];
  static int cached_fd = -1;
  if (cached_fd >= 0 && strcmp(cached_root, root) == 0) return cached_fd;
  if (cached_fd >= 0) close(cached_fd);
  cached_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cached_fd >= 0) snprintf(cached_root, sizeof cached_root, "%s", root);
  return cached_fd;
}

/* Opens the parent directory of `path` beneath `root`; `*name` receives the
 * last component. */
static int open_parent(const char *root, char *path, char **name) {
  int root_fd = open_root(root);
  if (root_fd < 0) return -1;

  /* An empty path names the root itself (an opaque marker at the top). */
  if (path[0] == '\0') {
    *name = path;
    return fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  }

  char *slash = strrchr(path, '/');
  const char *parent = ".";
  *name = path;
  if (slash != NULL) {
    *slash = '\0';
    parent = path[0] == '\0' ? "." : path;
    *name = slash + 1;
  }
  if ((*name)[0] == '\0' || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
    errno = EINVAL;
    return -1;
  }

  struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  return (int)syscall(SYS_openat2, root_fd, parent, &how, sizeof how);
}

/* The parent is reached through its /proc magic link so that the l*xattr calls
 * act on the last component without following it. */
static void proc_path(char *buffer, size_t size, int parent_fd, const char *name) {
  if (name[0] == '\0') snprintf(buffer, size, "/proc/self/fd/%d", parent_fd);
  else snprintf(buffer, size, "/proc/self/fd/%d/%s", parent_fd, name);
}

static void do_mknod(struct request *request) {
  if (request->count != 7) return answer_error(EINVAL, "mknod wants 7 fields");
  char *name;
  int parent_fd = open_parent(request->fields[1], request->fields[2], &name);
  if (parent_fd < 0) return answer_error(errno, "open parent");
  if (name[0] == '\0') {
    close(parent_fd);
    return answer_error(EINVAL, "mknod of the root");
  }

  mode_t type = request->fields[3][0] == 'c' ? S_IFCHR : request->fields[3][0] == 'b' ? S_IFBLK : S_IFIFO;
  mode_t mode = (mode_t)strtoul(request->fields[4], NULL, 8) & 07777;
  dev_t device = makedev(strtoul(request->fields[5], NULL, 10), strtoul(request->fields[6], NULL, 10));
  int result = mknodat(parent_fd, name, type | mode, type == S_IFIFO ? 0 : device);
  int saved = errno;
  close(parent_fd);
  if (result != 0) return answer_error(saved, "mknod");
  printf("ok\n");
}

static void do_setxattr(struct request *request) {
  if (request->count != 5) return answer_error(EINVAL, "setxattr wants 5 fields");
  char *name;
  int parent_fd = open_parent(request->fields[1], request->fields[2], &name);
  if (parent_fd < 0) return answer_error(errno, "open parent");

  char path[8192];
  proc_path(path, sizeof path, parent_fd, name);
  /* For the root itself the path ends in the magic link, which must be followed. */
  int result = name[0] == '\0' ? setxattr(path, request->fields[3], request->fields[4], request->last_length, 0)
                                : lsetxattr(path, request->fields[3], request->fields[4], request->last_length, 0);
  int saved = errno;
  close(parent_fd);
  if (result != 0) return answer_error(saved, "setxattr");
  printf("ok\n");
}

static void do_getxattr(struct request *request) {
  if (request->count != 4) return answer_error(EINVAL, "getxattr wants 4 fields");
  char *name;
  int parent_fd = open_parent(request->fields[1], request->fields[2], &name);
  if (parent_fd < 0) return answer_error(errno, "open parent");

  char path[8192];
  unsigned char value[65536];
  proc_path(path, sizeof path, parent_fd, name);
  ssize_t length = name[0] == '\0' ? getxattr(path, request->fields[3], value, sizeof value)
                                   : lgetxattr(path, request->fields[3], value, sizeof value);
  int saved = errno;
  close(parent_fd);
  if (length < 0) return answer_error(saved, "getxattr");
  printf("ok ");
  for (ssize_t index = 0; index < length; index++) printf("%02x", value[index]);
  printf("\n");
}

int main(void) {
  /* Modes come from the archive exactly; the umask must not trim them. */
  umask(0);
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);

  for (;;) {
    unsigned char header[4];
    int status = read_exact(header, sizeof header);
    if (status == 0) break;
    if (status < 0) return 2;

    uint32_t length = header[0] | header[1] << 8 | header[2] << 16 | (uint32_t)header[3] << 24;
    if (length > MAX_PAYLOAD) return 2;
    char *payload = malloc((size_t)length + 1);
    if (payload == NULL || read_exact(payload, length) != 1) return 2;

    struct request request;
    char operation = length > 0 ? payload[0] : '\0';
    size_t limit = operation == 'n' ? 7 : operation == 'x' ? 5 : operation == 'g' ? 4 : 3;
    split_fields(payload, length, limit, &request);
    if (operation == 'n') do_mknod(&request);
    else if (operation == 'x') do_setxattr(&request);
    else if (operation == 'g') do_getxattr(&request);
    else answer_error(EINVAL, "unknown operation");

    /* Each answer is awaited by the applier before its next step. */
    fflush(stdout);
    free(payload);
  }
  return 0;
}
