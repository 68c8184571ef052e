/* tests/unit/harness.h - a tiny layer over CUnit: each test file lists its tests with
 * MIAW_TESTS(...) and gets a main() that runs them and exits non-zero on any failure. */
#ifndef MIAW_TEST_HARNESS_H
#define MIAW_TEST_HARNESS_H
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdlib.h>

typedef struct { const char *name; void (*fn)(void); } miaw_test_case;

/* a small repeatable pseudo-random sequence for generated inputs (xorshift32; *state
 * must start non-zero) */
static inline unsigned miaw_test_rand(unsigned *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}
#define MIAW_T(f) {#f, f}

static inline int miaw_run_tests(const char *suite, const miaw_test_case *cases, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    for (size_t i = 0; i < n; i++) CU_add_test(s, cases[i].name, cases[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return (fails || run != n) ? 1 : 0;
}
#define MIAW_TESTS(suite, ...)                                                      \
    int main(void)                                                                  \
    {                                                                               \
        static const miaw_test_case cases[] = {__VA_ARGS__};                        \
        return miaw_run_tests(suite, cases, sizeof cases / sizeof cases[0]);        \
    }
#endif
