#include "common.h"

// Kept out of line so the linker has a real cross-file call to resolve.
__attribute__((noinline)) int classify(unsigned sum) {
  return sum % 7 == 0 ? XDP_DROP : XDP_PASS;
}
