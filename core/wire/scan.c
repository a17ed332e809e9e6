/*
 * scan.c - count the objects of a MessagePack message before unpacking it.
 *
 * msgpack-c builds a 24-byte msgpack_object for every element, and
 * allocates an array's or map's elements from the count its header
 * declares. A small message can therefore cost far more memory than its
 * size (a 64 MiB array of small integers unpacks into about 1.5 GB), and
 * msgpack-c has no limit to set. This scan walks the headers only, with no
 * allocation, and refuses a message that holds too many objects or
 * declares more than its bytes could hold, before msgpack-c sees it.
 * Malformed bytes it cannot make sense of are left for msgpack-c to
 * report.
 */
#include <stdio.h>

#include "wire.h"

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

corral_status wire_scan(const void *buf, size_t len, uint64_t max_objects,
    char *err, size_t errlen)
{
	const unsigned char *p = buf, *end = p + len;
	uint64_t pending = 1, objects = 0;
	while (pending > 0 && p < end) {
		unsigned b = *p++;
		uint64_t skip = 0, children = 0;
		size_t hdr = 0; /* bytes of a length or count after the type */
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool: the type byte is all */
		} else if (b >= 0x80 && b <= 0x8f) {
			children = 2 * (uint64_t)(b & 0x0f);
		} else if (b >= 0x90 && b <= 0x9f) {
			children = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: case 0xd9: hdr = 1; break; /* bin8, str8 */
			case 0xc5: case 0xda: hdr = 2; break;
			case 0xc6: case 0xdb: hdr = 4; break;
			case 0xc7: hdr = 1; skip = 1; break;  /* ext: + type byte */
			case 0xc8: hdr = 2; skip = 1; break;
			case 0xc9: hdr = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break; /* fixext: type + data */
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: case 0xde: hdr = 2; break; /* array16, map16 */
			case 0xdd: case 0xdf: hdr = 4; break;
			default: return CORRAL_OK; /* 0xc1: msgpack-c will say */
			}
			if ((size_t)(end - p) < hdr)
				return CORRAL_OK; /* truncated: msgpack-c will say */
			uint64_t n = be(p, hdr);
			p += hdr;
			if (b == 0xdc || b == 0xdd)
				children = n;
			else if (b == 0xde || b == 0xdf)
				children = 2 * n;
			else if (hdr)
				skip += n;
		}
		objects++;
		pending = pending - 1 + children;
		/* Every value takes at least one byte. */
		if (pending > (uint64_t)(end - p) ||
		    skip > (uint64_t)(end - p)) {
			snprintf(err, errlen,
			    "the message declares more values or bytes than it holds");
			return CORRAL_E_MALFORMED;
		}
		if (objects + pending > max_objects) {
			snprintf(err, errlen,
			    "the message holds over %llu MessagePack values; send "
			    "tensor data as bin, not as arrays",
			    (unsigned long long)max_objects);
			return CORRAL_E_PAYLOAD_TOO_LARGE;
		}
		p += skip;
	}
	return CORRAL_OK;
}
