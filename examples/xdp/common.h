#pragma once
#define SEC(name) __attribute__((section(name), used))
#define WINDOW 16
enum { XDP_ABORTED = 0, XDP_DROP = 1, XDP_PASS = 2 };
struct xdp_md {
  unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};
int classify(unsigned sum);
unsigned checksum16(const unsigned char *data);
