#include "common.h"

unsigned checksum16(const unsigned char *data) {
  unsigned sum = 0;
  for (int i = 0; i < WINDOW; i++) sum += data[i];
  return sum;
}
