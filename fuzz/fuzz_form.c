/* libFuzzer target: the x-www-form-urlencoded decoder on arbitrary bodies. A decoded value
 * must never be longer than its input or than the cap. */
#include "handlers/form.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *out = NULL;
    size_t n = 0;
    if (form_decode(in, size, 4096, &out, &n) == RH_OK && (n > size || n > 4096))
        abort();
    free(out);
    out = NULL;
    if (form_field_get(in, size, "payload", 1 << 20, &out, &n) == RH_OK && n > size)
        abort();
    free(out);
    return 0;
}
