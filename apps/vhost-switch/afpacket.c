/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "afpacket.h"
#include "json.h"
#include "switch.h"

#define RX_RING_LEN ((size_t)AFP_RX_BLOCK * AFP_RX_BLOCKS)
#define TX_RING_LEN ((size_t)AFP_TX_FRAME * AFP_TX_FRAMES)
/* where frame data goes in a TPACKET_V2 send slot */
#define TX_DATA (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

static int packet_socket(int ifindex, int version)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version,
		       sizeof(version)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int afp_open(struct afp *a, const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname), one = 1, err;
	struct tpacket_req3 rx = {
		.tp_block_size = AFP_RX_BLOCK, .tp_block_nr = AFP_RX_BLOCKS,
		.tp_frame_size = AFP_RX_FRAME,
		.tp_frame_nr = AFP_RX_BLOCK / AFP_RX_FRAME * AFP_RX_BLOCKS,
		.tp_retire_blk_tov = 1, /* ms: latency when traffic is low */
	};
	struct tpacket_req tx = {
		.tp_block_size = AFP_TX_FRAME, .tp_block_nr = AFP_TX_FRAMES,
		.tp_frame_size = AFP_TX_FRAME, .tp_frame_nr = AFP_TX_FRAMES,
	};
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	/* the send socket would get a copy of every frame: none */
	struct sock_filter none = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &none };

	memset(a, 0, sizeof(*a));
	a->rx_fd = a->tx_fd = -1;
	if (!ifindex)
		return -ENODEV;
	a->rx_fd = packet_socket(ifindex, TPACKET_V3);
	if (a->rx_fd < 0) {
		err = a->rx_fd;
		goto fail;
	}
	/* our own sends are not frames to forward again */
	setsockopt(a->rx_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    setsockopt(a->rx_fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0)
		goto fail_errno;
	a->rx_ring = mmap(NULL, RX_RING_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			  a->rx_fd, 0);
	if (a->rx_ring == MAP_FAILED) {
		a->rx_ring = NULL;
		goto fail_errno;
	}
	a->tx_fd = packet_socket(ifindex, TPACKET_V2);
	if (a->tx_fd < 0) {
		err = a->tx_fd;
		goto fail;
	}
	if (setsockopt(a->tx_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(a->tx_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(a->tx_fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0)
		goto fail_errno;
	a->tx_ring = mmap(NULL, TX_RING_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			  a->tx_fd, 0);
	if (a->tx_ring == MAP_FAILED) {
		a->tx_ring = NULL;
		goto fail_errno;
	}
	return 0;
fail_errno:
	err = -errno;
fail:
	afp_close(a);
	return err;
}

void afp_close(struct afp *a)
{
	if (a->rx_ring)
		munmap(a->rx_ring, RX_RING_LEN);
	if (a->tx_ring)
		munmap(a->tx_ring, TX_RING_LEN);
	if (a->rx_fd >= 0)
		close(a->rx_fd);
	if (a->tx_fd >= 0)
		close(a->tx_fd);
	a->rx_ring = a->tx_ring = NULL;
	a->rx_fd = a->tx_fd = -1;
}

static struct tpacket_block_desc *rx_block(struct afp *a)
{
	return (struct tpacket_block_desc *)(a->rx_ring +
					     (size_t)a->rx_block * AFP_RX_BLOCK);
}

/* One received frame into a packet buffer (the VLAN tag the driver took
 * off put back); NULL if dropped. */
static struct vhost_pktbuf *rx_copy(struct afp *a, const struct tpacket3_hdr *h,
				    struct vhost_pktbuf_pool *pool, bool *empty)
{
	const uint8_t *d = (const uint8_t *)h + h->tp_mac;
	uint32_t len = h->tp_snaplen;
	bool tag = h->tp_status & TP_STATUS_VLAN_VALID;
	struct vhost_pktbuf *p;
	uint8_t *out;

	*empty = false;
	/* the kernel's offsets: inside this block, and whole frames only */
	if (h->tp_mac + (size_t)len > AFP_RX_BLOCK || len < h->tp_len || len < 14 ||
	    len + 4u > vhost_pktbuf_pool_data_room(pool)) {
		atomic_fetch_add_explicit(&a->rx_trunc, 1, memory_order_relaxed);
		return NULL;
	}
	p = vhost_pktbuf_alloc(pool);
	if (!p) {
		*empty = true;
		return NULL;
	}
	out = vhost_pktbuf_append(p, (uint16_t)(len + (tag ? 4 : 0)));
	if (!tag) {
		memcpy(out, d, len);
	} else {
		uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ?
				h->hv1.tp_vlan_tpid : ETH_P_8021Q;

		memcpy(out, d, 12);
		out[12] = (uint8_t)(tpid >> 8);
		out[13] = (uint8_t)tpid;
		out[14] = (uint8_t)(h->hv1.tp_vlan_tci >> 8);
		out[15] = (uint8_t)h->hv1.tp_vlan_tci;
		memcpy(out + 16, d + 12, len - 12);
	}
	return p;
}

uint16_t afp_rx(struct sw_port *port, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **pkts, uint16_t n)
{
	struct afp *a = port->afp;
	uint16_t got = 0;

	while (got < n) {
		struct tpacket_block_desc *b = rx_block(a);
		const struct tpacket3_hdr *h;
		struct vhost_pktbuf *p;
		bool empty;

		if (!a->rx_left) {
			/* pairs with the kernel's release of the block */
			if (!(__atomic_load_n(&b->hdr.bh1.block_status,
					      __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			a->rx_left = b->hdr.bh1.num_pkts;
			a->rx_pkt = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
		}
		if (a->rx_left) {
			h = (const struct tpacket3_hdr *)a->rx_pkt;
			p = rx_copy(a, h, pool, &empty);
			if (empty)
				break; /* pool empty: this frame next time */
			if (p)
				pkts[got++] = p;
			a->rx_left--;
			/* a next offset that leaves the block ends it */
			if (a->rx_left && (h->tp_next_offset == 0 ||
					   a->rx_pkt + h->tp_next_offset >=
					   (uint8_t *)b + AFP_RX_BLOCK))
				a->rx_left = 0;
			a->rx_pkt += h->tp_next_offset;
			if (a->rx_left)
				continue;
		}
		/* block read: back to the kernel */
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		a->rx_block = (a->rx_block + 1) & (AFP_RX_BLOCKS - 1);
	}
	return got;
}

uint16_t afp_tx(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		uint16_t n)
{
	struct afp *a = port->afp;
	uint16_t queued = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct vhost_pktbuf *p = pkts[i];
		uint8_t *slot = a->tx_ring + (size_t)a->tx_head * AFP_TX_FRAME;
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
		struct virtio_net_hdr *vh = (struct virtio_net_hdr *)(slot + TX_DATA);
		uint8_t *d = (uint8_t *)(vh + 1);
		bool tag = port->pnet.trunk;
		uint32_t len = p->pkt_len + (tag ? 4 : 0), off = 0;

		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
		    TP_STATUS_AVAILABLE) {
			atomic_fetch_add_explicit(&a->tx_full, n - i,
						  memory_order_relaxed);
			break; /* the kernel has not sent the ring yet */
		}
		if (TX_DATA + sizeof(*vh) + len > AFP_TX_FRAME || p->pkt_len < 14) {
			atomic_fetch_add_explicit(&a->tx_bad, 1, memory_order_relaxed);
			continue;
		}
		tap_vnet_hdr(p, vh);
		if (tag) {
			uint16_t net = pkt_net(p);

			if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
				vh->csum_start = (uint16_t)(vh->csum_start + 4);
			if (vh->hdr_len)
				vh->hdr_len = (uint16_t)(vh->hdr_len + 4);
			vhost_pktbuf_read(p, 0, 12, d);
			d[12] = ETH_P_8021Q >> 8;
			d[13] = ETH_P_8021Q & 0xff;
			d[14] = (uint8_t)(net >> 8);
			d[15] = (uint8_t)net;
			d += 16;
			off = 12;
		}
		vhost_pktbuf_read(p, off, p->pkt_len - off, d);
		h->tp_len = (uint32_t)sizeof(*vh) + len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
				 __ATOMIC_RELEASE);
		a->tx_head = (a->tx_head + 1) & (AFP_TX_FRAMES - 1);
		queued++;
	}
	/* one system call for the burst; the kernel sends every slot we
	 * marked (a refused frame comes back as WRONG_FORMAT: reset it) */
	if (!queued || send(a->tx_fd, NULL, 0, MSG_DONTWAIT) >= 0 ||
	    errno == EAGAIN || errno == ENOBUFS)
		return queued;
	for (unsigned s = 0; s < AFP_TX_FRAMES; s++) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(a->tx_ring +
					 (size_t)s * AFP_TX_FRAME);

		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) ==
		    TP_STATUS_WRONG_FORMAT) {
			atomic_fetch_add_explicit(&a->tx_bad, 1, memory_order_relaxed);
			__atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE,
					 __ATOMIC_RELEASE);
		}
	}
	return queued;
}

void afp_print_stats(const struct afp *a, const char *ifname, FILE *o)
{
	fprintf(o, "nic %s: drops: rx_too_big %" PRIu64 " tx_ring_full %" PRIu64
		" tx_bad %" PRIu64 "\n", ifname, atomic_load(&a->rx_trunc),
		atomic_load(&a->tx_full), atomic_load(&a->tx_bad));
}

void afp_json(const struct afp *a, struct jw *w)
{
	jw_u64(w, "drop_rx_too_big", atomic_load(&a->rx_trunc));
	jw_u64(w, "drop_tx_ring_full", atomic_load(&a->tx_full));
	jw_u64(w, "drop_tx_bad", atomic_load(&a->tx_bad));
}
