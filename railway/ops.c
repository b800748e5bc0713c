/* The operation table's iteration, for the schema-drift check. */
#include "railway/railway.h"

void railway_op_each(void (*fn)(void *ud, const char *file, const char *op, const char *text),
                     void *ud)
{
    for (int i = 0; i < RAILWAY_OP_COUNT; i++)
        fn(ud, railway_ops[i].file, railway_ops[i].name, railway_ops[i].text);
}
