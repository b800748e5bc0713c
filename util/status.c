/* Names of the shared result codes. */
#include "util/status.h"

const char *rh_status_name(enum rh_status st)
{
    switch (st) {
    case RH_OK:
        return "ok";
    case RH_NOT_FOUND:
        return "not_found";
    case RH_CONFLICT:
        return "conflict";
    case RH_INVALID:
        return "invalid";
    case RH_UNAVAILABLE:
        return "unavailable";
    case RH_TRANSIENT:
        return "transient";
    case RH_PERMANENT:
        return "permanent";
    case RH_LEASE_LOST:
        return "lease_lost";
    case RH_CANCELLED:
        return "cancelled";
    case RH_STOPPING:
        return "stopping";
    case RH_PARKED:
        return "parked";
    }
    return "unknown";
}
