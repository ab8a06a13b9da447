// Headers shared by the generated C corpora ((a) and (b)): the few BPF UAPI
// definitions a program needs (written out here, so no kernel headers are
// needed), libbpf-style macros, helper declarations and packet headers.

export const BPF_DEFS_H = `#ifndef BENCH_BPF_DEFS_H
#define BENCH_BPF_DEFS_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* UAPI context structs (the verifier checks context accesses by offset). */
struct xdp_md {
  u32 data;
  u32 data_end;
  u32 data_meta;
  u32 ingress_ifindex;
  u32 rx_queue_index;
  u32 egress_ifindex;
};

struct __sk_buff {
  u32 len;
  u32 pkt_type;
  u32 mark;
  u32 queue_mapping;
  u32 protocol;
  u32 vlan_present;
  u32 vlan_tci;
  u32 vlan_proto;
  u32 priority;
  u32 ingress_ifindex;
  u32 ifindex;
  u32 tc_index;
  u32 cb[5];
  u32 hash;
  u32 tc_classid;
  u32 data;
  u32 data_end;
  u32 napi_id;
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
#endif
`;

export const NET_H = `#ifndef BENCH_NET_H
#define BENCH_NET_H
#include "bpf_defs.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PROTO_TCP 6
#define PROTO_UDP 17

struct eth_hdr {
  u8 dst[6];
  u8 src[6];
  u16 proto;
};

struct ip4_hdr {
  u8 ver_ihl;
  u8 tos;
  u16 tot_len;
  u16 id;
  u16 frag_off;
  u8 ttl;
  u8 protocol;
  u16 check;
  u32 saddr;
  u32 daddr;
};

struct ip6_hdr {
  u32 vtc_flow;
  u16 payload_len;
  u8 nexthdr;
  u8 hop_limit;
  u8 saddr[16];
  u8 daddr[16];
};

struct l4_ports {
  u16 sport;
  u16 dport;
};

struct flow_key {
  u32 saddr;
  u32 daddr;
  u16 sport;
  u16 dport;
  u8 proto;
  u8 family;
  u16 pad;
};

struct flow_stats {
  u64 packets;
  u64 bytes;
  u64 last_seen;
  u32 flags;
  u32 score;
};

union addr_any {
  u32 v4;
  u8 v6[16];
};

enum verdict_reason {
  REASON_NONE,
  REASON_RATE,
  REASON_SCORE,
  REASON_POLICY,
  REASON_MALFORMED,
};

struct verdict {
  u32 action;
  enum verdict_reason reason;
  u64 cookie;
};

static __always_inline u16 bswap16(u16 x) { return __builtin_bswap16(x); }
static __always_inline u32 bswap32(u32 x) { return __builtin_bswap32(x); }
#endif
`;

/** Packet parsing shared by every program TU: static inline, as in real BPF code. */
export const PARSE_H = `#ifndef BENCH_PARSE_H
#define BENCH_PARSE_H
#include "net.h"

static __always_inline int parse_flow(void *data, void *data_end, struct flow_key *k) {
  struct eth_hdr *eth = data;
  if ((void *)(eth + 1) > data_end)
    return -1;
  if (eth->proto == bswap16(ETH_P_IP)) {
    struct ip4_hdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
      return -1;
    k->saddr = ip->saddr;
    k->daddr = ip->daddr;
    k->proto = ip->protocol;
    k->family = 4;
    struct l4_ports *p = (void *)(ip + 1);
    if ((ip->protocol == PROTO_TCP || ip->protocol == PROTO_UDP) && (void *)(p + 1) <= data_end) {
      k->sport = p->sport;
      k->dport = p->dport;
    }
    return 0;
  }
  if (eth->proto == bswap16(ETH_P_IPV6)) {
    struct ip6_hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > data_end)
      return -1;
    u32 s = 0, d = 0;
    for (int i = 0; i < 16; i += 4) {
      s ^= (u32)ip6->saddr[i] << 24 | (u32)ip6->saddr[i + 1] << 16 | (u32)ip6->saddr[i + 2] << 8 | ip6->saddr[i + 3];
      d ^= (u32)ip6->daddr[i] << 24 | (u32)ip6->daddr[i + 1] << 16 | (u32)ip6->daddr[i + 2] << 8 | ip6->daddr[i + 3];
    }
    k->saddr = s;
    k->daddr = d;
    k->proto = ip6->nexthdr;
    k->family = 6;
    return 0;
  }
  return 1;
}
#endif
`;
