#include "distill/status.h"

const char *distill_status_string(distill_status status)
{
    switch (status) {
    case DISTILL_OK: return "DISTILL_OK";
    case DISTILL_E_INVAL: return "DISTILL_E_INVAL";
    case DISTILL_E_NOMEM: return "DISTILL_E_NOMEM";
    case DISTILL_E_SHAPE: return "DISTILL_E_SHAPE";
    case DISTILL_E_WORKSPACE: return "DISTILL_E_WORKSPACE";
    case DISTILL_E_BACKEND: return "DISTILL_E_BACKEND";
    case DISTILL_E_NUMERIC: return "DISTILL_E_NUMERIC";
    case DISTILL_E_FORMAT: return "DISTILL_E_FORMAT";
    case DISTILL_E_IO: return "DISTILL_E_IO";
    case DISTILL_E_ABI: return "DISTILL_E_ABI";
    case DISTILL_E_CANCELLED: return "DISTILL_E_CANCELLED";
    case DISTILL_E_UNSUPPORTED: return "DISTILL_E_UNSUPPORTED";
    default: return "DISTILL_E_UNKNOWN";
    }
}
