/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Gives a test file a POSIX access ACL without setfacl: the on-disk form
 * (version 2, entries sorted by tag) written as the system.posix_acl_access
 * attribute, which the kernel checks and applies.
 */

#include <stdint.h>
#include <string.h>
#include <sys/xattr.h>

#define TEST_ACL_USER  0x02
#define TEST_ACL_GROUP 0x08

/*
 * Owner rw, owning group r, others r, plus one named entry (tag
 * TEST_ACL_USER or TEST_ACL_GROUP, id, perm) under a mask of mask_perm.
 * Returns 0, or -1 with errno.
 */
static inline int test_set_acl(const char *path, unsigned tag, uint32_t id, unsigned perm,
			       unsigned mask_perm)
{
	const struct {
		unsigned tag, perm;
		uint32_t id;
	} e[] = {
		{0x01, 6, UINT32_MAX},	       {tag == TEST_ACL_USER ? tag : 0, perm, id},
		{0x04, 4, UINT32_MAX},	       {tag == TEST_ACL_GROUP ? tag : 0, perm, id},
		{0x10, mask_perm, UINT32_MAX}, {0x20, 4, UINT32_MAX},
	};
	unsigned char buf[4 + 8 * 6];
	size_t n = 4;

	memset(buf, 0, sizeof buf);
	buf[0] = 2;
	for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
		if (e[i].tag == 0)
			continue;
		buf[n] = (unsigned char)e[i].tag;
		buf[n + 2] = (unsigned char)e[i].perm;
		for (int k = 0; k < 4; k++)
			buf[n + 4 + k] = (unsigned char)(e[i].id >> (8 * k));
		n += 8;
	}
	return setxattr(path, "system.posix_acl_access", buf, n, 0);
}
