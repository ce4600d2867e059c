/* Unit tests for strbuf.h: hand-assembled strings that stop at the end. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "strbuf.h"

Test(strbuf, builds_the_same_text_as_snprintf)
{
    char a[128], b[128];
    sy_strbuf sb = sy_sb(a, sizeof a);
    SY_SB_LIT(&sb, "x-switchyard-attempts: ");
    sy_sb_u64(&sb, 0);
    SY_SB_LIT(&sb, " ");
    sy_sb_u64(&sb, 18446744073709551615ull);
    SY_SB_LIT(&sb, " ");
    sy_sb_hex64(&sb, 0x00ab0000000000cdull);
    sy_sb_str(&sb, "\r\n");
    snprintf(b, sizeof b, "x-switchyard-attempts: %d %llu %016llx\r\n", 0, 18446744073709551615ull,
             0x00ab0000000000cdull);
    cr_assert_str_eq(a, b);
    cr_assert_eq(sb.n, strlen(b));
    cr_assert_not(sb.overflow);
}

Test(strbuf, stops_at_the_end_and_says_so)
{
    char buf[8];
    sy_strbuf sb = sy_sb(buf, sizeof buf);
    sy_sb_str(&sb, "1234567");
    cr_assert_not(sb.overflow, "7 characters and the NUL fit in 8");
    cr_assert_str_eq(buf, "1234567");
    sy_sb_u64(&sb, 9);
    cr_assert(sb.overflow);
    cr_assert_str_eq(buf, "1234567", "nothing past the end, still terminated");
    sb = sy_sb(buf, sizeof buf);
    sy_sb_hex64(&sb, 1);
    cr_assert(sb.overflow);
    cr_assert_str_eq(buf, "0000000", "cut to what fits");
}
