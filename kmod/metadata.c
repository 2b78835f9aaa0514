// SPDX-License-Identifier: GPL-2.0-only
/*
 * CTF 1.8 metadata (TSDL), generated from rewind/format.h. The module serves
 * it itself, so every snapshot is self-describing.
 */
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <linux/uuid.h>
#include <linux/timekeeping.h>
#include "ring.h"

#define REWIND_METADATA_MAX	(64 * 1024)

static const char rewind_tsdl_events[] = REWIND_TSDL_EVENTS;

/* The host's boot_id: the clock's uuid, so readers can tell hosts apart. */
static void rewind_read_boot_id(struct rewind_session *s)
{
	struct file *f;
	loff_t pos = 0;
	char buf[40];
	ssize_t n;
	u8 tmp[16];

	f = filp_open("/proc/sys/kernel/random/boot_id", O_RDONLY, 0);
	if (!IS_ERR(f)) {
		n = kernel_read(f, buf, sizeof(buf) - 1, &pos);
		filp_close(f, NULL);
		if (n >= 36) {
			buf[36] = '\0';
			if (!uuid_parse(buf, (uuid_t *)tmp)) {
				memcpy(s->boot_id, buf, 37);
				return;
			}
		}
	}
	/* No procfs in this context: a random uuid, still unique per boot. */
	generate_random_uuid(tmp);
	snprintf(s->boot_id, sizeof(s->boot_id), "%pUb", tmp);
}

/* realtime - monotonic, from the tightest of a few samples. */
static s64 rewind_measure_offset(void)
{
	s64 best = 0, best_gap = S64_MAX;
	int i;

	for (i = 0; i < 8; i++) {
		u64 m0 = rewind_clock();
		u64 rt = ktime_get_real_ns();
		u64 m1 = rewind_clock();
		s64 gap = m1 - m0;

		if (gap < best_gap) {
			best_gap = gap;
			best = rt - (m0 + gap / 2);
		}
	}
	return best;
}

int rewind_metadata_build(struct rewind_session *s, bool remeasure)
{
	/*
	 * The host's names, not the caller's UTS namespace: in a container
	 * that would be the pod's name. (The nodename can change; it is read
	 * at each build, like the clock offset.)
	 */
	struct new_utsname *uts = init_utsname();
	char host[sizeof(s->hostname)];
	char *buf;
	int n, i;

	/* The name is quoted in TSDL: keep it to characters that need no escape. */
	strscpy(host, s->hostname[0] ? s->hostname : uts->nodename, sizeof(host));
	for (i = 0; host[i]; i++)
		if (!isalnum(host[i]) && !strchr("._-", host[i]))
			host[i] = '_';

	if (!s->boot_id[0])
		rewind_read_boot_id(s);
	if (remeasure || !s->clock_offset_ns)
		s->clock_offset_ns = rewind_measure_offset();
	buf = kvmalloc(REWIND_METADATA_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	n = scnprintf(buf, REWIND_METADATA_MAX,
		      "/* CTF 1.8 */\n\n"
		      REWIND_TSDL_TYPEALIASES
		      "\ntrace {\n"
		      "\tmajor = 1;\n\tminor = 8;\n"
		      "\tuuid = \"%s\";\n"
		      "\tbyte_order = le;\n"
		      "\tpacket.header := struct {\n"
		      "\t\tuint32_t magic;\n"
		      "\t\tuint8_t uuid[16];\n"
		      "\t\tuint32_t stream_id;\n"
		      "\t};\n};\n\n"
		      "env {\n"
		      "\thostname = \"%s\";\n"
		      "\tdomain = \"kernel\";\n"
		      "\tsysname = \"%s\";\n"
		      "\tkernel_release = \"%s\";\n"
		      "\tkernel_version = \"%s\";\n"
		      "\ttracer_name = \"rewind\";\n"
		      "\ttracer_major = %d;\n"
		      "\ttracer_minor = %d;\n"
		      "\trewind_format = %d;\n"
		      "};\n\n"
		      "clock {\n"
		      "\tname = \"monotonic\";\n"
		      "\tuuid = \"%s\";\n"
		      "\tdescription = \"Monotonic Clock\";\n"
		      "\tfreq = 1000000000;\n"
		      "\tprecision = 1;\n"
		      "\toffset_s = %lld;\n"
		      "\toffset = %lld;\n"
		      "\tabsolute = true;\n"
		      "};\n\n"
		      "typealias integer { size = 27; align = 1; signed = false; map = clock.monotonic.value; } := uint27_clock_monotonic_t;\n"
		      "typealias integer { size = 64; align = 8; signed = false; map = clock.monotonic.value; } := uint64_clock_monotonic_t;\n\n"
		      REWIND_TSDL_STREAM
		      "%s",
		      s->uuid_str, host, uts->sysname, uts->release,
		      uts->version, REWIND_ABI_VERSION, 0,
		      REWIND_FORMAT_VERSION, s->boot_id,
		      div_s64(s->clock_offset_ns, NSEC_PER_SEC),
		      (s64)(s->clock_offset_ns -
			    div_s64(s->clock_offset_ns, NSEC_PER_SEC) *
			    NSEC_PER_SEC),
		      rewind_tsdl_events);
	if (n >= REWIND_METADATA_MAX - 1) {
		kvfree(buf);
		return -E2BIG;
	}
	kvfree(s->metadata);
	s->metadata = buf;
	s->metadata_len = n;
	return 0;
}
