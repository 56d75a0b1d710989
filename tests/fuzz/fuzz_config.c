/*
 * fuzz_config: the INI file as pgfold reads it (config/load.c over inih, config/config.c's key
 * table, config/value.c's value parsers), then validation and the reload comparison.
 *
 * Input: the file's bytes. They are written to a memfd and loaded through its /proc/self/fd
 * path, so config_load_file runs exactly as for a real file (fopen, our line reader, inih).
 * Invariants:
 *   - a file that fails leaves the settings untouched and says why: an error text that names
 *     the file, and a reload comparison against the settings before that finds no change;
 *   - loading the same file again over its own result changes nothing;
 *   - config_validate and config_reload_tunables run on whatever loaded, and their messages
 *     are NUL-terminated within their buffers.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/fuzz/fuzz_util.h"

static int memfd = -1;
static char path[64];

static void
setup(void)
{
    memfd = memfd_create("pgfold-fuzz.ini", 0);
    FUZZ_CHECK(memfd >= 0, "memfd_create");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
}

/* Number of keys that differ between a and b, by the reload comparison. */
static int
differences(const struct config *a, const struct config *b, char *changed, size_t len)
{
    struct config dst = *a;
    changed[0] = '\0';
    int n = config_reload_tunables(&dst, b, changed, len);
    FUZZ_CHECK(memchr(changed, 0, len) != NULL, "changed text not terminated");
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0)
        setup();
    FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
    FUZZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

    static struct config before, c, again;
    static char err[1024], changed[4096];
    config_defaults(&before);
    c = before;
    memset(err, 0x55, sizeof(err));
    int rc = config_load_file(&c, path, err, sizeof(err));
    FUZZ_CHECK(rc <= 0, "config_load_file %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL, "error text not terminated");
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0, "error does not name the file: %s", err);
        FUZZ_CHECK(differences(&before, &c, changed, sizeof(changed)) == 0 && changed[0] == '\0',
                   "a failed load changed the settings: %s", changed);
        return 0;
    }
    again = c;
    FUZZ_CHECK(config_load_file(&again, path, err, sizeof(err)) == 0, "second load failed: %s",
               err);
    FUZZ_CHECK(differences(&c, &again, changed, sizeof(changed)) == 0 && changed[0] == '\0',
               "loading the file twice differs: %s", changed);

    (void)differences(&before, &c, changed, sizeof(changed));
    memset(err, 0x55, sizeof(err));
    if (config_validate(&c, err, sizeof(err)) < 0)
        FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL, "validate text not terminated");
    char *small = malloc(64); /* a short buffer is cut, not overrun */
    FUZZ_CHECK(small != NULL, "malloc");
    (void)differences(&c, &before, small, 64);
    free(small);
    return 0;
}
