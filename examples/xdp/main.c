// XDP program linked from several files and a static library of bitcode.
// It returns XDP_DROP (1) for packets whose first 16 bytes sum to a multiple
// of 7 (per the checksum in libcsum.a) and XDP_PASS (2) otherwise.
#include "common.h"

SEC("xdp")
int xdp_filter(struct xdp_md *ctx) {
  const unsigned char *data = (const unsigned char *)(long)ctx->data;
  const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
  if (data + WINDOW > end) return XDP_ABORTED;
  return classify(checksum16(data));
}

char LICENSE[] SEC("license") = "GPL";
