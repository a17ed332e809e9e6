/*
 * tests/test.h - the few assertions corral's C tests use.
 *
 * Each test file is its own ctest (one process per file, so a test that
 * dies by a signal is reported by ctest and does not take the run down).
 * A failed CHECK prints where and why and counts; TEST_MAIN_END prints
 * "N passed, N failed" and sets the exit code.
 */
#ifndef CORRAL_TEST_H
#define CORRAL_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_, test_failed_;

#define CHECK(cond) CHECK_MSG(cond, "%s", #cond)
#define CHECK_MSG(cond, ...)                                              \
	do {                                                              \
		if (cond) {                                               \
			test_passed_++;                                   \
		} else {                                                  \
			test_failed_++;                                   \
			fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)
#define CHECK_INT(a, b)                                                    \
	CHECK_MSG((int64_t)(a) == (int64_t)(b), "%s == %s (%" PRId64 " vs %" PRId64 ")", \
	    #a, #b, (int64_t)(a), (int64_t)(b))
#define CHECK_STR(a, b)                                                    \
	CHECK_MSG((a) != NULL && strcmp((a), (b)) == 0, "%s == \"%s\" (got \"%s\")", \
	    #a, (b), (a) ? (a) : "(null)")
#define CHECK_NEAR(a, b, tol)                                              \
	CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%s ~ %s (%.17g vs %.17g)", \
	    #a, #b, (double)(a), (double)(b))
/* Stop the test file at once (for failures that make the rest pointless). */
#define REQUIRE(cond)                                                      \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: REQUIRED: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                          \
		}                                                         \
	} while (0)

static inline int test_summary_(void)
{
	printf("%d passed, %d failed\n", test_passed_, test_failed_);
	return test_failed_ ? 1 : 0;
}
#define TEST_MAIN_END() return test_summary_()

#endif
