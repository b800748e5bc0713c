/* Unit tests for the Standard Webhooks primitives (util/swh.c): the signer against the
 * reference example of the Standard Webhooks libraries, and accepted by the verifier. */
#include "handlers/verify.h"
#include "util/swh.h"

#include <criterion/criterion.h>
#include <string.h>

Test(swh, sign_matches_the_reference_and_verifies)
{
    static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static const char body[] = "{\"test\": 2432232314}";
    unsigned char key[SWH_MAX_KEY];
    size_t keylen = 0;
    char sig[SWH_SIGNATURE_LEN];
    cr_assert_eq(swh_key_decode(secret, strlen(secret), key, &keylen), RH_OK);
    swh_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body, strlen(body), sig);
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    struct verify_swh_input in = {
        .id = "msg_p5jXN8AQM9LWM0D4loKWxJek",
        .timestamp = "1614265330",
        .signature = sig,
        .body = body,
        .len = strlen(body),
        .now_s = 1614265330,
        .tolerance_s = VERIFY_SWH_TOLERANCE_S,
    };
    cr_assert_eq(verify_swh(secret, &in, NULL), RH_OK);
}

Test(swh, base64_encode_pads)
{
    char out[16];
    swh_base64_encode((const unsigned char *)"hello", 5, out);
    cr_assert_str_eq(out, "aGVsbG8=");
    swh_base64_encode((const unsigned char *)"hell", 4, out);
    cr_assert_str_eq(out, "aGVsbA==");
    swh_base64_encode((const unsigned char *)"", 0, out);
    cr_assert_str_eq(out, "");
}
