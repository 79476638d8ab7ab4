/* What the C tests share: CHECK and OK record a failed check (file, line, the
 * condition) and return from the test; checks_done reports and gives the exit
 * status. Included by one test program each (the counter is per program). */
#ifndef PIERHEAD_TESTS_CHECK_H
#define PIERHEAD_TESTS_CHECK_H

#include <stdio.h>

#include "pierhead.h"

static int failures = 0;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)
#define OK(call) CHECK((call) == PIERHEAD_RESULT_OK)

/* After the tests: "all <what> passed" and 0, or the failure count and 1. */
static int checks_done(const char *what) {
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all %s passed\n", what);
    return 0;
}

#endif
