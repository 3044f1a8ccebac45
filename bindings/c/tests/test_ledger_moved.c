/* A ledger file deleted, renamed or replaced while a ledger has it open. Writes after that would be
 * acknowledged and then lost (deleted, renamed: the write-ahead log stays under the old name, and
 * SQLite does not fold it into a moved file when it closes it), or land in the file put there since
 * (replaced: it then reads as "database disk image is malformed"). The next write must be refused with
 * FORMI_ESTORAGE, and every write acknowledged before must be in the file where it now is. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

#define LIT(s) (s), strlen(s)

static char dir[] = "/tmp/formi-moved-XXXXXX";

static const char *file(const char *name) {
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 256, "%s/%s", dir, name);
    return path;
}

static int record(formi_ledger *l, const char *id) {
    char json[512], *out = NULL;
    snprintf(json, sizeof json,
             "{\"idempotency_key\":\"rec-%s\",\"interaction_id\":\"%s\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
             "\"started_at\":1710000000,\"ended_at\":1710000060,\"outcome\":\"resolved\"}", id, id);
    int status = formi_ledger_record(l, LIT(json), &out);
    formi_free(out);
    return status;
}

/* Whether interaction `id` is in the ledger at `path` (opened afresh), which must read cleanly. */
static int has(const char *path, const char *id) {
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    if (!l) return 0;
    char query[200], *out = NULL;
    CHECK_STATUS(formi_ledger_query(l, LIT("{\"query\":\"verify\"}"), &out), FORMI_OK);
    CHECK(out && strstr(out, "\"ok\":true"));
    formi_free(out);
    out = NULL;
    snprintf(query, sizeof query, "{\"query\":\"interaction\",\"interaction_id\":\"%s\"}", id);
    int status = formi_ledger_query(l, LIT(query), &out);
    CHECK(status == FORMI_OK || status == FORMI_ENOTFOUND);
    formi_free(out);
    formi_ledger_close(l);
    return status == FORMI_OK;
}

/* The write after the move is refused, says why, and so is every one after it. */
static void check_refused(formi_ledger *l, const char *id) {
    CHECK_STATUS(record(l, id), FORMI_ESTORAGE);
    CHECK(strstr(formi_ledger_last_error(l), "deleted, renamed or replaced") != NULL);
    char *out = NULL;
    CHECK_STATUS(formi_ledger_credit(l, LIT("{\"op\":\"add\",\"idempotency_key\":\"pay-late\",\"outlet_id\":\"o1\","
                                            "\"agent_id\":\"a1\",\"amount\":5}"), &out), FORMI_ESTORAGE);
    CHECK(out == NULL);
    /* Reading the open file still works. */
    CHECK_STATUS(formi_ledger_query(l, LIT("{\"query\":\"interaction\",\"interaction_id\":\"call-1\"}"), &out), FORMI_OK);
    formi_free(out);
}

static void test_deleted(void) {
    const char *path = file("deleted.db");
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    CHECK_STATUS(record(l, "call-1"), FORMI_OK);
    CHECK(unlink(path) == 0);
    check_refused(l, "call-2");
    formi_ledger_close(l);
}

static void test_renamed(void) {
    const char *path = file("renamed.db"), *moved = file("moved.db");
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "call-%d", i);
        CHECK_STATUS(record(l, id), FORMI_OK);
    }
    CHECK(rename(path, moved) == 0);
    check_refused(l, "call-4");
    formi_ledger_close(l);
    /* Every acknowledged write is in the file where it is now, the refused one is not. */
    CHECK(has(moved, "call-1") && has(moved, "call-2") && has(moved, "call-3"));
    CHECK(!has(moved, "call-4"));

    /* Renamed, then closed with no write after: what was acknowledged is in the moved file too. */
    path = file("renamed-quiet.db"), moved = file("moved-quiet.db");
    l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    CHECK_STATUS(record(l, "quiet-1"), FORMI_OK);
    CHECK(rename(path, moved) == 0);
    formi_ledger_close(l);
    CHECK(has(moved, "quiet-1"));
}

static void test_replaced(void) {
    const char *path = file("replaced.db"), *other = file("other.db");
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    CHECK_STATUS(record(l, "call-1"), FORMI_OK);
    formi_ledger *o = formi_ledger_open(other, NULL);
    CHECK(o != NULL);
    CHECK_STATUS(record(o, "other-1"), FORMI_OK);
    formi_ledger_close(o);
    CHECK(rename(other, path) == 0);
    check_refused(l, "call-2");
    /* The replacement reads cleanly, with its own content only, even before the old ledger closes. */
    CHECK(has(path, "other-1"));
    CHECK(!has(path, "call-1") && !has(path, "call-2"));
    formi_ledger_close(l);
    CHECK(has(path, "other-1"));
    CHECK(!has(path, "call-2"));
}

int main(void) {
    if (!mkdtemp(dir)) return 2;
    test_deleted();
    test_renamed();
    test_replaced();
    char command[200];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_ledger_moved");
}
