/* chunk.h — placeholder: the codec's header replaces it. */
#ifndef PANTAU_CHUNK_H
#define PANTAU_CHUNK_H
#include <stdint.h>
struct chunk_point {
    int64_t ts;
    double value;
};
#endif
