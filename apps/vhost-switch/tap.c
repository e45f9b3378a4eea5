/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TAP uplink: a kernel network interface whose frames we read and
 * write. IFF_VNET_HDR carries the virtio-net header, so checksum and
 * segmentation offloads requested by a VM pass to the kernel unchanged.
 * The kernel gives us only complete, checksummed frames (no TUNSETOFFLOAD),
 * so what we forward to VMs never needs offloads they did not negotiate.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "switch.h"

#define TAP_HDR_LEN sizeof(struct virtio_net_hdr)

int tap_open(const char *name, char *actual, size_t actual_len)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int hdr = TAP_HDR_LEN, s;

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	snprintf(actual, actual_len, "%s", ifr.ifr_name);
	/* Bring the link up; addresses are the administrator's business. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
			ifr.ifr_flags |= IFF_UP;
			ioctl(s, SIOCSIFFLAGS, &ifr);
		}
		close(s);
	}
	return fd;
}

uint16_t tap_rx(struct sw_port *port, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **pkts, uint16_t n)
{
	uint16_t got = 0;

	while (got < n) {
		struct virtio_net_hdr h;
		struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);
		struct iovec iov[2];
		ssize_t r;

		if (!p)
			break;
		iov[0].iov_base = &h;
		iov[0].iov_len = sizeof(h);
		iov[1].iov_base = vhost_pktbuf_data(p);
		iov[1].iov_len = vhost_pktbuf_tailroom(p);
		r = readv(port->tap_fd, iov, 2);
		if (r <= (ssize_t)sizeof(h) ||
		    (size_t)r - sizeof(h) > iov[1].iov_len) {
			vhost_pktbuf_free(p);
			if (r > 0)
				atomic_fetch_add(&port->rx_drops, 1);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				atomic_fetch_add(&port->rx_drops, 1);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			continue;
		}
		p->data_len = (uint16_t)((size_t)r - sizeof(h));
		p->pkt_len = p->data_len;
		/* Without TUNSETOFFLOAD the kernel sends no partial
		 * checksums or GSO; DATA_VALID is a hint we may keep. */
		if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID)
			p->ol_flags |= VHOST_PKT_F_CSUM_VALID;
		pkts[got++] = p;
	}
	return got;
}

/* The virtio-net header for the kernel from packet metadata (the TAP and
 * NIC uplinks). */
void tap_vnet_hdr(const struct vhost_pktbuf *p, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (p->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = p->csum_start;
		h->csum_offset = p->csum_offset;
	}
	if (p->ol_flags & VHOST_PKT_F_GSO) {
		h->gso_type = p->gso_type == VHOST_GSO_TCPV6 ?
			      VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		if (p->ol_flags & VHOST_PKT_F_GSO_ECN)
			h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		h->gso_size = p->gso_size;
		/* up to the end of the TCP header */
		h->hdr_len = p->csum_start;
		{
			uint8_t doff;

			if (vhost_pktbuf_read(p, (uint32_t)p->csum_start + 12, 1,
					      &doff) == 1)
				h->hdr_len = (uint16_t)(p->csum_start +
							(doff >> 4) * 4u);
		}
	}
}

uint16_t tap_tx(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		uint16_t n)
{
	uint16_t sent = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct vhost_pktbuf *p = pkts[i];
		struct iovec iov[3 + 64];
		struct virtio_net_hdr h;
		uint8_t tag[4];
		int cnt = 1;

		tap_vnet_hdr(p, &h);
		iov[0].iov_base = &h;
		iov[0].iov_len = sizeof(h);
		if (port->pnet.trunk) {
			/* 802.1Q: the network is the VID, after the MACs */
			uint16_t net = pkt_net(p);

			if (p->data_len < 12)
				continue;
			tag[0] = ETH_P_8021Q_ >> 8;
			tag[1] = ETH_P_8021Q_ & 0xff;
			tag[2] = (uint8_t)(net >> 8);
			tag[3] = (uint8_t)net;
			iov[1].iov_base = vhost_pktbuf_data(p);
			iov[1].iov_len = 12;
			iov[2].iov_base = tag;
			iov[2].iov_len = 4;
			iov[3].iov_base = (uint8_t *)vhost_pktbuf_data(p) + 12;
			iov[3].iov_len = p->data_len - 12u;
			cnt = 4;
			/* offsets count from the frame's start: + the tag */
			if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
				h.csum_start = (uint16_t)(h.csum_start + 4);
			if (h.hdr_len)
				h.hdr_len = (uint16_t)(h.hdr_len + 4);
			for (const struct vhost_pktbuf *s = p->next; s && cnt < 67;
			     s = s->next) {
				iov[cnt].iov_base = vhost_pktbuf_data(s);
				iov[cnt++].iov_len = s->data_len;
			}
		} else {
			for (const struct vhost_pktbuf *s = p; s && cnt < 65;
			     s = s->next) {
				iov[cnt].iov_base = vhost_pktbuf_data(s);
				iov[cnt++].iov_len = s->data_len;
			}
		}
		if (p->nb_segs > 64)
			continue; /* would be cut short: dropped */
		if (writev(port->tap_fd, iov, cnt) > 0)
			sent++;
	}
	return sent;
}
