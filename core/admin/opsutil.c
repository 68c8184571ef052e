/* core/admin/opsutil.c - small pieces of the admin operations that need no
 * supervisord: per-port flock locks with a bounded wait (and the unlinked-file
 * re-check), the "is this port bound" probe, state mapping and uptime text. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/instcfg.h"
#include "admin/ops.h"
#include "base/util.h"

#define PATH_CAP 4096

const char *miaw_op_guide_state(const char *s)
{
    if (!s) return "UNKNOWN";
    if (!strcmp(s, "RUNNING")) return "RUNNING";
    if (!strcmp(s, "STARTING") || !strcmp(s, "BACKOFF")) return "STARTING";
    if (!strcmp(s, "STOPPED") || !strcmp(s, "STOPPING") || !strcmp(s, "EXITED")) return "STOPPED";
    if (!strcmp(s, "FATAL")) return "FATAL";
    return "UNKNOWN";
}

void miaw_op_uptime(char *out, size_t cap, long long s)
{
    if (s < 0) s = 0;
    long long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
    if (h) snprintf(out, cap, "%lldh%lldm%llds", h, m, sec);
    else if (m) snprintf(out, cap, "%lldm%llds", m, sec);
    else snprintf(out, cap, "%llds", sec);
}

int miaw_op_lock(const miaw_admin_cfg *c, int port, long wait_ms)
{
    char path[PATH_CAP];
    if (miaw_inst_lock_path(c, port, path, sizeof path)) return -ENAMETOOLONG;
    uint64_t deadline = miaw_mono_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            struct stat a, b;
            /* a DELETE unlinks the lock file while holding it: make sure we locked the
             * file that is at the path now, not an orphan */
            if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
                char pid[24];
                int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
                if (ftruncate(fd, 0) == 0 && write(fd, pid, (size_t)n) < 0) { /* informative only */ }
                return fd;
            }
            close(fd);
            continue;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK && e != EINTR) return -e;
        if (miaw_mono_ms() >= deadline) return -EBUSY;
        miaw_sleep_ms(25);
    }
}

void miaw_op_unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing drops the flock */
}

int miaw_op_port_in_use(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 0;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    int busy = bind(s, (struct sockaddr *)&a, sizeof a) != 0 && errno == EADDRINUSE;
    close(s);
    return busy;
}
